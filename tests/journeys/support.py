"""Helpers for the journey tests: journeys as a marketer makes them, and LINE's webhook events
with reply tokens the emulator issued."""

from __future__ import annotations

import json
import time

from connections.models import Connection, WebhookEvent
from journeys.models import Journey
from journeys.services import journey_activate, journey_create
from tests.connections.helpers import envelope, post_signed
from tests.emulator_fixtures import EmulatorHandle

WELCOME = [{"type": "text", "text": "Welcome, {{ display_name | default: 'friend' }}!"}]


def make_journey(
    user, connection: Connection, trigger: dict, *, activate: bool = True, **fields
) -> Journey:
    fields.setdefault("steps", [{"type": "send", "messages": WELCOME}])
    journey = journey_create(
        user=user,
        connection=connection,
        name=fields.pop("name", f"{trigger['type']} journey"),
        trigger=trigger,
        **fields,
    )
    return journey_activate(journey=journey, user=user) if activate else journey


def line_event(kind: str, user_id: str, n: int, **extra) -> dict:
    return {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "webhookEventId": f"01J{n:023d}",
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user_id},
        **extra,
    }


def with_reply_token(emulator: EmulatorHandle, receiver: tuple[str, list], event: dict) -> dict:
    """The event as the emulator sends it: with a fresh reply token it will accept once."""
    return with_reply_tokens(emulator, receiver, [event])[0]


def with_reply_tokens(
    emulator: EmulatorHandle, receiver: tuple[str, list], events: list[dict]
) -> list[dict]:
    """The events as the emulator sends them in one delivery, each with a fresh reply token."""
    url, received = receiver
    emulator.send_webhook(url, events)
    body, _signature = received[-1]
    return json.loads(body)["events"]


def deliver(client, connection: Connection, capture, *events: dict) -> list[WebhookEvent]:
    """Posts the events signed, as LINE does, and runs what they queue (eager Celery)."""
    with capture(execute=True):
        assert post_signed(client, connection, envelope(list(events))).status_code == 200
    ids = [e["webhookEventId"] for e in events]
    return list(WebhookEvent.objects.filter(webhook_event_id__in=ids).order_by("pk"))


def texts(emulator: EmulatorHandle, to: str) -> list[tuple[str, str]]:
    """(via, first message's text) of each message the emulator accepted for `to`."""
    return [(m["via"], m["messages"][0].get("text", "")) for m in emulator.messages(to=to)]
