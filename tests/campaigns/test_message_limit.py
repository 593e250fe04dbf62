"""At five messages the editor says why no more can be added, and a sixth is refused in the
same words wherever it comes from: the editor, its JSON view, the API, a campaign."""

import json

import pytest

from campaigns.models import Campaign, MessageTemplate
from tests.campaigns.test_templates import NEW, cards

LIMIT = "LINE allows at most 5 messages per send."
TEXT = {"type": "text", "text": "Hi"}

pytestmark = pytest.mark.django_db


def add_button(html: str) -> str:
    start = html.index('value="add"')
    return html[html.rfind("<button", 0, start) : html.index("</button>", start)]


def test_at_five_messages_the_add_button_is_disabled_and_says_why(marketer_client):
    four = marketer_client.post(NEW, cards(*[TEXT] * 4, action="add")).content.decode()
    assert "disabled" in add_button(four)
    assert LIMIT in four
    assert four.count('name="m-4-type"') == 1

    three = marketer_client.post(NEW, cards(*[TEXT] * 3, action="add")).content.decode()
    assert "disabled" not in add_button(three)
    assert LIMIT not in three


def test_adding_a_sixth_card_is_refused_with_the_reason(marketer_client):
    html = marketer_client.post(NEW, cards(*[TEXT] * 5, action="add")).content.decode()
    assert LIMIT in html
    assert 'name="m-5-type"' not in html
    assert html.count('name="m-4-type"') == 1


def test_saving_six_messages_in_json_is_refused_with_the_reason(marketer_client):
    six = json.dumps([TEXT] * 6)
    body = {"name": "Six", "editor_mode": "json", "messages_json": six, "action": "save"}
    html = marketer_client.post(NEW, body).content.decode()
    assert LIMIT in html
    assert not MessageTemplate.objects.exists()


def test_six_messages_in_json_stay_in_json_rather_than_losing_one(marketer_client):
    six = [{"type": "text", "text": f"m{i}"} for i in range(6)]
    body = {"name": "Six", "editor_mode": "json", "messages_json": json.dumps(six)}
    html = marketer_client.post(NEW, {**body, "action": "form"}).content.decode()
    assert LIMIT in html
    assert 'name="messages_json"' in html
    assert "m5" in html


def test_the_api_refuses_six_messages_with_the_reason(marketer, api_client_for):
    api = api_client_for(marketer)
    response = api.post(
        "/api/v1/templates",
        {"name": "Six", "messages": [TEXT] * 6},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert {"field": "messages", "message": LIMIT} in response.json()["errors"]


def test_a_campaign_with_six_messages_is_refused_with_the_reason(
    marketer, api_client_for, connection
):
    response = api_client_for(marketer).post(
        "/api/v1/campaigns",
        {
            "name": "Six",
            "connection": connection.pk,
            "all_following": True,
            "messages": [TEXT] * 6,
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert LIMIT in response.json()["errors"][0]["message"]
    assert not Campaign.objects.exists()
