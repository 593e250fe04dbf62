"""LINE's open and click statistics: fetched per aggregation unit from the insight API,
within 60 requests an hour per channel, for 14 days after sending."""

import asyncio
import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics import services
from analytics.models import CampaignInsight, InsightCall
from lineapi import LineClient
from tests.analytics import factories

LINK = {
    "type": "template",
    "altText": "Sale",
    "template": {
        "type": "buttons",
        "text": "Autumn sale",
        "actions": [{"type": "uri", "label": "Shop", "uri": "https://shop.example/sale"}],
    },
}


def _send_to_emulator(emulator, unit: str, recipients: int) -> None:
    """What the engine does for a campaign with an aggregation unit, straight to the emulator."""

    async def send() -> None:
        async with LineClient(token=emulator.token, base_url=emulator.base_url) as client:
            await client.multicast(
                to=[factories.line_id(i) for i in range(recipients)],
                messages=[LINK],
                retry_key=str(uuid.uuid4()),
                custom_aggregation_units=[unit],
            )

    asyncio.run(send())


@pytest.fixture
def conn(db, emulator):
    return factories.connection(api_base_url=emulator.base_url)


def _completed(conn, unit: str, finished_days_ago: float = 0.1, **kw):
    started = timezone.now() - dt.timedelta(days=finished_days_ago, minutes=5)
    return factories.campaign(conn, aggregation_unit=unit, started_at=started, **kw)


def test_sync_stores_opens_and_clicks_and_the_report_shows_them(conn, emulator, analyst_client):
    _send_to_emulator(emulator, "autumn_sale", 200)
    campaign = _completed(conn, "autumn_sale")

    assert services.line_statistics_sync() == 1

    insight = CampaignInsight.objects.get(campaign=campaign)
    assert insight.fetched_at is not None
    assert insight.unique_impression == 124  # the emulator's figures for 200 recipients
    assert insight.unique_click == 36
    assert insight.url_clicks == [
        {"seq": 1, "url": "https://shop.example/sale", "click": 44, "unique_click": 36}
    ]
    page = analyst_client.get(reverse("analytics_campaign_report", args=[campaign.pk]))
    html = page.content.decode()
    assert "https://shop.example/sale" in html
    assert "Last fetched" in html
    api = analyst_client.get(f"/api/v1/campaigns/{campaign.pk}/report").json()
    assert api["line_statistics"]["unique_impression"] == 124


def test_values_line_hides_show_as_fewer_than_20(conn, emulator, analyst_client):
    _send_to_emulator(emulator, "tiny_test", 10)
    campaign = _completed(conn, "tiny_test")

    services.line_statistics_sync()

    insight = CampaignInsight.objects.get(campaign=campaign)
    assert insight.fetched_at is not None
    assert insight.unique_impression is None and insight.unique_click is None
    page = analyst_client.get(reverse("analytics_campaign_report", args=[campaign.pk]))
    assert page.content.decode().count("fewer than 20 (hidden by LINE)") >= 2


def test_no_more_than_60_insight_requests_an_hour_per_connection(conn, emulator):
    for i in range(3):
        _completed(conn, f"unit_{i}")
    now = timezone.now()
    InsightCall.objects.bulk_create(
        InsightCall(connection=conn, called_at=now - dt.timedelta(minutes=m)) for m in range(59)
    )

    assert services.line_statistics_sync() == 1
    assert services.line_statistics_sync() == 0
    assert CampaignInsight.objects.filter(fetched_at__isnull=False).count() == 1


def test_calls_older_than_an_hour_free_the_budget_again(conn, emulator):
    _completed(conn, "unit_a")
    long_ago = timezone.now() - dt.timedelta(minutes=61)
    InsightCall.objects.bulk_create(
        InsightCall(connection=conn, called_at=long_ago) for _ in range(60)
    )
    assert services.line_statistics_sync() == 1


def test_only_campaigns_finished_within_14_days_with_a_unit_are_fetched(conn, emulator):
    _completed(conn, "recent_unit", finished_days_ago=2)
    _completed(conn, "old_unit", finished_days_ago=15)
    _completed(conn, "", name="No unit")
    factories.campaign(conn, aggregation_unit="still_sending", status="sending")

    assert services.line_statistics_sync() == 1
    fetched = CampaignInsight.objects.get()
    assert fetched.campaign.aggregation_unit == "recent_unit"


def test_never_fetched_campaigns_come_first_then_the_oldest_fetch(conn, emulator):
    fresh = _completed(conn, "fresh_unit")
    stale = _completed(conn, "stale_unit")
    newer = _completed(conn, "newer_unit")
    now = timezone.now()
    CampaignInsight.objects.create(campaign=stale, fetched_at=now - dt.timedelta(hours=5))
    CampaignInsight.objects.create(campaign=newer, fetched_at=now - dt.timedelta(hours=2))

    due = services.insight_due_campaigns(conn, now)

    assert due == [fresh, stale, newer]


def test_a_refused_request_is_recorded_and_shown(conn, emulator, analyst_client):
    emulator.configure(token="another-token")
    campaign = _completed(conn, "autumn_sale")

    services.line_statistics_sync()

    insight = CampaignInsight.objects.get(campaign=campaign)
    assert insight.fetched_at is None and "401" in insight.last_error
    page = analyst_client.get(reverse("analytics_campaign_report", args=[campaign.pk]))
    assert b"Last attempt failed" in page.content


def test_cancelled_and_expired_campaigns_that_sent_are_fetched_too(conn, emulator, analyst_client):
    """A campaign stopped part-way still has accepted messages whose opens LINE counts."""
    some_sent = [("sent", "", 200, "", 1, 3), ("not_sent", "cancelled", None, "", 0, 2)]
    none_sent = [("not_sent", "cancelled", None, "", 0, 2)]
    cancelled = _completed(conn, "cancelled_unit", status="cancelled", outcomes=some_sent)
    expired = _completed(conn, "expired_unit", status="expired", outcomes=some_sent)
    nothing = _completed(conn, "nothing_unit", status="cancelled", outcomes=none_sent)

    page = analyst_client.get(reverse("analytics_campaign_report", args=[cancelled.pk]))
    assert b"Figures arrive within the hour after the campaign finishes." in page.content

    assert services.line_statistics_sync() == 2
    fetched = set(CampaignInsight.objects.filter(fetched_at__isnull=False).values_list("campaign"))
    assert fetched == {(cancelled.pk,), (expired.pk,)}
    page = analyst_client.get(reverse("analytics_campaign_report", args=[nothing.pk]))
    assert b"LINE accepted no message of this campaign" in page.content
