"""The overview: campaigns launched in a date range, their totals, accepted per day, top
failure reasons and quota use per connection; every figure links to what it summarises."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from analytics import selectors
from tests.analytics import factories
from tests.analytics.pages import overview_totals


def test_date_range_selects_campaigns_by_launch_day(db, analyst_client):
    conn = factories.connection()
    today = timezone.now()
    recent = factories.campaign(conn, name="Recent", started_at=today - dt.timedelta(days=3))
    old = factories.campaign(conn, name="Old", started_at=today - dt.timedelta(days=40))

    default = analyst_client.get(reverse("analytics_overview")).content.decode()
    assert f'data-campaign="{recent.pk}"' in default
    assert f'data-campaign="{old.pk}"' not in default

    start = (today - dt.timedelta(days=45)).date().isoformat()
    end = (today - dt.timedelta(days=35)).date().isoformat()
    ranged = analyst_client.get(reverse("analytics_overview"), {"start": start, "end": end})
    html = ranged.content.decode()
    assert f'data-campaign="{old.pk}"' in html and f'data-campaign="{recent.pk}"' not in html
    assert overview_totals(html)["sent"] == old.sent


def test_accepted_per_day_adds_up_to_the_sent_total(db):
    conn = factories.connection()
    # Sending across midnight (UTC): the day chart splits it, the sum stays exact.
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    c = factories.campaign(
        conn,
        outcomes=[("sent", "", 200, "", 1, 10)],
        started_at=midnight - dt.timedelta(seconds=2.5),
        seconds_between=1,
    )
    data = selectors.overview(start=midnight.date() - dt.timedelta(days=1), end=midnight.date())
    assert sum(data["daily"].values()) == c.sent == 10
    assert data["daily"] == {
        (midnight - dt.timedelta(days=1)).date().isoformat(): 2,
        midnight.date().isoformat(): 8,
    }


def test_top_failure_reasons_link_to_each_campaigns_filtered_log(db, analyst_client):
    c = factories.campaign(factories.connection(), name="Autumn sale")
    html = analyst_client.get(reverse("analytics_overview")).content.decode()
    top = html.split('id="top-reasons-list"')[1].split("</ul>")[0]
    first = top.split("<li")[1]
    assert "Rate limit" in first  # 3 rate-limited rows: the most frequent reason
    log = reverse("analytics_delivery_log", args=[c.pk])
    assert f"{log}?status=failed&amp;reason=rate_limit" in first


def test_quota_use_counts_this_months_accepted_messages_per_connection(db):
    main = factories.connection("Main")
    other = factories.connection("Other", quota_limit=500, quota_used=42, quota_type="limited")
    now = timezone.now()
    factories.campaign(main, started_at=now - dt.timedelta(minutes=30))
    factories.campaign(other, outcomes=[("sent", "", 200, "", 1, 5)], started_at=now)

    quota = {q["connection"].name: q for q in selectors.quota_use(today=now.date())}

    assert quota["Main"]["sent_this_month"] == 12
    assert quota["Other"]["sent_this_month"] == 5
    assert (quota["Other"]["quota_used"], quota["Other"]["quota_limit"]) == (42, 500)


def test_empty_range_shows_helpful_empty_states(db, analyst_client):
    html = analyst_client.get(reverse("analytics_overview")).content.decode()
    assert "No campaign was launched in this range" in html
    assert 'class="empty-state"' in html
