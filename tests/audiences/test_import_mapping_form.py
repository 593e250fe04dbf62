"""The column mapping of an import: Bootstrap-styled selects, one per attribute column, and the
LINE id column shown as such rather than offered as an attribute it never becomes."""

import re

from django.urls import reverse

from audiences.imports import import_job_create

A = "U" + "a" * 32


def _columns_section(html: str) -> str:
    return html.split("Other columns become attributes", 1)[1].split('class="form-check', 1)[0]


def _job(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(f"line_id,name,plan\n{A},Aki,gold\n")
    return import_job_create(path=str(path), original_name="c.csv", user=None)


def test_each_attribute_type_select_is_a_bootstrap_form_select(marketer_client, tmp_path):
    job = _job(tmp_path)
    html = marketer_client.get(reverse("import_detail", args=[job.pk])).content.decode()
    selects = re.findall(r"<select[^>]*>", _columns_section(html))
    assert selects and all('class="form-select form-select-sm"' in s for s in selects)


def test_the_line_id_column_is_shown_as_such_not_offered_as_an_attribute(marketer_client, tmp_path):
    job = _job(tmp_path)
    html = marketer_client.get(reverse("import_detail", args=[job.pk])).content.decode()
    blocks = dict(
        re.findall(r'data-column="(\w+)">(.*?)\n    </div>', _columns_section(html), re.S)
    )
    assert re.search(r"data-claimed-as[^>]*>LINE id column<", blocks["line_id"])
    assert re.search(r"data-attribute-type hidden>", blocks["line_id"])
    assert re.search(r"data-claimed-as[^>]*hidden>", blocks["plan"])
    assert "data-attribute-type>" in blocks["plan"]


def test_the_claimed_column_follows_the_posted_line_id_choice(marketer_client, tmp_path):
    job = _job(tmp_path)
    # "plan" chosen as the LINE id; an unknown type makes the form come back with the choice.
    response = marketer_client.post(
        reverse("import_detail", args=[job.pk]),
        {"line_id": "plan", "display_name": "", "col_0": "bogus"},
    )
    blocks = dict(
        re.findall(
            r'data-column="(\w+)">(.*?)\n    </div>',
            _columns_section(response.content.decode()),
            re.S,
        )
    )
    assert re.search(r"data-claimed-as[^>]*>LINE id column<", blocks["plan"])
    assert "data-attribute-type>" in blocks["line_id"]
