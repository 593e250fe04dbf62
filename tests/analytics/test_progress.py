"""While a campaign sends, the report shows progress and the send rate, polled by htmx only
while the tab is visible, and stops polling once the campaign is finished."""

from django.core.cache import cache
from django.urls import reverse

from analytics import selectors
from campaigns.models import Campaign
from tests.analytics import factories


def _sending(conn):
    return factories.campaign(
        conn,
        status="sending",
        outcomes=[
            ("sent", "", 200, "", 1, 30),
            ("sending", "", None, "", 1, 10),
            ("pending", "", None, "", 0, 60),
        ],
    )


def test_sending_campaign_polls_while_visible_and_shows_progress(db, analyst_client):
    c = _sending(factories.connection())
    html = analyst_client.get(reverse("analytics_campaign_report", args=[c.pk])).content.decode()
    # Polls every 2 s; app.js skips the request while the tab is hidden (data-poll-visible).
    assert 'hx-trigger="every 2s" data-poll-visible' in html
    assert 'data-width="30.0"' in html
    assert "30 of 100 recipients done (30.0%)" in html


def test_send_rate_comes_from_the_counter_over_time(db, analyst_client):
    c = _sending(factories.connection())
    url = reverse("analytics_campaign_progress", args=[c.pk])
    analyst_client.get(url)
    Campaign.objects.filter(pk=c.pk).update(sent=60, attempted=60)
    # Pretend the first sample (30 sent) was taken 10 s ago.
    key = f"analytics:rate:{c.pk}"
    (taken_at, sent), *_ = cache.get(key)
    cache.set(key, [(taken_at - 10, sent)])
    c.refresh_from_db()
    assert round(selectors.send_rate(c)) == 3  # 30 more accepted over 10 s


def test_finished_campaign_does_not_poll(db, analyst_client):
    c = factories.campaign(factories.connection())
    html = analyst_client.get(reverse("analytics_campaign_report", args=[c.pk])).content.decode()
    assert "hx-trigger" not in html


def test_polling_page_reloads_when_the_campaign_finishes(db, analyst_client):
    c = _sending(factories.connection())
    url = reverse("analytics_campaign_progress", args=[c.pk])
    assert b"hx-trigger" in analyst_client.get(url, {"live": 1}).content
    Campaign.objects.filter(pk=c.pk).update(status="completed")
    response = analyst_client.get(url, {"live": 1})
    assert response.headers["HX-Refresh"] == "true"
