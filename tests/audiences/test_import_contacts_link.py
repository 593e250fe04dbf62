"""“See the imported contacts” lists the rows of that import, not every imported contact."""

import pytest
from django.urls import reverse

from audiences.imports import import_job_create, import_run, validate_mapping
from audiences.models import ImportJob

pytestmark = pytest.mark.django_db

A = "U" + "a" * 32
B = "U" + "b" * 32
C = "U" + "c" * 32


def run(tmp_path, name: str, line_ids: list[str]) -> ImportJob:
    path = tmp_path / name
    path.write_text("line_id\n" + "".join(f"{x}\n" for x in line_ids))
    job = import_job_create(path=str(path), original_name=name, user=None)
    job.mapping = validate_mapping(header=job.header, mapping={"line_id": "line_id"})
    job.status = ImportJob.Status.QUEUED
    job.save()
    return import_run(job=job)


def listed(client, url: str) -> set[str]:
    return {c.line_id for c in client.get(url).context["contacts"]}


def test_the_link_lists_that_imports_created_and_updated_rows_only(tmp_path, marketer_client):
    first = run(tmp_path, "first.csv", [A, B])
    second = run(tmp_path, "second.csv", [B, C])  # B updated by the second import
    page = marketer_client.get(reverse("import_detail", args=[second.pk])).content.decode()
    link = f"{reverse('contact_list')}?import_job={second.pk}"
    assert f'href="{link}"' in page
    assert listed(marketer_client, link) == {B, C}
    assert listed(marketer_client, f"{reverse('contact_list')}?import_job={first.pk}") == {A}


def test_the_filtered_list_names_the_import(tmp_path, marketer_client):
    job = run(tmp_path, "spring.csv", [A])
    body = marketer_client.get(reverse("contact_list"), {"import_job": job.pk}).content.decode()
    assert "spring.csv" in body


def test_an_unknown_import_id_says_so(marketer_client):
    body = marketer_client.get(reverse("contact_list"), {"import_job": "999"}).content.decode()
    assert "No import has the id “999”" in body
