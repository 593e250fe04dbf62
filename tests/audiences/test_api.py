import json

import pytest
from django.test import Client

from audiences.models import Contact, Segment
from tests.audiences.factories import contact, line_id

pytestmark = pytest.mark.django_db

JSON = "application/json"


def put(client: Client, lid: str, body: dict):
    return client.put(f"/api/v1/contacts/{lid}", json.dumps(body), content_type=JSON)


def post(client: Client, path: str, body: dict):
    return client.post(f"/api/v1{path}", json.dumps(body), content_type=JSON)


@pytest.fixture
def writer(api_client_for, marketer) -> Client:
    return api_client_for(marketer)


@pytest.fixture
def reader(api_client_for, analyst) -> Client:
    return api_client_for(analyst)


def test_put_creates_then_updates_a_contact(writer):
    lid = line_id()
    first = put(writer, lid, {"display_name": "Aki", "attributes": {"plan": "gold"}})
    assert first.status_code == 201
    assert first.json()["attributes"] == {"plan": "gold"} and first.json()["kind"] == "user"
    second = put(writer, lid, {"attributes": {"age": 30}, "opted_out": True})
    assert second.status_code == 200
    body = second.json()
    assert body["attributes"] == {"plan": "gold", "age": 30} and body["opted_out"] is True
    assert writer.get(f"/api/v1/contacts/{lid}").json()["display_name"] == "Aki"


def test_put_with_external_id_merges_an_anonymous_contact(writer):
    known = contact(external_id="crm-7", attributes={"plan": "gold"})
    anon = contact(source="webhook", attributes={"lang": "ja"})
    response = put(writer, anon.line_id, {"external_id": "crm-7"})
    assert response.status_code == 200
    assert response.json()["attributes"] == {"plan": "gold", "lang": "ja"}
    assert Contact.objects.get().pk == known.pk


def test_invalid_input_is_a_400_naming_the_field(writer):
    response = put(writer, "U123", {})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "line_id", "message": response.json()["errors"][0]["message"]}
    ]
    response = put(writer, line_id(), {"attributes": ["a"]})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "attributes"


def test_get_and_delete_answer_404_for_unknown_contacts(writer):
    assert writer.get(f"/api/v1/contacts/{line_id()}").status_code == 404
    existing = contact()
    assert writer.delete(f"/api/v1/contacts/{existing.line_id}").status_code == 204
    assert not Contact.objects.filter(pk=existing.pk).exists()
    assert writer.delete(f"/api/v1/contacts/{existing.line_id}").status_code == 404


def test_bulk_upsert_reports_created_updated_and_rejected(writer):
    existing = contact()
    response = post(
        writer,
        "/contacts/bulk",
        {
            "contacts": [
                {"line_id": existing.line_id, "attributes": {"a": 1}},
                {"line_id": line_id()},
                {"line_id": "bad"},
                "not an object",
            ]
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"]) == (1, 1)
    assert [(r["index"], r["line_id"]) for r in body["rejected"]] == [(2, "bad"), (3, None)]


def test_bulk_upsert_refuses_more_than_ten_thousand(writer):
    items = [{"line_id": "x"}] * 10_001
    response = post(writer, "/contacts/bulk", {"contacts": items})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "contacts"


def test_segments_create_get_count_and_list_contacts(writer):
    contact(attributes={"plan": "gold"}, follow_status="following")
    contact(attributes={"plan": "gold"}, follow_status="unfollowed")
    contact(attributes={"plan": "silver"}, follow_status="following")
    rules = {"all": [{"field": "attributes.plan", "op": "eq", "value": "gold"}]}
    created = post(writer, "/segments", {"name": "Gold", "rules": rules})
    assert created.status_code == 201
    seg_id = created.json()["id"]
    assert writer.get(f"/api/v1/segments/{seg_id}").json()["rules"] == rules
    assert writer.get(f"/api/v1/segments/{seg_id}/count").json() == {
        "count": 2,
        "expected_recipients": 1,
    }
    page = writer.get(f"/api/v1/contacts?segment={seg_id}&page=1").json()
    assert len(page["items"]) == 2 and page["has_next"] is False
    assert writer.get("/api/v1/segments/999999").status_code == 404


def test_bad_rules_are_a_422_naming_the_field(writer):
    rules = {"all": [{"field": "attributes.age", "op": "between", "value": 3}]}
    response = post(writer, "/segments", {"name": "x", "rules": rules})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "rules.all[0].op"
    assert "between" in response.json()["errors"][0]["message"]
    assert not Segment.objects.exists()


def test_analysts_read_but_cannot_write(reader):
    existing = contact()
    assert reader.get(f"/api/v1/contacts/{existing.line_id}").status_code == 200
    assert reader.get("/api/v1/contacts").status_code == 200
    assert put(reader, line_id(), {}).status_code == 403
    assert reader.delete(f"/api/v1/contacts/{existing.line_id}").status_code == 403
    assert post(reader, "/contacts/bulk", {"contacts": []}).status_code == 403
    assert post(reader, "/segments", {"name": "x", "rules": {"all": []}}).status_code == 403
    assert Contact.objects.count() == 1 and not Segment.objects.exists()


def test_admins_write(api_client_for, admin_user):
    assert put(api_client_for(admin_user), line_id(), {}).status_code == 201


def test_anonymous_requests_are_a_401():
    response = Client().get("/api/v1/contacts")
    assert response.status_code == 401 and "detail" in response.json()


def test_openapi_documents_the_rule_format(marketer_client):
    schema = marketer_client.get("/api/v1/openapi.json").json()
    assert "/api/v1/contacts/{line_id}" in schema["paths"]
    assert "within_last" in json.dumps(schema["components"]["schemas"]["SegmentIn"])


def test_bulk_items_are_checked_as_put_checks_its_body(writer):
    good, named = line_id(), line_id()
    items = [
        {"line_id": line_id(), "opted_out": "x"},
        {"line_id": line_id(), "display_name": 42},
        {"line_id": line_id(), "display_name": "x" * 256},
        {"line_id": line_id(), "external_id": ""},
        {"line_id": line_id(), "external_id": "e" * 256},
        {"line_id": line_id(), "opted_out": "true"},  # a string, not JSON's true
        {"line_id": good, "opted_out": True, "attributes": {"plan": "gold"}},
        {"line_id": named, "display_name": "Aki"},
    ]
    response = post(writer, "/contacts/bulk", {"contacts": items})
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"]) == (2, 0)
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert sorted(reasons) == [0, 1, 2, 3, 4, 5]
    for index, field in enumerate(["opted_out", "display_name", "display_name", "external_id"]):
        assert reasons[index].startswith(f"{field}: ")
        body = {k: v for k, v in items[index].items() if k != "line_id"}
        single = put(writer, items[index]["line_id"], body)
        assert single.status_code == 400 and single.json()["errors"][0]["field"] == field
    assert "255" in reasons[2] and "255" in reasons[4]
    assert Contact.objects.get(line_id=good).opted_out is True
    assert Contact.objects.get(line_id=named).display_name == "Aki"
    assert Contact.objects.count() == 2


def test_bulk_takes_ten_thousand_contacts_with_a_kilobyte_of_attributes_each(writer):
    attributes = {f"k{i}": "v" * 90 for i in range(10)}  # about 1 KB as JSON
    items = [{"line_id": f"U{i:032x}", "attributes": attributes} for i in range(1, 10_001)]
    body = json.dumps({"contacts": items})
    assert len(body) > 10 * 1024 * 1024  # over Django's default limit
    response = writer.post("/api/v1/contacts/bulk", body, content_type=JSON)
    assert response.status_code == 200, response.content[:300]
    assert (response.json()["created"], response.json()["rejected"]) == (10_000, [])
    assert Contact.objects.count() == 10_000


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/contacts/bulk"), ("put", f"/contacts/{line_id()}"), ("post", "/segments")],
)
def test_a_body_over_the_upload_limit_is_a_json_413_naming_the_limit(
    writer, settings, method, path
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps({"name": "x" * 4096, "contacts": [], "rules": {"all": []}})
    response = getattr(writer, method)(f"/api/v1{path}", body, content_type=JSON)
    assert response.status_code == 413
    error = response.json()
    assert "2,048 bytes" in error["detail"] and error["errors"][0]["field"] == "body"
    assert not Contact.objects.exists() and not Segment.objects.exists()


def test_identify_under_a_new_line_id_keeps_the_old_one_findable_and_audited(writer, marketer):
    from kit.models import AuditEntry

    known = contact(external_id="crm-9", attributes={"plan": "gold"})
    old, new = known.line_id, line_id()
    response = put(writer, new, {"external_id": "crm-9"})
    assert response.status_code == 200
    assert response.json()["line_id"] == new and response.json()["merged_line_ids"] == [old]
    by_old = writer.get(f"/api/v1/contacts/{old}")
    assert by_old.status_code == 200 and by_old.json()["line_id"] == new
    assert by_old.json()["attributes"] == {"plan": "gold"}
    entry = AuditEntry.objects.get(action="contact.line_id_change")
    assert entry.details == {"previous_line_id": old, "line_id": new}
    assert entry.actor == marketer and entry.target_id == str(known.pk)
    assert writer.get(f"/api/v1/contacts/{line_id()}").status_code == 404


def test_nul_characters_are_rejected_per_item_not_for_the_whole_batch(writer):
    # PostgreSQL cannot store U+0000: refused by the check, not by the database mid-batch.
    fine = line_id()
    items = [
        {"line_id": line_id(), "display_name": "a\u0000b"},
        {"line_id": line_id(), "attributes": {"note": ["x\u0000"]}},
        {"line_id": fine, "attributes": {"note": "ok"}},
    ]
    body = post(writer, "/contacts/bulk", {"contacts": items}).json()
    assert [(r["index"], r["reason"].split(":")[0]) for r in body["rejected"]] == [
        (0, "display_name"),
        (1, "attributes"),
    ]
    assert list(Contact.objects.values_list("line_id", flat=True)) == [fine]
    assert put(writer, line_id(), {"attributes": {"k\u0000": 1}}).status_code == 400


def test_unknown_fields_are_refused_not_dropped(writer):
    lid = line_id()
    response = put(writer, lid, {"display_name": "Aki", "follow_status": "following"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "follow_status"
    assert not Contact.objects.filter(line_id=lid).exists()
    bulk = post(writer, "/contacts/bulk", {"contacts": [{"line_id": lid, "plan": "gold"}]})
    assert bulk.status_code == 200
    assert bulk.json()["created"] == 0
    assert "plan" in bulk.json()["rejected"][0]["reason"]


def test_a_rule_number_beyond_the_limit_is_refused_at_save_naming_its_path(writer):
    rules = {"any": [{"field": "attributes.points", "op": "gt", "value": 10**20}]}
    response = post(writer, "/segments", {"name": "huge", "rules": rules})
    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == "rules.any[0].value"
    assert "limited to" in error["message"]
    assert not Segment.objects.exists()


LIMIT_CASES = [
    ({f"k{i}": i for i in range(201)}, "attributes", "at most 200 keys"),
    ({"k" * 101: 1}, "attributes", "longer than 100 characters"),
    ({"bio": "x" * 4097}, "attributes.bio", "larger than 4,096 bytes"),
    ({"tags": ["abcdefghij"] * 400}, "attributes.tags", "larger than 4,096 bytes"),
]


@pytest.mark.parametrize(("attributes", "field", "message"), LIMIT_CASES)
def test_attributes_beyond_the_limits_are_a_422_naming_the_key(writer, attributes, field, message):
    response = put(writer, line_id(), {"attributes": attributes})
    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == field and message in error["message"]
    assert not Contact.objects.exists()


@pytest.mark.parametrize(("attributes", "field", "message"), LIMIT_CASES)
def test_bulk_rejects_only_the_item_beyond_the_limits(writer, attributes, field, message):
    bad, good = line_id(), line_id()
    items = [{"line_id": bad, "attributes": attributes}, {"line_id": good}]
    body = post(writer, "/contacts/bulk", {"contacts": items}).json()
    assert body["created"] == 1
    [rejected] = body["rejected"]
    assert rejected["index"] == 0 and rejected["reason"].startswith(f"{field}: ")
    assert message in rejected["reason"]
    assert list(Contact.objects.values_list("line_id", flat=True)) == [good]


def test_the_limits_allow_what_they_name_and_count_keys_after_the_merge(writer):
    lid, full = line_id(), {f"k{i}": "v" * 600 for i in range(200)}
    assert put(writer, lid, {"attributes": full, "external_id": "e1"}).status_code == 201
    response = put(writer, lid, {"attributes": {"one_more": 1}, "external_id": "e1"})
    assert response.status_code == 422
    assert "would have 201 keys" in response.json()["errors"][0]["message"]
    swap = {"k0": None, "one_more": 1}
    assert put(writer, lid, {"attributes": swap, "external_id": "e1"}).status_code == 200
