"""Editing a scheduled campaign: its frozen messages follow the edit, "send now" makes it a draft
again, and a campaign without messages never starts sending."""

import datetime
import json

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Delivery, MessageTemplate
from campaigns.services import (
    CampaignError,
    campaign_create,
    campaign_launch,
    campaign_update,
    campaigns_start_due,
)
from tests.campaigns.engine_support import (
    counters,
    drain,
    fast_engine,  # noqa: F401
    launch,
    ledger,
    line_id,
    make_contacts,
    row_counts,
)

HELLO = [{"type": "text", "text": 'Hi {{ first_name | default: "there" }}'}]

pytestmark = pytest.mark.usefixtures("fast_engine")


@pytest.fixture
def template(db) -> MessageTemplate:
    return MessageTemplate.objects.create(name="Hello", messages=HELLO)


def scheduled_from_template(user, connection, template) -> Campaign:
    campaign = campaign_create(
        user=user,
        name="Spring sale",
        connection=connection,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        template=template,
        scheduled_at=timezone.now() + datetime.timedelta(hours=2),
    )
    return campaign_launch(campaign=campaign, user=user)


def edit_form(campaign: Campaign, template: MessageTemplate, **overrides) -> dict:
    body = {
        "name": "Spring sale, edited",
        "connection": campaign.connection_id,
        "audience_type": "all_following",
        "message_source": "template",
        "template": template.pk,
        "send_mode": "schedule",
        "scheduled_at": (timezone.now() + datetime.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "schedule_timezone": "UTC",
        "frequency_cap_enabled": "on",
    }
    body.update(overrides)
    return body


def test_editing_a_scheduled_template_campaign_keeps_messages_and_it_sends_to_everyone(
    emulator, connection, template, marketer, marketer_client
):
    make_contacts(4)
    campaign = scheduled_from_template(marketer, connection, template)
    assert campaign.status == Campaign.Status.SCHEDULED

    response = marketer_client.post(
        f"/campaigns/{campaign.pk}/edit/", edit_form(campaign, template)
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert campaign.name == "Spring sale, edited"
    assert campaign.messages == HELLO

    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    assert campaigns_start_due()["started"] == 1
    campaign = drain(campaign)
    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(4)}
    assert campaign.sent == 4 and campaign.failed == 0
    assert counters(campaign) == row_counts(campaign)


def test_editing_a_scheduled_campaign_to_another_template_freezes_the_new_messages(
    connection, template, marketer
):
    make_contacts(1)
    campaign = scheduled_from_template(marketer, connection, template)
    other = MessageTemplate.objects.create(name="Bye", messages=[{"type": "text", "text": "Bye"}])

    campaign_update(campaign=campaign, user=marketer, template=other)
    campaign.refresh_from_db()
    assert campaign.messages == [{"type": "text", "text": "Bye"}]
    assert campaign.status == Campaign.Status.SCHEDULED


def test_a_scheduled_campaign_edited_to_send_now_is_a_draft_again(
    emulator, connection, template, marketer, marketer_client
):
    make_contacts(2)
    campaign = scheduled_from_template(marketer, connection, template)

    response = marketer_client.post(
        f"/campaigns/{campaign.pk}/edit/",
        edit_form(campaign, template, send_mode="now", scheduled_at=""),
        follow=True,
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.scheduled_at is None
    assert "a draft again" in response.content.decode()

    campaign = drain(campaign_launch(campaign=campaign, user=marketer))
    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(2)}


def test_a_past_send_time_is_refused_by_the_service_and_the_api(
    connection, template, marketer, api_client_for
):
    make_contacts(1)
    past = timezone.now() - datetime.timedelta(minutes=5)
    campaign = scheduled_from_template(marketer, connection, template)
    with pytest.raises(CampaignError) as refused:
        campaign_update(campaign=campaign, user=marketer, scheduled_at=past)
    assert refused.value.field == "scheduled_at"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED and campaign.scheduled_at > past

    response = api_client_for(marketer).post(
        "/api/v1/campaigns",
        json.dumps(
            {
                "name": "Late",
                "connection": connection.pk,
                "all_following": True,
                "template": template.pk,
                "scheduled_at": past.isoformat(),
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "scheduled_at"
    assert Campaign.objects.count() == 1


def test_a_campaign_without_messages_pauses_at_start_and_sends_nothing(
    emulator, connection, marketer
):
    make_contacts(3)
    campaign = launch(marketer, connection, messages=HELLO)
    Campaign.objects.filter(pk=campaign.pk).update(messages=[])

    campaign = drain(campaign)
    assert campaign.status == Campaign.Status.PAUSED
    assert "no messages" in campaign.pause_reason
    assert not Delivery.objects.filter(campaign=campaign).exists()
    assert ledger(emulator) == {}
