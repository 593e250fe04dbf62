"""A NUL character (U+0000) anywhere in the input is a 400 naming the field, never a 500.

PostgreSQL stores no NUL in text or jsonb; every case below reached the database before.
"""

import json

import pytest

from audiences.models import Segment
from campaigns.models import MessageTemplate

NUL = "\x00"
RULES = {"all": [{"field": "attributes.city", "op": "eq", "value": "Tokyo"}]}


def with_nul(body: dict, *path) -> dict:
    """A deep copy of `body` with "x<NUL>" at `path`."""
    body = json.loads(json.dumps(body))
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = f"x{NUL}"
    return body


SEGMENT = {"name": "Tokyo", "description": "", "rules": RULES}
TEMPLATE = {"name": "Hello", "messages": [{"type": "text", "text": "Hi"}]}
CAMPAIGN = {
    "name": "Sale",
    "connection": "Main",
    "all_following": True,
    "messages": [{"type": "text", "text": "Hi"}],
}

API_BODIES = [
    ("/api/v1/segments", SEGMENT, ("name",)),
    ("/api/v1/segments", SEGMENT, ("description",)),
    ("/api/v1/segments", SEGMENT, ("rules", "all", 0, "value")),
    ("/api/v1/templates", TEMPLATE, ("name",)),
    ("/api/v1/templates", TEMPLATE, ("messages", 0, "text")),
    ("/api/v1/campaigns", CAMPAIGN, ("name",)),
    ("/api/v1/campaigns", CAMPAIGN, ("connection",)),
    ("/api/v1/campaigns/1/pause", {"reason": ""}, ("reason",)),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, body, path", API_BODIES, ids=[f"{u}:{'.'.join(map(str, p))}" for u, _, p in API_BODIES]
)
def test_a_nul_in_an_api_body_is_a_400_naming_its_path(api_client_for, marketer, url, body, path):
    response = api_client_for(marketer).post(
        url, json.dumps(with_nul(body, *path)), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert "NUL" in error["message"]
    assert not Segment.objects.exists() and not MessageTemplate.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/campaigns?search=a%00", "search"),
        ("/api/v1/campaigns?status=%00", "status"),
        ("/api/v1/contacts/U%00", "path"),
        ("/api/v1/contacts?q=%00", "q"),
    ],
)
def test_a_nul_in_an_api_query_or_path_is_a_400_naming_it(api_client_for, analyst, url, field):
    response = api_client_for(analyst).get(url)
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == [
        {"field": field, "message": "must not contain the NUL character (U+0000)"}
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, field",
    [
        ("/campaigns/?search=a%00", "search"),
        ("/campaigns/?status=%00", "status"),
        ("/campaigns/templates/?search=%00", "search"),
        ("/audiences/contacts/?q=%00", "q"),
    ],
)
def test_a_nul_in_a_pages_query_is_the_error_page_naming_it(marketer_client, url, field):
    response = marketer_client.get(url)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"{field} must not contain the NUL character" in html
    assert "<nav" in html  # the product's page, not a bare error


@pytest.mark.django_db
def test_a_nul_in_a_form_field_is_refused_before_anything_is_saved(marketer_client):
    segment = {"name": f"Tokyo{NUL}", "description": "", "rules_json": json.dumps(RULES)}
    response = marketer_client.post("/audiences/segments/new/", segment)
    assert response.status_code == 400
    assert "name must not contain the NUL character" in response.content.decode()

    template = {"name": "Hi", "editor_mode": "form", "message_count": "1", "action": "save"}
    template |= {"m-0-type": "text", "m-0-text": f"Hi{NUL}"}
    response = marketer_client.post("/campaigns/templates/new/", template)
    assert response.status_code == 400
    assert "m-0-text must not contain" in response.content.decode()
    assert not Segment.objects.exists() and not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_an_escaped_nul_in_json_typed_into_a_form_is_a_form_error(marketer_client):
    messages = json.dumps([{"type": "text", "text": f"Hi{NUL}"}])
    assert "\\u0000" in messages
    body = {"name": "Hi", "editor_mode": "json", "messages_json": messages, "action": "save"}
    response = marketer_client.post("/campaigns/templates/new/", body)
    assert response.status_code == 200
    assert "[0].text must not contain the NUL character" in response.content.decode()
    assert not MessageTemplate.objects.exists()

    rules = json.dumps({"all": [{"field": "attributes.city", "op": "eq", "value": NUL}]})
    builder = {"action": "apply-json", "rules_json": rules}
    response = marketer_client.post("/audiences/segments/builder/", builder)
    assert response.status_code == 200
    assert "all[0].value must not contain the NUL character" in response.content.decode()


@pytest.mark.django_db
def test_webhook_bodies_are_not_refused_here(client):
    body = json.dumps({"destination": "U" + "0" * 32, "events": [], "note": NUL})
    response = client.post("/webhooks/line/no-such-slug/", body, content_type="application/json")
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_nul_in_an_attribute_key_is_named_escaped(api_client_for, marketer):
    body = json.dumps({"attributes": {f"k{NUL}": 1}})
    response = api_client_for(marketer).put(
        "/api/v1/contacts/U" + "0" * 32, body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "attributes.k\\u0000"
