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


def test_bad_rules_are_a_400_naming_the_field(writer):
    rules = {"all": [{"field": "attributes.age", "op": "between", "value": 3}]}
    response = post(writer, "/segments", {"name": "x", "rules": rules})
    assert response.status_code == 400
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
