"""The overview: campaigns launched in a date range, their totals, accepted per day, top
failure reasons and quota use per connection; every figure links to what it summarises."""

import calendar
import datetime as dt
import zoneinfo

from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics import presentation, selectors
from campaigns.models import Campaign
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


def test_days_beyond_today_or_before_2000_are_clamped_not_a_500(db, analyst_client):
    conn = factories.connection()
    recent = factories.campaign(conn, name="Recent", started_at=timezone.now())
    wide = {"start": "0001-01-01", "end": "9999-12-31"}
    response = analyst_client.get(reverse("analytics_overview"), wide)
    assert response.status_code == 200
    assert (response.context["start"], response.context["end"]) == (
        dt.date(2000, 1, 1),
        timezone.localdate(),
    )
    assert f'data-campaign="{recent.pk}"' in response.content.decode()


def test_empty_range_shows_helpful_empty_states(db, analyst_client):
    html = analyst_client.get(reverse("analytics_overview")).content.decode()
    assert "No campaign was launched in this range" in html
    assert 'class="empty-state"' in html


JST = zoneinfo.ZoneInfo("Asia/Tokyo")
IST = zoneinfo.ZoneInfo("Asia/Kolkata")  # UTC+5:30: its midnight falls inside a UTC hour


def test_a_jst_user_sees_a_campaign_sent_at_00_30_jst_on_that_jst_day(db, analyst_client):
    day = timezone.now().astimezone(JST).date() - dt.timedelta(days=1)
    sent_at = dt.datetime.combine(day, dt.time(0, 30), tzinfo=JST)  # 15:30 UTC the day before
    c = factories.campaign(factories.connection(), name="Early bird", started_at=sent_at)
    one_day = {"start": day.isoformat(), "end": day.isoformat()}

    analyst_client.cookies["tz"] = "Asia/Tokyo"
    response = analyst_client.get(reverse("analytics_overview"), one_day)
    html = response.content.decode()
    assert f'data-campaign="{c.pk}"' in html
    assert "(days in the time zone Asia/Tokyo)" in html
    assert response.context["daily"] == {day.isoformat(): c.sent}
    assert overview_totals(html)["sent"] == c.sent
    default = analyst_client.get(reverse("analytics_overview"))
    assert default.context["end"] == timezone.now().astimezone(JST).date()

    analyst_client.cookies["tz"] = "UTC"
    html = analyst_client.get(reverse("analytics_overview"), one_day).content.decode()
    assert f'data-campaign="{c.pk}"' not in html


def test_this_months_quota_use_counts_the_viewers_days(db):
    """Sent at 00:30 JST on the 1st: this month for a JST viewer, last month in UTC."""
    first = timezone.now().astimezone(JST).date().replace(day=1) - dt.timedelta(days=1)
    first = first.replace(day=1)  # the 1st of last month, in the past wherever the test runs
    sent_at = dt.datetime.combine(first, dt.time(0, 30), tzinfo=JST)
    factories.campaign(factories.connection("Main"), started_at=sent_at)
    last_day = first.replace(day=calendar.monthrange(first.year, first.month)[1])

    with timezone.override(JST):
        assert selectors.quota_use(today=last_day)[0]["sent_this_month"] == 12
    with timezone.override(dt.UTC):
        assert selectors.quota_use(today=last_day)[0]["sent_this_month"] == 0


def test_per_day_counts_are_exact_in_zones_whose_midnight_splits_an_hour(db):
    """A campaign sending for days is kept per hour; an hour that holds a local midnight is
    counted over the rows, the others come from the kept timeline without a query."""
    day = timezone.now().date() - dt.timedelta(days=2)
    at = dt.datetime.combine(day, dt.time(18, 0), tzinfo=dt.UTC)
    c = factories.campaign(
        factories.connection(),
        outcomes=[("sent", "", 200, "", 1, 3)],
        started_at=at,
        seconds_between=20 * 60,  # 18:20, 18:40, 19:00 UTC = 23:50, 00:10, 00:30 in India
    )
    Campaign.objects.filter(pk=c.pk).update(started_at=at - dt.timedelta(days=3))
    report = selectors.campaign_report(campaign=Campaign.objects.get(pk=c.pk))
    assert report.bucket_seconds == 3600 and report.settled

    next_day = (day + dt.timedelta(days=1)).isoformat()
    with CaptureQueriesContext(db_connection) as queries:
        assert selectors.accepted_per_day(report, JST) == {next_day: 3}
        assert selectors.accepted_per_day(report, dt.UTC) == {day.isoformat(): 3}
    assert not queries
    assert selectors.accepted_per_day(report, IST) == {day.isoformat(): 1, next_day: 2}


def _last_month() -> dt.date:
    return timezone.localdate().replace(day=1) - dt.timedelta(days=1)


def test_quota_chart_adds_up_each_connections_days_with_its_limit(db):
    month_end = _last_month()
    main = factories.connection("Main")
    other = factories.connection("Other", quota_limit=500, quota_used=42, quota_type="limited")

    def sent_on(conn, day: int, count: int) -> None:
        at = dt.datetime.combine(month_end.replace(day=day), dt.time(9), tzinfo=dt.UTC)
        factories.campaign(conn, outcomes=[("sent", "", 200, "", 1, count)], started_at=at)

    sent_on(main, 3, 5)
    sent_on(main, 10, 12)
    sent_on(other, 10, 4)

    quota = selectors.quota_use(today=month_end)
    chart = presentation.quota_chart(quota, today=month_end)

    assert chart["labels"][0] == month_end.replace(day=1).isoformat()
    assert chart["labels"][-1] == month_end.isoformat()
    lines = {c["name"]: c for c in chart["connections"]}
    assert lines["Main"]["cumulative"][:11] == [0, 0, 5, 5, 5, 5, 5, 5, 5, 17, 17]
    assert lines["Other"]["cumulative"][8:11] == [0, 4, 4]
    by_name = {q["connection"].name: q for q in quota}
    for name in ("Main", "Other"):
        assert lines[name]["cumulative"][-1] == by_name[name]["sent_this_month"]
    assert (lines["Main"]["limit"], lines["Other"]["limit"]) == (None, 500)

    mid_month = presentation.quota_chart(quota, today=month_end.replace(day=15))
    main_line = mid_month["connections"][0]["cumulative"]
    assert main_line[14] == 17 and set(main_line[15:]) == {None}


def test_overview_draws_the_quota_chart_as_lines_per_connection(db, analyst_client):
    factories.campaign(factories.connection("Main"), started_at=timezone.now())
    response = analyst_client.get(reverse("analytics_overview"))
    chart = response.context["quota_chart"]
    assert [c["name"] for c in chart["connections"]] == ["Main"]
    assert chart["connections"][0]["cumulative"][timezone.localdate().day - 1] == 12
    assert 'data-chart="quota"' in response.content.decode()
