import json

import pytest

from campaigns.models import MessageTemplate

URL = "/api/v1/templates"


def post(client, body: dict):
    return client.post(URL, json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_creating_a_template_returns_201_with_its_id(api_client_for, marketer):
    messages = [{"type": "text", "text": 'Hi {{ first_name | default: "there" }}'}]
    response = post(api_client_for(marketer), {"name": "Hello", "messages": messages})

    assert response.status_code == 201
    template = MessageTemplate.objects.get(pk=response.json()["id"])
    assert (template.name, template.messages, template.created_by) == ("Hello", messages, marketer)


@pytest.mark.django_db
def test_invalid_messages_give_422_with_each_problems_property_path(api_client_for, marketer):
    messages = [
        {"type": "text", "text": "fine"},
        {"type": "text", "text": ""},
        {"type": "image", "originalContentUrl": "http://x.test/a.png", "previewImageUrl": "x"},
    ]
    response = post(api_client_for(marketer), {"name": "Bad", "messages": messages})

    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {
        "messages[1].text",
        "messages[2].originalContentUrl",
        "messages[2].previewImageUrl",
    }
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_liquid_syntax_error_gives_422_naming_its_field(api_client_for, marketer):
    messages = [{"type": "text", "text": "ok"}, {"type": "text", "text": "Hi {% if %}"}]
    response = post(api_client_for(marketer), {"name": "Bad", "messages": messages})

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["messages[1].text"]


@pytest.mark.django_db
def test_six_messages_or_a_missing_name_are_refused(api_client_for, marketer):
    client = api_client_for(marketer)
    six = [{"type": "text", "text": str(i)} for i in range(6)]
    assert post(client, {"name": "Six", "messages": six}).json()["errors"][0]["field"] == "messages"
    missing = post(client, {"messages": six[:1]})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "name"


@pytest.mark.django_db
def test_templates_can_be_listed_and_read_by_analysts_but_not_created(api_client_for, analyst):
    template = MessageTemplate.objects.create(name="T", messages=[{"type": "text", "text": "a"}])
    client = api_client_for(analyst)

    listed = client.get(URL)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()] == [template.pk]
    one = client.get(f"{URL}/{template.pk}")
    assert one.json()["messages"] == [{"type": "text", "text": "a"}]
    assert client.get(f"{URL}/{template.pk + 1}").status_code == 404

    refused = post(client, {"name": "X", "messages": [{"type": "text", "text": "x"}]})
    assert refused.status_code == 403
    assert MessageTemplate.objects.count() == 1

    MessageTemplate.objects.create(name="T2", messages=[{"type": "text", "text": "b"}])
    assert len(client.get(URL, {"limit": 1}).json()) == 1
