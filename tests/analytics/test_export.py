"""CSV export of the delivery log: streamed, complete, safe to open in a spreadsheet."""

import pytest
from django.db import connection as db_connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audiences.models import Contact
from campaigns.models import Delivery
from kit.models import AuditEntry
from kit.spreadsheet import neutralise
from tests.analytics import factories
from tests.analytics.pages import csv_rows


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised(db, analyst_client):
    c = factories.campaign(
        factories.connection(),
        outcomes=[
            ("failed", "invalid_request", 400, '=HYPERLINK("http://evil.example")', 1, 1),
            ("failed", "invalid_request", 400, "+1+2", 1, 1),
            ("failed", "invalid_request", 400, "-2+3", 1, 1),
            ("failed", "invalid_request", 400, "@SUM(A1)", 1, 1),
            ("failed", "invalid_request", 400, "A plain message", 1, 1),
        ],
    )
    response = analyst_client.get(reverse("analytics_delivery_export", args=[c.pk]))
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    messages = [r["error_message"] for r in csv_rows(response)]
    assert messages == [
        '\'=HYPERLINK("http://evil.example")',
        "'+1+2",
        "'-2+3",
        "'@SUM(A1)",
        "A plain message",
    ]


def test_export_has_the_documented_columns_and_every_row(db, analyst_client):
    c = factories.campaign(factories.connection())
    rows = csv_rows(analyst_client.get(f"/api/v1/campaigns/{c.pk}/deliveries.csv"))
    assert list(rows[0]) == [
        "line_id",
        "display_name",
        "external_id",
        "status",
        "reason",
        "http_status",
        "error_message",
        "attempts",
        "request_id",
        "accepted_request_id",
        "first_attempt_at",
        "finished_at",
    ]
    assert sorted(r["line_id"] for r in rows) == sorted(
        Delivery.objects.filter(campaign=c).values_list("line_id", flat=True)
    )
    accepted = [r for r in rows if r["accepted_request_id"]]
    assert accepted and all(r["status"] == "sent" for r in accepted)


def test_export_follows_the_log_filters(db, analyst_client):
    c = factories.campaign(factories.connection())
    url = reverse("analytics_delivery_export", args=[c.pk])
    rows = csv_rows(analyst_client.get(url, {"status": "failed", "reason": "rate_limit"}))
    assert len(rows) == 3 and {r["reason"] for r in rows} == {"rate_limit"}


def test_each_export_is_written_to_the_audit_log(db, analyst_client, analyst):
    c = factories.campaign(factories.connection())
    csv_rows(analyst_client.get(reverse("analytics_delivery_export", args=[c.pk])))
    entry = AuditEntry.objects.get(action="campaign.export_deliveries")
    assert entry.actor == analyst and entry.target_id == str(c.pk)


def test_numbers_and_empty_values_are_left_as_they_are():
    assert neutralise(429) == 429
    assert neutralise(None) == ""
    assert neutralise("U0123") == "U0123"


def test_export_has_each_contacts_name_and_external_id_neutralised(db, analyst_client):
    c = factories.campaign(factories.connection(), outcomes=[("sent", "", 200, "", 1, 3)])
    first, second, third = Delivery.objects.filter(campaign=c).order_by("id")
    Contact.objects.filter(pk=first.contact_id).update(display_name="Aiko", external_id="crm-1")
    Contact.objects.filter(pk=second.contact_id).update(display_name="=cmd()", external_id="@x")
    Contact.objects.filter(pk=third.contact_id).delete()  # the row stays, without its contact

    rows = csv_rows(analyst_client.get(reverse("analytics_delivery_export", args=[c.pk])))

    assert [(r["line_id"], r["display_name"], r["external_id"]) for r in rows] == [
        (first.line_id, "Aiko", "crm-1"),
        (second.line_id, "'=cmd()", "'@x"),
        (third.line_id, "", ""),
    ]


@pytest.mark.parametrize("url", ["analytics_delivery_export", "api"])
def test_contact_columns_come_in_the_same_query_as_the_rows(db, analyst_client, url):
    c = factories.campaign(factories.connection(), outcomes=[("sent", "", 200, "", 1, 40)])
    Contact.objects.update(display_name="Someone")
    path = (
        reverse("analytics_delivery_export", args=[c.pk])
        if url != "api"
        else f"/api/v1/campaigns/{c.pk}/deliveries.csv"
    )
    response = analyst_client.get(path)
    with CaptureQueriesContext(db_connection) as queries:
        rows = csv_rows(response)
    assert len(rows) == 40 and {r["display_name"] for r in rows} == {"Someone"}
    contact_reads = [q["sql"] for q in queries if "audiences_contact" in q["sql"]]
    assert len(contact_reads) == 1 and "JOIN" in contact_reads[0].upper()


def test_export_by_a_reason_only_the_engine_writes_keeps_the_filter(db, analyst_client):
    """A cancel leaves the rows it did not send `not_sent` with reason `cancelled`, apart from
    the rows skipped on purpose."""
    c = factories.campaign(
        factories.connection(),
        status="cancelled",
        outcomes=[
            ("sent", "", 200, "", 1, 2),
            ("not_sent", "cancelled", None, "", 0, 3),
            ("skipped", "opted_out", None, "", 0, 1),
        ],
    )
    for path in (
        reverse("analytics_delivery_export", args=[c.pk]),
        f"/api/v1/campaigns/{c.pk}/deliveries.csv",
    ):
        rows = csv_rows(analyst_client.get(path, {"status": "not_sent", "reason": "cancelled"}))
        assert len(rows) == 3 and {(r["status"], r["reason"]) for r in rows} == {
            ("not_sent", "cancelled")
        }
        skipped = csv_rows(analyst_client.get(path, {"status": "skipped"}))
        assert [r["reason"] for r in skipped] == ["opted_out"]


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"reason": "no_such_reason"}, "reason", "no_such_reason is not one of"),
        ({"status": "delivered"}, "status", "Accepted values: attempted, pending,"),
        ({"http_status": "abc"}, "http_status", "HTTP status: Enter a whole number."),
    ],
)
def test_a_filter_value_that_is_not_understood_is_refused_not_dropped(
    db, analyst_client, params, field, says
):
    c = factories.campaign(factories.connection())

    page = analyst_client.get(reverse("analytics_delivery_export", args=[c.pk]), params)
    assert page.status_code == 400 and not page.streaming
    assert page.content.decode().startswith("Unknown filter value.")
    assert says in page.content.decode()

    api = analyst_client.get(f"/api/v1/campaigns/{c.pk}/deliveries.csv", params)
    assert api.status_code == 400
    body = api.json()
    assert body["detail"].startswith("Unknown filter value.") and says in body["detail"]
    assert [e["field"] for e in body["errors"]] == [field]
    assert not AuditEntry.objects.filter(action="campaign.export_deliveries").exists()
