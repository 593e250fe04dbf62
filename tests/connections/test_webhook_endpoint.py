import json

import pytest

from audiences.models import Contact
from connections.models import WebhookEvent
from connections.services import connection_create
from tests.connections.helpers import (
    BOT_USER_ID,
    envelope,
    event,
    follower_id,
    post_signed,
    webhook_path,
)

USER = "U" + "1" * 32


def _message(event_id: str, **extra) -> dict:
    return event(
        "message",
        event_id,
        {"type": "user", "userId": USER},
        message={"type": "text", "id": "1", "text": "hi"},
        **extra,
    )


@pytest.mark.django_db(transaction=True)
def test_an_event_sent_by_the_emulator_is_stored_once_and_processed(
    emulator, live_server, eager_celery
) -> None:
    # No user here: an earlier transactional test may have flushed the role groups.
    connection = connection_create(
        actor=None,
        name="Live OA",
        channel_access_token=emulator.token,
        channel_secret=emulator.secret,
        api_base_url=emulator.base_url,
    )
    status = emulator.send_webhook(
        live_server.url + webhook_path(connection),
        [{"type": "follow", "source": {"type": "user", "userId": follower_id(0)}}],
    )
    assert status == 200
    stored = WebhookEvent.objects.get()
    assert (stored.connection, stored.type, stored.source_id) == (
        connection,
        "follow",
        follower_id(0),
    )
    assert stored.status == WebhookEvent.Status.PROCESSED
    contact = Contact.objects.get(line_id=follower_id(0))
    assert contact.follow_status == Contact.FollowStatus.FOLLOWING
    assert contact.display_name == "Follower 1"


def test_a_body_signed_by_hand_is_stored(client, connection) -> None:
    response = post_signed(client, connection, envelope([_message("01HANDSIGNED")]))
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.webhook_event_id == "01HANDSIGNED"
    assert stored.raw["message"]["text"] == "hi"
    assert stored.status == WebhookEvent.Status.PENDING


def test_storing_enqueues_processing_after_commit(
    client, connection, eager_celery, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, connection, envelope([_message("01ENQUEUED")]))
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert Contact.objects.get(line_id=USER).last_interaction_at is not None


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-line-signature": ""}, {"x-line-signature": "Zm9yZ2VkIHNpZ25hdHVyZQ=="}],
    ids=["missing", "empty", "forged"],
)
def test_a_bad_signature_is_401_and_nothing_is_stored(client, connection, headers) -> None:
    response = client.post(
        webhook_path(connection),
        data=envelope([_message("01FORGED")]),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_a_body_signed_with_another_secret_is_401(client, connection) -> None:
    response = post_signed(
        client, connection, envelope([_message("01OTHER")]), secret="another-channel-secret"
    )
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_a_tampered_body_is_401(client, connection) -> None:
    from lineapi import sign

    body = envelope([_message("01TAMPER")])
    signature = sign(connection.channel_secret, body)
    response = client.post(
        webhook_path(connection),
        data=body.replace(b"hi", b"ho"),
        content_type="application/json",
        headers={"x-line-signature": signature},
    )
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_a_redelivered_event_is_counted_not_stored_again(client, connection) -> None:
    first = envelope([_message("01REDELIVER")])
    again = envelope([_message("01REDELIVER", deliveryContext={"isRedelivery": True})])
    assert post_signed(client, connection, first).status_code == 200
    assert post_signed(client, connection, again).status_code == 200
    assert post_signed(client, connection, first).status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.redelivery_count == 2


def test_the_same_event_twice_in_one_body_is_stored_once(client, connection) -> None:
    body = envelope([_message("01TWICE"), _message("01TWICE")])
    assert post_signed(client, connection, body).status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_a_body_over_1_mb_is_413_even_when_signed(client, connection) -> None:
    padding = "x" * (1024 * 1024)
    body = envelope([_message("01BIG", padding=padding)])
    response = post_signed(client, connection, body)
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_a_body_just_under_1_mb_is_accepted(client, connection) -> None:
    skeleton = envelope([_message("01NEARLY", padding="")])
    body = envelope([_message("01NEARLY", padding="x" * (1024 * 1024 - len(skeleton)))])
    assert len(body) == 1024 * 1024
    assert post_signed(client, connection, body).status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", json.dumps({"events": []}).encode(), b'{"destination":"U","events":{}}'],
    ids=["not-json", "array", "no-destination", "events-not-list"],
)
def test_a_malformed_signed_body_is_400(client, connection, body) -> None:
    response = post_signed(client, connection, body)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_number_in_an_event_is_stored_as_text(client, connection, number) -> None:
    # No column stores it as a number; the event is kept all the same (see test_webhook_robustness).
    body = envelope([_message("01NONFINITE")]).replace(
        b'"timestamp": 1700000000000', f'"timestamp": {number}'.encode()
    )
    assert number.encode() in body
    response = post_signed(client, connection, body)
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert (stored.raw["timestamp"], stored.event_time) == (number, None)
    assert stored.sanitized == f"timestamp: {number} is not a storable number, kept as text"


@pytest.mark.parametrize("timestamp", [10**30, 1e30, -(10**30)])
def test_an_event_time_out_of_range_is_stored_without_a_time(client, connection, timestamp):
    for kind in ("message", "somethingNew"):
        body = envelope([{**_message(f"01HUGE{kind}"), "type": kind, "timestamp": timestamp}])
        assert post_signed(client, connection, body).status_code == 200
    assert list(WebhookEvent.objects.values_list("event_time", flat=True)) == [None, None]


def test_an_unknown_slug_is_404(client, connection) -> None:
    response = client.post(
        "/webhooks/line/no-such-slug/",
        data=envelope([]),
        content_type="application/json",
        headers={"x-line-signature": "x"},
    )
    assert response.status_code == 404


def test_lines_verify_request_with_no_events_is_200(client, connection) -> None:
    response = post_signed(client, connection, envelope([]))
    assert response.status_code == 200
    assert not WebhookEvent.objects.exists()


def test_the_endpoint_needs_no_login_and_no_csrf_token(connection) -> None:
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post_signed(strict, connection, envelope([_message("01CSRF")])).status_code == 200


def test_an_event_for_another_bot_is_stored_with_an_error_and_not_processed(
    client, connection, eager_celery, django_capture_on_commit_callbacks
) -> None:
    other_bot = "U" + "f" * 32
    assert other_bot != BOT_USER_ID
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(
            client, connection, envelope([_message("01WRONGBOT")], destination=other_bot)
        )
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.IGNORED
    assert "destination" in stored.error
    assert not Contact.objects.exists()


def test_an_event_without_a_webhook_event_id_is_still_stored_once(client, connection) -> None:
    anonymous = _message("unused")
    del anonymous["webhookEventId"]
    body = envelope([anonymous])
    assert post_signed(client, connection, body).status_code == 200
    assert post_signed(client, connection, body).status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.webhook_event_id.startswith("sha256:")
    assert stored.redelivery_count == 1


def test_an_unknown_event_type_is_stored_but_not_processed(
    client, connection, eager_celery, django_capture_on_commit_callbacks
) -> None:
    future = event("futureThing", "01FUTURE", {"type": "user", "userId": USER}, payload={"a": 1})
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, connection, envelope([future, _message("01KNOWN")]))
    assert response.status_code == 200
    unknown = WebhookEvent.objects.get(webhook_event_id="01FUTURE")
    assert (unknown.type, unknown.source_id, unknown.raw) == ("futureThing", USER, future)
    assert unknown.event_time is not None
    assert unknown.status == WebhookEvent.Status.IGNORED
    assert "unknown event type 'futureThing'" in unknown.error
    known = WebhookEvent.objects.get(webhook_event_id="01KNOWN")
    assert known.status == WebhookEvent.Status.PROCESSED


def test_the_url_without_its_trailing_slash_works_too(client, connection) -> None:
    """LINE posts to exactly what was pasted in its console and does not follow redirects."""
    from lineapi.webhooks import sign

    body = envelope([])
    response = client.post(
        webhook_path(connection).rstrip("/"),
        data=body,
        content_type="application/json",
        headers={"x-line-signature": sign(connection.channel_secret, body)},
    )
    assert response.status_code == 200
