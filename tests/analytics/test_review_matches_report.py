"""The review states the numbers the report will show: everyone the launch will attempt
(recipients whose personalization will fail included, listed as will-fail), and who is
skipped and why. Launched and sent through the engine against the emulator."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from audiences.models import Contact
from campaigns.models import Campaign, Delivery, FrequencyCap
from campaigns.services import campaign_create, campaign_launch
from tests.analytics.pages import report_figures
from tests.campaigns.engine_support import drain, line_id, make_connection, make_contacts

PERSONAL = [{"type": "text", "text": "Hi {{ first_name }}"}]
NEW_IDS = [line_id(n) for n in (100, 101)]


@pytest.fixture
def audience(db, emulator, marketer):
    """5 contacts with a first name, 2 without, 1 opted out, 1 unfollowed, 1 frequency-capped."""
    connection = make_connection(emulator)
    make_contacts(5)
    make_contacts(2, start=5, attributes=lambda i: {})
    make_contacts(1, start=7, opted_out=True)
    make_contacts(1, start=8, follow_status=Contact.FollowStatus.UNFOLLOWED)
    capped = make_contacts(1, start=9)[0]
    FrequencyCap.objects.create(max_messages=1, days=7)
    earlier = Campaign.objects.create(name="Earlier", connection=connection, status="completed")
    Delivery.objects.create(
        campaign=earlier,
        contact=capped,
        line_id=capped.line_id,
        status=Delivery.Status.SENT,
        finished_at=timezone.now(),
    )
    return connection


def review_numbers(html: str) -> tuple[int, int]:
    expected = int(re.search(r'data-testid="expected-recipients">(\d+)<', html)[1])
    will_fail = re.search(r'data-reason="will_fail"><span[^>]*>(\d+)<', html)
    return expected, int(will_fail[1]) if will_fail else 0


@pytest.mark.parametrize(
    ("audience_type", "explicit_ids", "expected", "will_fail"),
    [
        (Campaign.Audience.ALL_FOLLOWING, [], 7, 2),
        # Two ids are no contact yet: created at launch without a name, so they fail too.
        (Campaign.Audience.EXPLICIT, [line_id(i) for i in range(10)] + NEW_IDS, 9, 4),
    ],
    ids=["all-following", "explicit-with-new-ids"],
)
def test_review_expected_recipients_equal_the_reports_attempted(
    audience, emulator, marketer, marketer_client, audience_type, explicit_ids, expected, will_fail
):
    campaign = campaign_create(
        user=marketer,
        name="Hello",
        connection=audience,
        audience_type=audience_type,
        explicit_ids=explicit_ids,
        messages=PERSONAL,
    )
    review_page = marketer_client.get(f"/campaigns/{campaign.pk}/review/").content.decode()
    assert review_numbers(review_page) == (expected, will_fail)
    skipped_in_review = {
        r: int(n)
        for r, n in re.findall(r'data-reason="(\w+)"><span[^>]*>(\d+)<', review_page)
        if r != "will_fail"
    }

    campaign = drain(campaign_launch(campaign=campaign, user=marketer))
    assert campaign.status == Campaign.Status.COMPLETED
    report = marketer_client.get(f"/api/v1/campaigns/{campaign.pk}/report").json()
    assert report["attempted"] == expected
    assert report["sent"] == expected - will_fail == sum(1 for _ in emulator.messages())
    personalization = [f for f in report["failures"] if f["reason"] == "personalization"]
    assert report["failed"] == sum(f["count"] for f in personalization) == will_fail
    assert {s["reason"]: s["count"] for s in report["skips"]} == skipped_in_review

    page = marketer_client.get(reverse("analytics_campaign_report", args=[campaign.pk]))
    assert report_figures(page.content.decode())["attempted"] == expected


def test_quota_is_checked_for_the_messages_that_will_go_out(audience, emulator, marketer):
    """Will-fail recipients are attempted but cost no quota: 5 will be sent, 5 are enough."""
    from campaigns.selectors import campaign_review

    emulator.configure(monthly_quota=5)
    campaign = campaign_create(
        user=marketer,
        name="Hello",
        connection=audience,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        messages=PERSONAL,
    )
    review = campaign_review(campaign=campaign)
    assert (review["expected_recipients"], review["will_fail"]) == (7, 2)
    assert review["quota"]["needed"] == 5 and review["quota"]["enough"]
    assert not review["problems"]
