"""The delivery log: keyset pages in id order, filters, and no count over the whole table."""

import re

from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics import presentation
from analytics.forms import DeliveryFilterForm
from campaigns.models import Delivery
from tests.analytics import factories
from tests.analytics.pages import report_figures


def _page(client, campaign, **params):
    response = client.get(reverse("analytics_delivery_log", args=[campaign.pk]), params)
    assert response.status_code == 200
    return response


def test_keyset_pages_walk_every_row_once_in_id_order(db, analyst_client):
    c = factories.campaign(factories.connection(), outcomes=[("sent", "", 200, "", 1, 120)])
    seen, after = [], None
    while True:
        response = _page(analyst_client, c, **({"after": after} if after else {}))
        seen += [d.id for d in response.context["rows"]]
        after = response.context["next_after"]
        if after is None:
            break
    expected = list(Delivery.objects.filter(campaign=c).order_by("id").values_list("id", flat=True))
    assert seen == expected
    assert len(seen) == 120


def test_a_page_does_not_count_the_rows(db, analyst_client):
    c = factories.campaign(factories.connection(), outcomes=[("sent", "", 200, "", 1, 60)])
    with CaptureQueriesContext(db_connection) as queries:
        _page(analyst_client, c, status="sent")
    delivery_queries = [q["sql"] for q in queries if "campaigns_delivery" in q["sql"]]
    assert delivery_queries
    assert not any("COUNT(" in sql.upper() for sql in delivery_queries)
    assert all("LIMIT 51" in sql for sql in delivery_queries)


def test_filters_by_status_reason_http_status_and_line_id(db, analyst_client):
    c = factories.campaign(factories.connection())
    failed = _page(analyst_client, c, status="failed").context["rows"]
    assert len(failed) == 12 and {d.status for d in failed} == {"failed"}

    timeouts = _page(analyst_client, c, status="failed", reason="timeout").context["rows"]
    assert [d.reason for d in timeouts] == ["timeout"]

    no_answer = _page(analyst_client, c, status="failed", http_status="0").context["rows"]
    assert {d.reason for d in no_answer} == {
        "timeout",
        "connection_error",
        "unknown_outcome",
        "personalization",
    }

    skipped = _page(analyst_client, c, status="skipped", reason="opted_out").context["rows"]
    assert len(skipped) == 1

    target = Delivery.objects.filter(campaign=c, reason="not_found").get()
    by_id = _page(analyst_client, c, line_id=target.line_id).context["rows"]
    assert [d.pk for d in by_id] == [target.pk]
    by_prefix = _page(analyst_client, c, line_id=target.line_id[:31]).context["rows"]
    assert target.pk in [d.pk for d in by_prefix]


def test_empty_result_shows_an_empty_state(db, analyst_client):
    c = factories.campaign(factories.connection())
    response = _page(analyst_client, c, status="sent", reason="timeout")
    assert b"No delivery matches these filters." in response.content


def test_a_filter_that_is_not_understood_is_shown_and_matches_nothing(db, analyst_client):
    c = factories.campaign(factories.connection())
    response = _page(analyst_client, c, reason="no_such_reason")
    assert response.context["rows"] == []
    assert b"is-invalid" in response.content


# Codes the engine writes that no table of its own lists: a cancel or a send-by deadline skips
# what was never attempted, an unanswered request past LINE's 24 h fails as unknown_outcome,
# a placeholder without a value fails as personalization.
STOP_AND_ENGINE_CODES = {"cancelled", "expired", "unknown_outcome", "personalization"}


def _reasons_the_engine_writes() -> set[str]:
    """The engine's error → reason table, the snapshot's skip reasons, the codes above, and any
    code written as a literal in the campaigns app (`reason="…"`, `.failed("…"`)."""
    from pathlib import Path

    from campaigns.engine import retry, snapshot

    codes = {reason for _, reason in retry.REASONS} | STOP_AND_ENGINE_CODES
    codes |= {snapshot.SKIP_UNFOLLOWED, snapshot.SKIP_OPTED_OUT, snapshot.SKIP_FREQUENCY_CAP}
    literal = re.compile(r'reason="(\w+)"|\.failed\(\s*"(\w+)"|NOT_SENT, "(\w+)"')
    for path in Path(retry.__file__).parents[1].rglob("*.py"):
        for groups in literal.findall(path.read_text()):
            codes |= {g for g in groups if g}
    return codes


def test_every_reason_the_engine_writes_has_a_label_and_a_filter():
    codes = _reasons_the_engine_writes()
    assert codes <= set(presentation.REASON_LABELS)
    assert codes <= {value for value, _ in DeliveryFilterForm.base_fields["reason"].choices}


def test_rows_a_cancel_left_are_not_sent_apart_from_skips_and_their_link_filters(
    db, analyst_client
):
    c = factories.campaign(
        factories.connection(),
        status="cancelled",
        outcomes=[
            ("sent", "", 200, "", 1, 2),
            ("not_sent", "cancelled", None, "", 0, 3),
            ("skipped", "opted_out", None, "", 0, 1),
        ],
    )
    report = analyst_client.get(reverse("analytics_campaign_report", args=[c.pk])).content.decode()
    skips = report.split('id="skip-reasons"')[1].split("</ul>")[0]
    assert "Opted out" in skips and "Cancelled" not in skips
    assert report_figures(report)["not_sent"] == 3 and report_figures(report)["skipped"] == 1
    assert "Not sent (cancelled)" in report
    link = re.search(r'id="figure-not_sent" href="([^"]+)"', report).group(1).replace("&amp;", "&")

    log = analyst_client.get(link)
    assert not log.context["form"].errors
    assert [d.reason for d in log.context["rows"]] == ["cancelled"] * 3
    assert b"Cancelled before sending" in log.content
