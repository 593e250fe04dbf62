"""The campaigns REST API: build, test, launch, pause, resume, cancel, read progress."""

import pytest

from audiences.models import Contact
from campaigns.models import Campaign, Delivery
from kit.models import AuditEntry
from tests.campaigns.engine_support import (
    drain,
    fast_engine,  # noqa: F401
    ledger,
    line_id,
    make_contacts,
)

URL = "/api/v1/campaigns"
HELLO = [{"type": "text", "text": 'Hello {{ first_name | default: "friend" }}'}]

pytestmark = pytest.mark.usefixtures("fast_engine")


@pytest.fixture
def api(marketer, api_client_for):
    return api_client_for(marketer)


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def test_a_marketer_builds_tests_launches_and_reads_a_campaign(emulator, connection, api):
    make_contacts(3)
    created = post(
        api,
        URL,
        {"name": "Welcome", "connection": connection.pk, "all_following": True, "messages": HELLO},
    )
    assert created.status_code == 201, created.json()
    campaign_id = created.json()["id"]
    assert Campaign.objects.get(pk=campaign_id).status == "draft"

    test = post(api, f"{URL}/{campaign_id}/test", {"line_id": line_id(1)})
    assert test.status_code == 200 and test.json()["ok"] is True
    assert test.json()["messages"] == [{"type": "text", "text": "Hello Name1"}]
    assert not Delivery.objects.exists()
    assert AuditEntry.objects.filter(action="campaign.test_send").exists()

    review = api.get(f"{URL}/{campaign_id}/review").json()
    assert (review["expected_recipients"], review["will_fail"]) == (3, 0)

    launched = post(api, f"{URL}/{campaign_id}/launch")
    assert launched.status_code == 200 and launched.json()["status"] == "sending"
    drain(Campaign.objects.get(pk=campaign_id))

    body = api.get(f"{URL}/{campaign_id}").json()
    figures = ("status", "attempted", "sent", "failed", "skipped", "not_sent")
    assert {k: body[k] for k in figures} == {
        "status": "completed",
        "attempted": 3,
        "sent": 3,
        "failed": 0,
        "not_sent": 0,
        "skipped": 0,
    }
    assert body["started_at"] and body["finished_at"]
    rows = api.get(f"{URL}/{campaign_id}/deliveries", {"status": "sent"}).json()
    assert len(rows["items"]) == 3 and rows["has_next"] is False
    row = rows["items"][0]
    assert row["http_status"] == 200 and row["attempts"] == 1 and row["request_id"]
    # The test send plus the three campaign sends.
    assert sum(ledger(emulator).values()) == 4


def test_pause_resume_and_cancel_over_the_api(emulator, connection, api):
    make_contacts(2)
    campaign_id = post(
        api,
        URL,
        {
            "name": "Explicit",
            "connection": connection.name,
            "line_ids": [line_id(0), line_id(1)],
            "messages": HELLO,
        },
    ).json()["id"]
    assert post(api, f"{URL}/{campaign_id}/pause").status_code == 409  # still a draft
    assert post(api, f"{URL}/{campaign_id}/launch").status_code == 200
    paused = post(api, f"{URL}/{campaign_id}/pause", {"reason": "typo"})
    assert paused.status_code == 200
    assert (paused.json()["status"], paused.json()["pause_reason"]) == ("paused", "typo")
    assert post(api, f"{URL}/{campaign_id}/resume").json()["status"] == "sending"
    cancelled = post(api, f"{URL}/{campaign_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"campaign.launch", "campaign.pause", "campaign.resume", "campaign.cancel"} <= actions


def test_invalid_campaigns_are_refused_with_the_field(connection, api):
    missing = post(api, URL, {"name": "x", "connection": connection.pk, "messages": HELLO})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "segment"

    bad_ids = post(
        api,
        URL,
        {"name": "x", "connection": connection.pk, "line_ids": ["nope"], "messages": HELLO},
    )
    assert bad_ids.status_code == 400  # the schema's pattern: a shape error
    assert bad_ids.json()["errors"][0]["field"] == "line_ids.0"

    bad_liquid = post(
        api,
        URL,
        {
            "name": "x",
            "connection": connection.pk,
            "all_following": True,
            "messages": [{"type": "text", "text": "{{ oops"}],
        },
    )
    assert bad_liquid.status_code == 422
    assert "messages[0].text" in bad_liquid.json()["errors"][0]["message"]


def test_launch_without_recipients_is_blocked_with_reasons(connection, api):
    campaign_id = post(
        api,
        URL,
        {"name": "Nobody", "connection": connection.pk, "all_following": True, "messages": HELLO},
    ).json()["id"]
    blocked = post(api, f"{URL}/{campaign_id}/launch")
    assert blocked.status_code == 409
    assert any("No contact" in e["message"] for e in blocked.json()["errors"])


def test_analysts_read_but_cannot_launch(connection, marketer, analyst, api_client_for):
    make_contacts(1)
    campaign_id = post(
        api_client_for(marketer),
        URL,
        {"name": "Read me", "connection": connection.pk, "all_following": True, "messages": HELLO},
    ).json()["id"]
    reader = api_client_for(analyst)
    assert reader.get(f"{URL}/{campaign_id}").status_code == 200
    assert post(reader, f"{URL}/{campaign_id}/launch").status_code == 403
    assert post(reader, URL, {"name": "x"}).status_code in (400, 403)


def test_a_test_send_to_a_valid_id_that_is_not_a_contact_yet_uses_the_defaults(
    emulator, connection, api
):
    make_contacts(1)
    created = post(
        api,
        URL,
        {"name": "Welcome", "connection": connection.pk, "all_following": True, "messages": HELLO},
    )
    campaign_id = created.json()["id"]
    stranger = "U" + "e" * 32

    test = post(api, f"{URL}/{campaign_id}/test", {"line_id": stranger})
    assert test.status_code == 200, test.json()
    assert test.json()["ok"] is True
    assert test.json()["messages"] == [{"type": "text", "text": "Hello friend"}]
    assert ledger(emulator) == {stranger: 1}
    assert not Contact.objects.filter(line_id=stranger).exists()
    assert not Delivery.objects.exists()

    malformed = post(api, f"{URL}/{campaign_id}/test", {"line_id": "U123"})
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["field"] == "line_id"
    assert ledger(emulator) == {stranger: 1}


@pytest.mark.parametrize("value", ["2030-01-01T00:00:00", "2030-01-01"])
@pytest.mark.parametrize("field", ["scheduled_at", "send_by"])
def test_a_send_time_without_a_time_zone_is_refused_with_the_field(connection, api, field, value):
    body = {"name": "Later", "connection": connection.pk, "all_following": True}
    response = post(api, URL, {**body, "messages": HELLO, field: value})
    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert error["message"] == "include a time zone offset, e.g. 2030-01-01T09:00:00+09:00"
    assert not Campaign.objects.exists()


def test_a_send_time_with_an_offset_is_accepted(connection, api):
    body = {"name": "Later", "connection": connection.pk, "all_following": True}
    times = {"scheduled_at": "2030-01-01T09:00:00+09:00", "send_by": "2030-01-02T00:00:00Z"}
    response = post(api, URL, {**body, "messages": HELLO, **times})
    assert response.status_code == 201, response.json()
    assert Campaign.objects.get().send_by.utcoffset() is not None
