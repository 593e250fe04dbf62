"""Helpers for the connection tests: webhook bodies, signatures and the emulator's ids."""

import json

from django.test import Client

from connections.models import Connection
from lineapi import sign
from lineapi.emulator.state import seeded_id

BOT_USER_ID = seeded_id("bot", 0)


def follower_id(n: int) -> str:
    """The emulator's n-th seeded follower (it has a profile named 'Follower n+1')."""
    return seeded_id("follower", n)


def webhook_path(connection: Connection) -> str:
    return f"/webhooks/line/{connection.webhook_slug}/"


def envelope(events: list[dict], destination: str = BOT_USER_ID) -> bytes:
    return json.dumps({"destination": destination, "events": events}).encode()


def post_signed(client: Client, connection: Connection, body: bytes, secret: str | None = None):
    signature = sign(secret or connection.channel_secret, body)
    return client.post(
        webhook_path(connection),
        data=body,
        content_type="application/json",
        headers={"x-line-signature": signature},
    )


def event(kind: str, event_id: str, source: dict, timestamp: int = 1_700_000_000_000, **extra):
    return {
        "type": kind,
        "mode": "active",
        "timestamp": timestamp,
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
        "source": source,
        **extra,
    }
