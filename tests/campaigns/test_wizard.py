import datetime as dt
import json

import pytest

from audiences.models import Contact, Segment
from campaigns.models import Campaign, MessageTemplate
from connections.models import Connection

NEW = "/campaigns/new/"


@pytest.fixture
def connection(db) -> Connection:
    return Connection.objects.create(
        name="Main OA",
        channel_access_token="t",
        channel_secret="s",
        api_base_url="http://127.0.0.1:9",
        status=Connection.Status.ACTIVE,
    )


@pytest.fixture
def template(db) -> MessageTemplate:
    return MessageTemplate.objects.create(
        name="Hello", messages=[{"type": "text", "text": 'Hi {{ first_name | default: "you" }}'}]
    )


def wizard(connection: Connection, **overrides) -> dict:
    body = {
        "name": "Spring sale",
        "connection": connection.pk,
        "audience_type": "all_following",
        "message_source": "inline",
        "messages_json": json.dumps([{"type": "text", "text": "Sale!"}]),
        "send_mode": "now",
        "schedule_timezone": "UTC",
        "frequency_cap_enabled": "on",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_wizard_creates_a_draft_and_goes_to_its_review(marketer_client, marketer, connection):
    response = marketer_client.post(NEW, wizard(connection))

    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.pk}/review/"
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.name == "Spring sale"
    assert campaign.connection == connection
    assert campaign.audience_type == "all_following"
    assert campaign.messages == [{"type": "text", "text": "Sale!"}]
    assert campaign.created_by == marketer
    assert campaign.frequency_cap_enabled is True
    assert campaign.notification_disabled is False


def test_schedule_in_a_chosen_time_zone_is_stored_in_utc(marketer_client, connection, template):
    body = wizard(
        connection,
        message_source="template",
        template=template.pk,
        messages_json=None,
        audience_type="explicit",
        explicit_ids=f"U{'1' * 32}\nC{'2' * 32}, R{'3' * 32}",
        send_mode="schedule",
        scheduled_at="2099-04-01T09:30",
        send_by="2099-04-01T18:00",
        schedule_timezone="Asia/Tokyo",
        notification_disabled="on",
        frequency_cap_enabled=None,
    )
    response = marketer_client.post(NEW, body)

    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get()
    assert campaign.scheduled_at == dt.datetime(2099, 4, 1, 0, 30, tzinfo=dt.UTC)
    assert campaign.send_by == dt.datetime(2099, 4, 1, 9, 0, tzinfo=dt.UTC)
    assert campaign.schedule_timezone == "Asia/Tokyo"
    assert campaign.explicit_ids == [f"U{'1' * 32}", f"C{'2' * 32}", f"R{'3' * 32}"]
    assert campaign.template == template
    assert campaign.notification_disabled is True
    assert campaign.frequency_cap_enabled is False


def test_missing_answers_are_shown_next_to_their_fields_and_nothing_typed_is_lost(
    marketer_client, connection
):
    body = wizard(
        connection,
        audience_type="segment",
        send_mode="schedule",
        messages_json='[{"type": "text", "text": ""}]',
    )
    response = marketer_client.post(NEW, body)

    html = response.content.decode()
    assert response.status_code == 200
    assert not Campaign.objects.exists()
    assert "Choose a segment." in html
    assert "Choose when to send." in html
    assert "messages[0].text: May not be empty" in html
    assert 'value="Spring sale"' in html
    assert "[{&quot;type&quot;: &quot;text&quot;, &quot;text&quot;: &quot;&quot;}]" in html


def test_a_past_send_time_is_refused(marketer_client, connection):
    body = wizard(connection, send_mode="schedule", scheduled_at="2001-01-01T10:00")
    response = marketer_client.post(NEW, body)
    assert response.status_code == 200
    assert "Choose a time in the future." in response.content.decode()


def test_editing_a_draft_keeps_its_answers_and_saves_changes(marketer_client, connection):
    segment = Segment.objects.create(name="Tokyo", rules={"all": []})
    marketer_client.post(NEW, wizard(connection, audience_type="segment", segment=segment.pk))
    campaign = Campaign.objects.get()

    page = marketer_client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert 'value="Spring sale"' in page
    assert f'<option value="{segment.pk}" selected>' in page

    response = marketer_client.post(
        f"/campaigns/{campaign.pk}/edit/",
        wizard(connection, name="Spring sale v2", audience_type="segment", segment=segment.pk),
    )
    campaign.refresh_from_db()
    assert response.status_code == 302
    assert campaign.name == "Spring sale v2"
    assert campaign.segment == segment


def test_analysts_cannot_open_the_wizard(analyst_client, connection):
    assert analyst_client.get(NEW).status_code == 403
    assert analyst_client.post(NEW, wizard(connection)).status_code == 403
    assert not Campaign.objects.exists()


def test_wizard_says_to_ask_an_admin_when_there_is_no_connection(marketer_client):
    html = marketer_client.get(NEW).content.decode()
    assert "Ask an Admin to add one" in html


def test_time_zone_defaults_to_the_browsers(marketer_client, connection):
    marketer_client.cookies["tz"] = "Europe/Paris"
    html = marketer_client.get(NEW).content.decode()
    assert '<option value="Europe/Paris" selected>' in html


def test_contacts_exist_for_the_review(marketer_client, connection):
    Contact.objects.create(line_id="U" + "a" * 32, follow_status="following")
    marketer_client.post(NEW, wizard(connection))
    campaign = Campaign.objects.get()
    assert marketer_client.get(f"/campaigns/{campaign.pk}/review/").status_code == 200
