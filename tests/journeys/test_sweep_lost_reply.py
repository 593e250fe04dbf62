"""A worker lost while it was replying: the sweep sends that reply again itself, at once, rather
than queueing it behind whatever the queue holds, where its token could expire (and LINE could
then no longer say whether the first attempt went out)."""

from __future__ import annotations

import datetime

import pytest
from django.db.models import F
from django.utils import timezone

from connections.models import WebhookEvent
from connections.services import webhook_events_process
from journeys.engine import runs_sweep, send_row
from journeys.models import JourneyRun, JourneySend
from tests.connections.helpers import envelope, follower_id, post_signed
from tests.journeys.support import line_event, make_journey, with_reply_token


def _replying_when_its_worker_was_lost(client, connection, emulator, receiver, capture):
    """A follow entered with a reply token; its send claimed and marked as a reply being tried
    a minute ago, and never finished: what a worker killed during the call leaves."""
    event = with_reply_token(
        emulator, receiver, line_event("follow", follower_id(3), 3, follow={"isUnblocked": False})
    )
    with capture(execute=False):  # the run's task is never queued: its worker is the lost one
        assert post_signed(client, connection, envelope([event])).status_code == 200
    with capture(execute=False):
        webhook_events_process(event_ids=list(WebhookEvent.objects.values_list("pk", flat=True)))
    run = JourneyRun.objects.select_related("version").get()
    send = send_row(run)
    a_minute_ago = timezone.now() - datetime.timedelta(seconds=60)
    JourneyRun.objects.filter(pk=run.pk).update(
        status=JourneyRun.Status.RUNNING, claimed_at=a_minute_ago, claims=F("claims") + 1
    )
    JourneySend.objects.filter(pk=send.pk).update(
        status=JourneySend.Status.SENDING, via=JourneySend.Via.REPLY, first_attempt_at=a_minute_ago
    )
    return event["replyToken"]


@pytest.mark.parametrize("reached_line", [False, True], ids=["lost-before-line", "went-out"])
def test_the_sweep_resends_a_lost_workers_reply_itself_and_it_arrives_once(
    reached_line,
    client,
    connection,
    marketer,
    emulator,
    receiver,
    django_capture_on_commit_callbacks,
):
    make_journey(marketer, connection, {"type": "follow", "when": "new"})
    token = _replying_when_its_worker_was_lost(
        client, connection, emulator, receiver, django_capture_on_commit_callbacks
    )
    if reached_line:  # the killed worker's reply had gone out: the token is used
        emulator_reply = {"replyToken": token, "messages": [{"type": "text", "text": "Welcome!"}]}
        reply = emulator._http.post(
            "/v2/bot/message/reply",
            json=emulator_reply,
            headers={"Authorization": f"Bearer {emulator.token}"},
        )
        assert reply.status_code == 200

    assert runs_sweep()["released"] == 1

    send = JourneySend.objects.get()
    assert (send.status, send.via) == (JourneySend.Status.SENT, JourneySend.Via.REPLY)
    assert JourneyRun.objects.get().status == JourneyRun.Status.SENT
    ledger = emulator.messages(to=follower_id(3))
    assert [m["via"] for m in ledger] == ["reply"]
