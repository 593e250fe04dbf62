"""Frequency cap: at most N campaign messages per contact in D days; capped contacts are
skipped with that reason, shown in the review before launch."""

import pytest

from campaigns.models import Campaign, Delivery
from campaigns.selectors import campaign_review
from campaigns.services import campaign_create, campaign_launch, frequency_cap_set
from kit.models import AuditEntry
from tests.campaigns.engine_support import (
    drain,
    fast_engine,  # noqa: F401
    launch,
    ledger,
    line_id,
    make_connection,
    make_contacts,
)

HELLO = [{"type": "text", "text": "News for {{ first_name }}"}]

pytestmark = pytest.mark.usefixtures("fast_engine")


def test_capped_contacts_are_skipped_with_the_reason(emulator, marketer, admin_user):
    connection = make_connection(emulator)
    frequency_cap_set(user=admin_user, max_messages=1, days=7)
    assert AuditEntry.objects.filter(action="campaign.frequency_cap").exists()
    make_contacts(3)
    drain(launch(marketer, connection, messages=HELLO))
    make_contacts(2, start=3)
    emulator.reset()

    second = campaign_create(
        user=marketer,
        name="Second",
        connection=connection,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        messages=HELLO,
    )
    review = campaign_review(campaign=second)
    assert review["skipped"]["frequency_cap"] == 3
    assert review["expected_recipients"] == 2
    second = drain(launch(marketer, connection, messages=HELLO))

    capped = Delivery.objects.filter(campaign=second, status="skipped", reason="frequency_cap")
    assert capped.count() == 3
    assert set(ledger(emulator)) == {line_id(3), line_id(4)}


def test_a_campaign_may_ignore_the_cap(emulator, marketer, admin_user):
    connection = make_connection(emulator)
    frequency_cap_set(user=admin_user, max_messages=1, days=7)
    make_contacts(2)
    drain(launch(marketer, connection, messages=HELLO))
    emulator.reset()
    urgent = drain(launch(marketer, connection, messages=HELLO, frequency_cap_enabled=False))
    assert urgent.sent == 2 and urgent.skipped == 0
    assert sum(ledger(emulator).values()) == 2


def test_review_counts_missing_attributes_without_a_default(emulator, marketer):
    connection = make_connection(emulator)
    make_contacts(3)
    make_contacts(2, start=3, attributes=lambda i: {"city": "Osaka"})
    campaign = campaign_create(
        user=marketer,
        name="Review",
        connection=connection,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        messages=[{"type": "text", "text": 'Hi {{ first_name }} {{ city | default: "" }}'}],
    )
    review = campaign_review(campaign=campaign)
    assert review["will_fail"] == 2
    assert review["expected_recipients"] == 5
    assert review["missing_variables"] == ["first_name"]
    assert review["send_mode"] == "push"
    assert review["quota"]["enough"] is True


def test_campaign_pages_say_which_frequency_cap_applies(
    emulator, marketer, admin_user, marketer_client
):
    connection = make_connection(emulator)
    make_contacts(2)
    draft = campaign_create(
        user=marketer,
        name="Draft",
        connection=connection,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        messages=HELLO,
    )
    unlimited = launch(marketer, connection, messages=HELLO, frequency_cap_enabled=False)

    def label(campaign: Campaign, page: str = "") -> str:
        html = marketer_client.get(f"/campaigns/{campaign.pk}/{page}").content.decode()
        return html.split('data-testid="frequency-cap">')[1].split("<")[0]

    assert label(draft) == label(draft, "review/") == "Frequency cap: none set"
    assert label(unlimited) == "Frequency cap: off for this campaign"

    frequency_cap_set(user=admin_user, max_messages=2, days=7)
    assert label(draft) == label(draft, "review/") == "Frequency cap: at most 2 in 7 days"
    sent = drain(campaign_launch(campaign=draft, user=marketer))

    # A launched campaign keeps the cap that chose its recipients.
    frequency_cap_set(user=admin_user, max_messages=None, days=7)
    assert label(sent) == "Frequency cap: at most 2 in 7 days"
    frequency_cap_set(user=admin_user, max_messages=1, days=1)
    assert label(sent) == "Frequency cap: at most 2 in 7 days"
