"""Shared set-up for the engine, API and crash tests: a connection to the emulator, contacts,
and a synchronous driver that runs a campaign's tasks in this process."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from audiences.models import Contact
from campaigns.engine import batches, lifecycle
from campaigns.models import Campaign, Delivery, DeliveryBatch
from campaigns.services import campaign_create, campaign_launch
from connections.models import Connection


@pytest.fixture
def fast_engine(settings):
    """Short backoffs and timeouts so retries finish in test time."""
    settings.CAMPAIGN_RETRY_BASE_SECONDS = 0.01
    settings.CAMPAIGN_RETRY_MAX_SECONDS = 0.05
    settings.CAMPAIGN_CONTROL_INTERVAL_SECONDS = 0.05
    settings.CAMPAIGN_READ_TIMEOUT_SECONDS = 0.5
    return settings


def line_id(n: int, prefix: str = "U") -> str:
    return prefix + hashlib.md5(f"contact-{n}".encode()).hexdigest()


def make_connection(emulator, **fields) -> Connection:
    return Connection.objects.create(
        name=fields.pop("name", "Main OA"),
        channel_access_token=emulator.token,
        channel_secret=emulator.secret,
        api_base_url=emulator.base_url,
        status=Connection.Status.ACTIVE,
        **fields,
    )


def make_contacts(n: int, *, start: int = 0, **fields) -> list[Contact]:
    attributes = fields.pop("attributes", None)
    contacts = [
        Contact(
            line_id=line_id(i),
            kind=Contact.Kind.USER,
            display_name=f"Person {i}",
            follow_status=fields.get("follow_status", Contact.FollowStatus.FOLLOWING),
            opted_out=fields.get("opted_out", False),
            attributes=attributes(i) if callable(attributes) else {"first_name": f"Name{i}"},
        )
        for i in range(start, start + n)
    ]
    return Contact.objects.bulk_create(contacts)


def launch(user, connection, *, messages, **fields) -> Campaign:
    fields.setdefault("audience_type", Campaign.Audience.ALL_FOLLOWING)
    campaign = campaign_create(
        user=user, name="Spring sale", connection=connection, messages=messages, **fields
    )
    return campaign_launch(campaign=campaign, user=user)


def drain(campaign: Campaign, *, rounds: int = 50) -> Campaign:
    """Runs start_campaign and every queued batch in this process until nothing is left."""
    campaign.refresh_from_db()
    lifecycle.campaign_start(campaign)
    for _ in range(rounds):
        numbers = list(
            DeliveryBatch.objects.filter(campaign=campaign, status=DeliveryBatch.Status.PENDING)
            .order_by("number")
            .values_list("number", flat=True)
        )
        campaign.refresh_from_db()
        if not numbers or campaign.status != Campaign.Status.SENDING:
            break
        for number in numbers:
            batches.batch_send(campaign_id=campaign.pk, number=number)
    campaign.refresh_from_db()
    return campaign


def act_mid_send(monkeypatch, action) -> None:
    """Runs `action(campaign)` once, between requests, after the first recipients were sent."""
    original = batches.BatchRun._control
    done = []

    def control(run: batches.BatchRun) -> None:
        run.campaign.refresh_from_db(fields=["sent"])
        if not done and run.campaign.sent > 0:
            done.append(True)
            action(run.campaign)
        original(run)

    monkeypatch.setattr(batches.BatchRun, "_control", control)


def ledger(emulator) -> Counter:
    return Counter(entry["to"] for entry in emulator.messages())


def row_counts(campaign: Campaign) -> dict[str, int]:
    counts = Counter(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True))
    return {
        "sent": counts["sent"],
        "failed": counts["failed"],
        "skipped": counts["skipped"],
        "not_sent": counts["not_sent"],
        "attempted": counts["sent"] + counts["failed"],
        "recipients_total": sum(counts.values()),
    }


def counters(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {k: getattr(campaign, k) for k in row_counts(campaign)}
