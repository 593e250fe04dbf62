"""One odd event never costs a delivery its other events, and a signed delivery is never a 500.

The U+0000 and lone-surrogate cases fail only on PostgreSQL before the fix (jsonb refuses them);
run this file with DATABASE_URL=postgres://... too.
"""

import io
import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory

from audiences.models import Contact
from connections.models import WebhookEvent
from lineapi import sign
from linecampaigns.wsgi import application
from tests.connections.helpers import envelope, event, post_signed, webhook_path

USER = "U" + "2" * 32
OTHER = "U" + "3" * 32


def _message(event_id: str, text: str = "hi", user: object = USER) -> dict:
    return event(
        "message",
        event_id,
        {"type": "user", "userId": user},
        message={"type": "text", "id": "1", "text": text},
    )


def _post(client, connection, events: list, *, capture) -> object:
    with capture(execute=True):
        return post_signed(client, connection, envelope(events))


def _row(event_id: str) -> WebhookEvent:
    return WebhookEvent.objects.get(webhook_event_id=event_id)


@pytest.mark.parametrize("odd", ["nul \x00 inside", "lone \ud800 surrogate"], ids=["nul", "surr"])
def test_a_string_the_database_cannot_hold_is_escaped_and_the_delivery_is_kept(
    client, connection, eager_celery, django_capture_on_commit_callbacks, odd
) -> None:
    response = _post(
        client,
        connection,
        [_message("01ODD", text=odd), _message("01FINE")],
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    odd_row = _row("01ODD")
    assert odd_row.raw["message"]["text"] == odd.replace("\x00", "\\u0000").replace(
        "\ud800", "\\ud800"
    )
    assert odd_row.sanitized == "message.text: U+0000 or a lone surrogate escaped"
    assert odd_row.status == WebhookEvent.Status.PROCESSED  # the rest of it is a good event
    assert _row("01FINE").status == WebhookEvent.Status.PROCESSED
    assert Contact.objects.get(line_id=USER).last_interaction_at is not None


def test_the_connection_page_says_what_was_changed_to_store_an_event(
    client, admin_client, connection
) -> None:
    post_signed(client, connection, envelope([_message("01PAGE", text="a\x00b")]))
    page = admin_client.get(f"/connections/{connection.pk}/").content.decode()
    assert "Stored with changes: message.text: U+0000 or a lone surrogate escaped" in page


def test_unstorable_characters_in_names_ids_and_destination_are_escaped(client, connection) -> None:
    raw = _message("01KEY\x00")
    raw["message"]["bad\x00key"] = "x"
    body = json.dumps({"destination": "U\x00nobody", "events": [raw]}).encode()
    assert post_signed(client, connection, body).status_code == 200
    row = WebhookEvent.objects.get()
    assert row.webhook_event_id == "01KEY\\u0000"
    assert row.raw["message"]["bad\\u0000key"] == "x"
    assert row.sanitized.splitlines() == [
        "webhookEventId: U+0000 or a lone surrogate escaped",
        "message.bad\\u0000key: U+0000 or a lone surrogate escaped in the name",
    ]
    assert "U\\u0000nobody" in row.error
    assert row.status == WebhookEvent.Status.IGNORED  # not this channel's bot


def test_an_event_with_a_non_string_user_id_fails_alone(
    client, connection, eager_celery, django_capture_on_commit_callbacks
) -> None:
    response = _post(
        client,
        connection,
        [_message("01NUMBER", user=12345), _message("01FINE")],
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    assert _row("01NUMBER").raw["source"]["userId"] == 12345
    assert _row("01NUMBER").status == WebhookEvent.Status.FAILED
    assert _row("01NUMBER").error == "Not an event: source.userId must be a string, not 12345"
    assert _row("01FINE").status == WebhookEvent.Status.PROCESSED


def test_an_item_that_is_not_an_event_is_stored_as_failed_and_the_others_are_processed(
    client, connection, eager_celery, django_capture_on_commit_callbacks
) -> None:
    response = _post(
        client,
        connection,
        [5, {"no": "type"}, _message("01FINE")],
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    assert response.json() == {"stored": 3}
    failed = WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED)
    assert sorted(json.dumps(row.raw) for row in failed) == ["5", '{"no": "type"}']
    assert all("Not an event" in row.error for row in failed)
    assert _row("01FINE").status == WebhookEvent.Status.PROCESSED


def test_a_200k_deep_event_is_cut_at_64_levels_and_the_others_are_kept(
    client, connection, eager_celery, django_capture_on_commit_callbacks
) -> None:
    deep = _message("01DEEP")
    fine = json.dumps(_message("01FINE")).encode()
    deep_json = json.dumps(deep).encode().replace(b'"hi"', b"[" * 200_000 + b"]" * 200_000)
    body = b'{"destination": "%s", "events": [%s, %s]}' % (
        connection.bot_user_id.encode(),
        deep_json,
        fine,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, connection, body)
    assert response.status_code == 200
    row = _row("01DEEP")
    text = row.raw["message"]["text"]
    depth = 0
    while isinstance(text, list):
        text, depth = text[0], depth + 1
    assert text == "[removed: nested deeper than 64 levels]"
    assert depth == 64 - 4  # envelope, events, event, message, then the arrays
    assert "nested deeper than 64 levels" in row.sanitized
    assert _row("01FINE").status == WebhookEvent.Status.PROCESSED


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"events": []}', b'{"destination": "U1", "events": {}}'],
)
def test_only_an_unusable_envelope_is_refused(client, connection, body) -> None:
    response = post_signed(client, connection, body)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_a_chunked_body_without_content_length_is_read(connection) -> None:
    """gunicorn de-chunks the body and says so with wsgi.input_terminated; Django alone reads
    nothing without a Content-Length."""
    body = envelope([_message("01CHUNKED")])
    environ = RequestFactory()._base_environ(
        PATH_INFO=webhook_path(connection),
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_X_LINE_SIGNATURE=sign(connection.channel_secret, body),
    )
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
    statuses = []
    # As Django's test client does: the request must not close the test's database connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, lambda status, headers: statuses.append(status))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert statuses == ["200 OK"], b"".join(response)
    assert _row("01CHUNKED").raw["message"]["text"] == "hi"
