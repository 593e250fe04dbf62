import csv
import io

import pytest
from django.core.management import CommandError, call_command

from audiences.imports import import_job_create, import_run, inspect_file, validate_mapping
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
        f"U{'A' * 32},36,e".encode(),  # row 8: upper-case hex
        f"{ok[0]},37,dup".encode(),  # row 9: duplicate of row 2: an update
        b"",
        f"{ok[3]},38,".encode() + b"x" * 20_000,  # row 10: huge field
        f"{ok[4]},39,f".encode(),  # row 11: fine
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
    assert [int(r["row"]) for r in rows] == [3, 4, 5, 6, 7, 8, 10]
    assert rows[0]["value"] == "not-a-line-id" and "line_id" in rows[0]["reason"]
    assert rows[1]["value"] == "abc" and "not a number" in rows[1]["reason"]
    assert "2 fields" in rows[2]["reason"] and "4 fields" in rows[3]["reason"]
    assert "UTF-8" in rows[4]["reason"]
    assert "longer than" in rows[6]["reason"]
    assert attrs(ok[0]) == {"age": 37, "name": "dup"}
    assert attrs(ok[4]) == {"age": 39, "name": "f"}
    assert set(Contact.objects.values_list("line_id", flat=True)) == {ok[0], ok[4]}


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
