"""Sending a run's steps: personalization failures, the retry key and 409, LINE refusing the
monthly quota, and crash recovery of a reply (which has no retry key) and of a lost worker."""

import datetime
import uuid

import pytest
from django.utils import timezone

from audiences.models import Contact
from connections.line import line_call
from journeys.engine import run_queued as run_send
from journeys.engine import runs_sweep, send_row
from journeys.entry import enter
from journeys.models import JourneyRun, JourneySend
from tests.connections.helpers import follower_id
from tests.journeys.support import line_event, make_journey, texts, with_reply_token

USER = follower_id(1)


@pytest.fixture
def contact(db, connection) -> Contact:
    return Contact.objects.create(line_id=USER, connection=connection, display_name="Aiko")


def entered(journey, contact, key: str = "k1", **kwargs) -> JourneyRun:
    run, _ = enter(
        version=journey.current_version,
        contact=contact,
        trigger_key=key,
        payload=kwargs.pop("payload", {}),
        **kwargs,
    )
    return run


def test_a_missing_value_without_default_fails_the_send_with_the_reason(
    marketer, connection, contact, emulator
):
    text = [{"type": "text", "text": "Your order {{ data.order_id }}"}]
    journey = make_journey(
        marketer, connection, {"type": "api"}, steps=[{"type": "send", "messages": text}]
    )
    run = entered(journey, contact)
    run_send(run.pk)
    send = JourneySend.objects.get()
    assert (send.status, send.reason) == ("failed", "personalization")
    assert "data.order_id" in send.error_message or "order_id" in send.error_message
    run.refresh_from_db()
    assert (run.status, run.reason) == ("failed", "personalization")
    assert not emulator.messages(to=USER)


def test_a_push_line_already_accepted_counts_as_sent(marketer, connection, contact, emulator):
    journey = make_journey(marketer, connection, {"type": "api"})
    run = entered(journey, contact)
    send = send_row(run)
    # A worker lost after LINE accepted the push: the same retry key was used once already.
    line_call(
        connection,
        lambda c: c.push(
            to=USER, messages=[{"type": "text", "text": "x"}], retry_key=str(send.retry_key)
        ),
    )
    JourneySend.objects.update(via="push", first_attempt_at=timezone.now())
    run_send(run.pk)
    send.refresh_from_db()
    assert (send.status, send.http_status) == ("sent", 409) and send.accepted_request_id
    assert len(emulator.messages(to=USER)) == 1


def test_the_monthly_limit_fails_a_push_with_the_reason(marketer, connection, contact, emulator):
    emulator.configure(monthly_quota=0)
    journey = make_journey(marketer, connection, {"type": "api"})
    run_send(entered(journey, contact).pk)
    send = JourneySend.objects.get()
    assert (send.status, send.reason) == ("failed", "monthly_limit")
    assert "monthly" in send.error_message


def test_a_reply_costs_no_quota_when_the_month_is_used_up(
    marketer, connection, contact, emulator, receiver
):
    emulator.configure(monthly_quota=0)
    journey = make_journey(marketer, connection, {"type": "follow"})
    token = with_reply_token(emulator, receiver, line_event("follow", USER, 1))["replyToken"]
    run = entered(journey, contact, reply_token=token, received_at=timezone.now())
    run_send(run.pk)
    assert texts(emulator, USER) == [("reply", "Welcome, Aiko!")]


def test_a_reply_interrupted_by_a_lost_worker_is_not_sent_twice(
    marketer, connection, contact, emulator, receiver
):
    journey = make_journey(marketer, connection, {"type": "follow"})
    token = with_reply_token(emulator, receiver, line_event("follow", USER, 1))["replyToken"]
    run = entered(journey, contact, reply_token=token, received_at=timezone.now())
    # The lost worker: it marked the reply as being tried, and LINE took it.
    line_call(
        connection,
        lambda c: c.reply(reply_token=token, messages=[{"type": "text", "text": "Welcome, Aiko!"}]),
    )
    send_row(run)
    JourneySend.objects.update(via="reply", first_attempt_at=timezone.now())
    run_send(run.pk)
    send = JourneySend.objects.get()
    assert (send.status, send.via) == ("sent", "reply")
    assert texts(emulator, USER) == [("reply", "Welcome, Aiko!")]


def test_an_interrupted_reply_whose_token_expired_is_not_pushed(
    marketer, connection, contact, emulator
):
    journey = make_journey(marketer, connection, {"type": "follow"})
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    run = entered(journey, contact, reply_token="t" * 32, received_at=long_ago)
    send_row(run)
    JourneySend.objects.update(via="reply", first_attempt_at=long_ago)
    run_send(run.pk)
    send = JourneySend.objects.get()
    assert (send.status, send.reason) == ("failed", "reply_unconfirmed")
    assert not emulator.messages(to=USER)


def test_an_expired_token_that_was_never_tried_is_pushed_at_once(
    marketer, connection, contact, emulator
):
    journey = make_journey(marketer, connection, {"type": "follow"})
    run = entered(
        journey,
        contact,
        reply_token="t" * 32,
        received_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    run_send(run.pk)
    assert texts(emulator, USER) == [("push", "Welcome, Aiko!")]
    assert emulator.stats().get("invalid_reply_tokens", 0) == 0  # not even tried


def test_the_sweeper_gives_a_lost_workers_run_to_another(
    marketer, connection, contact, emulator, eager_celery
):
    journey = make_journey(marketer, connection, {"type": "api"})
    run = entered(journey, contact)
    send_row(run)
    stale = timezone.now() - datetime.timedelta(minutes=5)
    # Its worker died while sending: the run held, its send in flight.
    JourneyRun.objects.update(status="running", claimed_at=stale, claims=1)
    JourneySend.objects.update(status="sending", via="push", first_attempt_at=stale)
    result = runs_sweep()  # eager: the released run is walked at once
    assert result["released"] == 1
    send = JourneySend.objects.get()
    assert send.status == "sent"
    run.refresh_from_db()
    assert (run.status, run.claims) == ("sent", 2) and len(emulator.messages(to=USER)) == 1


def test_the_sweeper_requeues_a_run_whose_task_was_lost(
    marketer, connection, contact, emulator, eager_celery
):
    journey = make_journey(marketer, connection, {"type": "api"})
    entered(journey, contact)  # its task never ran (no commit callbacks here)
    assert runs_sweep()["requeued"] == 0  # too young to be called lost
    JourneyRun.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=2))
    assert runs_sweep()["requeued"] == 1
    assert JourneySend.objects.get().status == "sent"
    assert runs_sweep()["requeued"] == 0


def test_the_retry_key_is_fixed_by_the_trigger_and_the_move(marketer, connection, contact):
    from journeys.entry import retry_key

    journey = make_journey(marketer, connection, {"type": "api"})
    run = entered(journey, contact, key="api:order-1")
    key = send_row(run).retry_key
    assert isinstance(key, uuid.UUID)
    assert key == retry_key(journey.pk, "api:order-1", 0) != retry_key(journey.pk, "api:order-2", 0)
    assert send_row(run).pk == JourneySend.objects.get().pk  # found again, not made twice
