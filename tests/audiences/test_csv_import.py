import csv
import io

import pytest
from django.core.management import CommandError, call_command

from audiences.imports import (
    ImportFileError,
    import_job_create,
    import_run,
    inspect_file,
    validate_mapping,
)
from audiences.models import AttributeKey, Contact, ImportJob
from tests.audiences.factories import contact

pytestmark = pytest.mark.django_db

A = "U" + "a" * 32
B = "U" + "b" * 32
C = "C" + "c" * 32
D = "R" + "d" * 32


def run(tmp_path, data: bytes, attributes=None, replace=False, line_id="line_id", name=""):
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)
    job = import_job_create(path=str(path), original_name="contacts.csv", user=None)
    if attributes is None:
        attributes = {h: "text" for h in job.header if h not in (line_id, name)}
    job.mapping = validate_mapping(
        header=job.header,
        mapping={"line_id": line_id, "display_name": name, "attributes": attributes},
    )
    job.replace_attributes = replace
    job.status = ImportJob.Status.QUEUED
    job.save()
    return import_run(job=job)


def report_rows(job: ImportJob) -> list[dict]:
    with open(job.error_report.path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def attrs(line_id: str) -> dict:
    return Contact.objects.get(line_id=line_id).attributes


def test_valid_rows_land_with_typed_attributes(tmp_path):
    data = (
        "line_id,name,age,vip,joined,city\n"
        f"{A},Aki,34,yes,2024/5/1,Tokyo\n"
        f"{C},Team,,no,2023-12-31,\n"
    ).encode()
    job = run(
        tmp_path,
        data,
        {"age": "number", "vip": "boolean", "joined": "date", "city": "text"},
        name="name",
    )
    assert (job.status, job.created, job.updated, job.rejected) == ("completed", 2, 0, 0)
    aki = Contact.objects.get(line_id=A)
    assert aki.display_name == "Aki" and aki.source == "import" and aki.kind == "user"
    assert aki.attributes == {"age": 34, "vip": True, "joined": "2024-05-01", "city": "Tokyo"}
    assert attrs(C) == {"vip": False, "joined": "2023-12-31"}  # empty cells set nothing
    assert Contact.objects.get(line_id=C).kind == "group"
    assert dict(AttributeKey.objects.values_list("key", "type"))["age"] == "number"
    assert not job.error_report


def test_upsert_merges_attributes_unless_replace_is_chosen(tmp_path):
    contact(line_id=A, attributes={"plan": "gold", "city": "Osaka"}, display_name="Keep")
    job = run(tmp_path, f"line_id,city\n{A},Tokyo\n".encode())
    assert (job.created, job.updated) == (0, 1)
    assert attrs(A) == {"plan": "gold", "city": "Tokyo"}
    assert Contact.objects.get(line_id=A).display_name == "Keep"
    run(tmp_path, f"line_id,city\n{A},Kyoto\n".encode(), replace=True)
    assert attrs(A) == {"city": "Kyoto"}


def test_shift_jis_tabs_and_excel_line_endings(tmp_path):
    data = f"line_id\tname\tcity\r\n{A}\t山田\t東京都\r\n{B}\t佐藤\t大阪\r\n".encode("cp932")
    job = run(tmp_path, data, name="name")
    assert job.encoding == "cp932" and job.delimiter == "\t"
    assert (job.created, job.rejected) == (2, 0)
    assert Contact.objects.get(line_id=A).display_name == "山田"
    assert attrs(B) == {"city": "大阪"}


def test_utf8_with_bom_and_quoted_fields(tmp_path):
    data = (f'\ufeffline_id,note\n{A},"hello, ""world""\nsecond line"\n').encode()
    job = run(tmp_path, data)
    assert job.encoding == "utf-8-sig" and job.header == ["line_id", "note"]
    assert attrs(A) == {"note": 'hello, "world"\nsecond line'}


def test_broken_rows_are_rejected_alone_and_reported(tmp_path):
    ok = [f"U{i:032x}" for i in range(1, 6)]
    lines = [
        b"line_id,age,name",
        f"{ok[0]},30,a".encode(),
        b"not-a-line-id,31,b",  # row 3: invalid id
        f"{ok[1]},abc,c".encode(),  # row 4: not a number
        f"{ok[2]},33".encode(),  # row 5: ragged (too few)
        f"{ok[3]},34,d,extra".encode(),  # row 6: ragged (too many)
        f"{ok[4]},35,".encode() + "名".encode() + b"\xff\xfe",  # row 7: bad bytes
        f"X{'a' * 32},36,e".encode(),  # row 8: no such kind (upper case is fine: see case test)
        f"{ok[0]},37,dup".encode(),  # row 9: duplicate of row 2: an update
        b"",  # row 10: blank, still a row in a spreadsheet
        f"{ok[3]},38,".encode() + b"x" * 20_000,  # row 11: huge field
        f"{ok[4]},39,f".encode(),  # row 12: fine
    ]
    job = run(tmp_path, b"\n".join(lines) + b"\n", {"age": "number", "name": "text"})
    assert (job.status, job.rows_read, job.created, job.updated, job.rejected) == (
        "completed",
        10,
        2,
        1,
        7,
    )
    rows = report_rows(job)
    assert [int(r["row"]) for r in rows] == [3, 4, 5, 6, 7, 8, 11]
    assert rows[0]["value"] == "not-a-line-id" and "line_id" in rows[0]["reason"]
    assert rows[1]["value"] == "abc" and "not a number" in rows[1]["reason"]
    assert "2 fields" in rows[2]["reason"] and "4 fields" in rows[3]["reason"]
    assert "UTF-8" in rows[4]["reason"]
    assert "longer than" in rows[6]["reason"]
    assert attrs(ok[0]) == {"age": 37, "name": "dup"}
    assert attrs(ok[4]) == {"age": 39, "name": "f"}
    assert set(Contact.objects.values_list("line_id", flat=True)) == {ok[0], ok[4]}


def test_the_error_report_neutralises_cells_a_spreadsheet_would_run(tmp_path):
    lines = [
        "line_id,age",
        '=HYPERLINK("http://evil"),1',
        "@SUM(A1),2",
        "-2+3,3",
        f"{A},=1+2",
    ]
    job = run(tmp_path, "\n".join(lines).encode() + b"\n", {"age": "number"})
    assert job.rejected == 4
    values = [r["value"] for r in report_rows(job)]
    assert values == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)", "'-2+3", "'=1+2"]
    with open(job.error_report.path, encoding="utf-8-sig", newline="") as f:
        for cells in list(csv.reader(f))[1:]:
            assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_a_value_over_4_kb_is_rejected_naming_the_key_and_other_rows_land(tmp_path):
    data = f"line_id,bio\n{A},{'x' * 5000}\n{B},short\n".encode()
    job = run(tmp_path, data)
    assert (job.created, job.rejected) == (1, 1)
    [row] = report_rows(job)
    assert row["row"] == "2" and row["reason"].startswith("attributes.bio: ")
    assert "4,096 bytes" in row["reason"]
    assert attrs(B) == {"bio": "short"}


def test_a_mapping_beyond_the_attribute_limits_is_refused():
    many = [f"c{i}" for i in range(201)]
    with pytest.raises(ImportFileError, match="At most 200 attribute columns"):
        validate_mapping(
            header=["line_id", *many],
            mapping={"line_id": "line_id", "attributes": dict.fromkeys(many, "text")},
        )
    long = "k" * 101
    with pytest.raises(ImportFileError, match="at most 100 characters"):
        validate_mapping(
            header=["line_id", long], mapping={"line_id": "line_id", "attributes": {long: "text"}}
        )


def test_runaway_quoted_field_is_rejected_and_later_rows_still_land(tmp_path):
    import audiences.imports as imports

    runaway = "x" * (imports.MAX_FIELD_CHARS + 10)
    body = f'line_id,note\n{A},fine\n{B},"{runaway}\n{C},after\n{D},last\n'
    job = run(tmp_path, body.encode())
    assert job.status == "completed"
    assert job.rejected >= 1 and "unreadable" in report_rows(job)[0]["reason"]
    assert attrs(A) == {"note": "fine"}
    assert attrs(D) == {"note": "last"}
    assert not Contact.objects.filter(line_id=B).exists()


def test_missing_line_id_column_fails_with_a_clear_message(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"id,name\n1,x\n")
    job = import_job_create(path=str(path), original_name="c.csv", user=None)
    with pytest.raises(ValueError, match="no column 'line_id'"):
        validate_mapping(header=job.header, mapping={"line_id": "line_id", "attributes": {}})


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        inspect_file(str(path))


def test_many_rows_span_several_chunks(tmp_path, monkeypatch):
    import audiences.imports as imports

    monkeypatch.setattr(imports, "CHUNK_ROWS", 7)
    buffer = io.StringIO()
    buffer.write("line_id,n\n")
    for i in range(1, 51):
        buffer.write(f"U{i:032x},{i}\n")
    buffer.write("bad,1\n")
    job = run(tmp_path, buffer.getvalue().encode(), {"n": "number"})
    assert (job.created, job.rejected, job.rows_read) == (50, 1, 51)
    assert job.progress_percent == 100
    assert Contact.objects.filter(attributes__n=50).count() == 1


def test_import_runs_once_even_if_queued_twice(tmp_path):
    job = run(tmp_path, f"line_id\n{A}\n".encode())
    again = import_run(job=job)
    assert again.status == "completed" and again.created == 1


def test_shell_command_prints_counts_and_report_path(tmp_path, capsys):
    path = tmp_path / "in.csv"
    path.write_text(f"lid,score\n{A},5\n{B},x\n")
    call_command("import_contacts", str(path), "--line-id-column", "lid", "--type", "score=number")
    out = capsys.readouterr().out
    assert "created 1, updated 0, rejected 1" in out
    assert "error report:" in out
    assert attrs(A) == {"score": 5}


def test_shell_command_names_a_missing_column(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f"id\n{A}\n")
    with pytest.raises(CommandError, match="no column 'line_id'"):
        call_command("import_contacts", str(path))


def test_a_file_gone_before_the_run_fails_the_job_with_a_message(tmp_path):
    path = tmp_path / "gone.csv"
    path.write_text(f"line_id\n{A}\n")
    job = import_job_create(path=str(path), original_name="gone.csv", user=None)
    job.status = ImportJob.Status.QUEUED
    job.save()
    path.unlink()
    job = import_run(job=job)
    assert job.status == "failed" and "gone.csv" in job.error_message
    assert not Contact.objects.exists()


def test_an_import_whose_worker_died_is_requeued_and_finishes(
    tmp_path, eager_celery, django_capture_on_commit_callbacks
):
    import datetime

    from django.utils import timezone

    from audiences.imports import imports_requeue_stale

    path = tmp_path / "c.csv"
    path.write_text(f"line_id,plan\n{A},gold\n{B},silver\n")
    job = import_job_create(path=str(path), original_name="c.csv", user=None)
    job.mapping = validate_mapping(
        header=job.header, mapping={"line_id": "line_id", "attributes": {"plan": "text"}}
    )
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", heartbeat_at=an_hour_ago, rows_read=1, mapping=job.mapping
    )
    fresh = import_job_create(path=str(path), original_name="c.csv", user=None)
    ImportJob.objects.filter(pk=fresh.pk).update(status="running", heartbeat_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert imports_requeue_stale() == 1
    job.refresh_from_db()
    assert (job.status, job.rows_read, job.created) == ("completed", 2, 2)
    assert ImportJob.objects.get(pk=fresh.pk).status == "running"


def test_report_rows_match_spreadsheet_rows_after_blank_lines(tmp_path):
    data = f"line_id,n\r\n\r\n{A},1\r\n\r\n\r\nbad,2\r\n{B},x\r\n".encode()
    job = run(tmp_path, data, {"n": "number"})
    assert [int(r["row"]) for r in report_rows(job)] == [6, 7]
    assert (job.rows_read, job.created, job.rejected) == (3, 1, 2)


def test_column_types_are_inferred_from_the_first_rows():
    from audiences.imports import infer_column_type as infer

    assert infer(["34", "-2", "1.5", ""]) == "number"
    assert infer(["0901234567", "0312"]) == "text"  # phone numbers and codes keep their zeros
    assert infer(["yes", "No", "TRUE", "0"]) == "boolean"
    assert infer(["1", "0"]) == "number"
    assert infer(["2024-05-01", "2024/5/1", "2023/12/31"]) == "date"
    assert infer(["2024-05-01", "soon"]) == "text"
    assert infer(["20240501"]) == "number"
    assert infer(["", " "]) == "text"


def test_upload_proposes_inferred_types_and_the_display_name_column(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        f"LINE ID,Display Name,age,vip,joined,city,zip\n"
        f"{A},Aki,34,yes,2024/05/01,Tokyo,0600001\n"
        f"{B},Ben,,no,2024-06-30,Osaka,1500001\n"
    )
    job = import_job_create(path=str(path), original_name="c.csv", user=None)
    assert job.mapping == {
        "line_id": "LINE ID",
        "display_name": "Display Name",
        "attributes": {
            "age": "number",
            "vip": "boolean",
            "joined": "date",
            "city": "text",
            "zip": "text",
        },
    }


@pytest.mark.parametrize("name", ["display_name", "DisplayName", "Name", "表示名"])
def test_the_display_name_column_is_guessed_by_its_name(tmp_path, name):
    path = tmp_path / "c.csv"
    path.write_text(f"line_id,{name},plan\n{A},Aki,gold\n", encoding="utf-8")
    job = import_job_create(path=str(path), original_name="c.csv", user=None)
    assert job.mapping["display_name"] == name and job.mapping["attributes"] == {"plan": "text"}
    call_command("import_contacts", str(path))
    assert Contact.objects.get(line_id=A).display_name == "Aki"
    assert attrs(A) == {"plan": "gold"}


def test_a_known_attribute_keeps_its_type_unless_the_import_chooses_another(tmp_path):
    AttributeKey.objects.create(key="age", type="number")
    AttributeKey.objects.create(key="code", type="text")
    path = tmp_path / "c.csv"
    path.write_text(f"line_id,age,code\n{A},34,17\n{B},41,18\n")
    job = import_job_create(path=str(path), original_name="c.csv", user=None)
    # "code" looks like a number, but the catalogue knows it as text: that is the proposal.
    assert job.mapping["attributes"] == {"age": "number", "code": "text"}
    call_command("import_contacts", str(path))
    assert attrs(A) == {"age": 34, "code": "17"}
    catalogue = dict(AttributeKey.objects.values_list("key", "type"))
    assert catalogue == {"age": "number", "code": "text"}
    call_command("import_contacts", str(path), "--type", "code=number")
    assert dict(AttributeKey.objects.values_list("key", "type"))["code"] == "number"


def test_a_value_of_another_type_does_not_change_a_known_type():
    from audiences.services import contact_upsert

    AttributeKey.objects.create(key="age", type="number")
    contact_upsert(line_id=A, attributes={"age": "thirty", "city": "Tokyo"})
    assert dict(AttributeKey.objects.values_list("key", "type")) == {
        "age": "number",
        "city": "text",
    }


def test_the_mapping_form_starts_at_inferred_and_known_types(marketer_client, tmp_path):
    from django.urls import reverse

    AttributeKey.objects.create(key="score", type="text")
    path = tmp_path / "c.csv"
    path.write_text(f"line_id,name,age,score\n{A},Aki,34,9\n")
    job = import_job_create(path=str(path), original_name="c.csv", user=None)
    response = marketer_client.get(reverse("import_detail", args=[job.pk]))
    form = response.context["form"]
    initial = {f.label: f.initial for f, _ in form.column_fields()}
    assert initial == {"line_id": "", "name": "", "age": "number", "score": "text"}
    assert form["display_name"].value() == "name"
    assert "Known attribute: text" in response.content.decode()


def test_shift_jis_after_a_long_ascii_start_is_detected(tmp_path):
    import audiences.imports as imports

    ascii_rows = "".join(f"U{i:032x},plain\n" for i in range(1, 3000))
    assert len(ascii_rows) > imports.SAMPLE_BYTES
    data = f"line_id,name\n{ascii_rows}{A},山田花子\n".encode("cp932")
    job = run(tmp_path, data, name="name")
    assert job.encoding == "cp932"
    assert (job.created, job.rejected) == (3000, 0)
    assert Contact.objects.get(line_id=A).display_name == "山田花子"


def test_a_file_ascii_throughout_reads_as_utf8(tmp_path):
    data = ("line_id,name\n" + "".join(f"U{i:032x},x\n" for i in range(1, 3000))).encode()
    assert run(tmp_path, data, name="name").encoding == "utf-8"
