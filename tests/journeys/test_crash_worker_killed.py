"""A real Celery worker is killed with SIGKILL while a welcome journey answers 500 new friends
(PostgreSQL, a private Redis broker, the emulator at 50 ms). Half the follow events carry a
reply token the emulator issued, half none, so replies and pushes are both in flight when it
dies. A new worker (on the default and campaigns queues, as production runs them) and the
beat's sweeper (the lease shortened to 5 s) finish the rest: the emulator's ledger shows every
new friend welcomed exactly once, by name, and the journey's report agrees with it: every send
sent, replied + pushed = 500, none left "reply_unconfirmed" (a reply in flight at the kill is
sent again by the sweep while its token lives, though ~400 run steps are queued before it).

The kill lands once every event has become a run and the welcomes are going out: an event a
worker had claimed but not finished waits for connections' own sweep (10 minutes), which is
not this test's subject."""

from __future__ import annotations

from collections import Counter

import pytest

from audiences.models import Contact
from connections.models import WebhookEvent
from journeys.models import JourneyRun, JourneySend
from journeys.selectors import journey_report
from tests.campaigns.crash_support import kill, start_beat, start_worker, wait_for, wait_for_workers
from tests.campaigns.engine_support import make_connection
from tests.connections.helpers import envelope, follower_id, post_signed
from tests.journeys.support import line_event, make_journey, with_reply_tokens

N = 500
PER_DELIVERY = 10
WELCOME = [{"type": "text", "text": "Welcome, {{ display_name | default: 'friend' }}!"}]
# The worker's lease and heartbeat, shortened so a lost send is swept within seconds.
FAST_LEASE = {"CAMPAIGN_BATCH_LEASE_SECONDS": "5", "CAMPAIGN_HEARTBEAT_SECONDS": "1"}
# A send whose task the killed worker held but had not claimed is queued again by the sweep
# a minute after it was written (journeys.engine.REQUEUE_AFTER); room to spare on top.
RECOVERY_S = 100

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _post_follows(client, conn, emulator, receiver) -> None:
    """Deliveries of ten follows, signed as LINE signs them: five whose reply tokens the
    emulator has just issued (it also makes them followers, with a profile), five without."""
    half = PER_DELIVERY // 2
    for start in range(0, N, PER_DELIVERY):
        events = [
            line_event("follow", follower_id(n), n, follow={"isUnblocked": False})
            for n in range(start, start + PER_DELIVERY)
        ]
        events[:half] = with_reply_tokens(emulator, receiver, events[:half])
        assert all(e.get("replyToken") for e in events[:half])
        assert post_signed(client, conn, envelope(events)).status_code == 200


def _all_events_are_runs(journey) -> bool:
    open_events = WebhookEvent.objects.filter(
        status__in=(WebhookEvent.Status.PENDING, WebhookEvent.Status.PROCESSING)
    )
    return not open_events.exists() and JourneyRun.objects.filter(journey=journey).count() == N


def _all_runs_final(journey) -> bool:
    runs = JourneyRun.objects.filter(journey=journey)
    return runs.count() == N and not runs.filter(status__in=JourneyRun.OPEN).exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_welcomes_leaves_every_new_friend_welcomed_exactly_once(
    redis_server, broker, start_emulator, receiver, marketer, client, tmp_path
):
    emulator = start_emulator(latency_ms=50, followers=0)
    conn = make_connection(emulator)
    journey = make_journey(
        marketer,
        conn,
        {"type": "follow", "when": "new"},
        steps=[{"type": "send", "messages": WELCOME}],
    )
    where = {"broker_url": broker, "redis_url": redis_server.url + "/2", "var_dir": tmp_path}
    processes = [
        start_beat(**where, **FAST_LEASE),
        start_worker("journeys-first", queues="default,campaigns", **where, **FAST_LEASE),
    ]
    welcomed = lambda: len(emulator.messages())  # noqa: E731
    held = JourneySend.objects.filter(journey=journey, status=JourneySend.Status.SENDING)
    try:
        wait_for_workers(1, **where)
        _post_follows(client, conn, emulator, receiver)
        wait_for(lambda: _all_events_are_runs(journey), 120, "every event to become a run")
        wait_for(lambda: welcomed() >= N // 5 and held.exists(), 120, "the first welcomes")
        kill(processes[1])
        assert welcomed() < N, "every welcome went out before the worker was killed"
        assert held.exists(), "no send was in flight when the worker was killed"
        processes.append(
            start_worker("journeys-second", queues="default,campaigns", **where, **FAST_LEASE)
        )
        wait_for(lambda: _all_runs_final(journey), RECOVERY_S, "every run to finish")
    finally:
        for process in processes:
            kill(process)

    ledger = emulator.messages()
    assert Counter(m["to"] for m in ledger) == {follower_id(n): 1 for n in range(N)}
    names = dict(Contact.objects.values_list("line_id", "display_name"))
    assert {m["to"]: m["messages"][0]["text"] for m in ledger} == {
        follower_id(n): f"Welcome, {names[follower_id(n)] or 'friend'}!" for n in range(N)
    }
    report = journey_report(journey)
    assert (report["triggered"], report["entered"], report["sent"]) == (N, N, N)
    assert report["failed"] == 0 and report["in_progress"] == 0
    assert report["replied"] + report["pushed"] == N
    assert report["replied"] > 0 and report["pushed"] >= N // 2
    # Each send is recorded with the API that carried it.
    assert Counter(m["via"] for m in ledger) == {
        "reply": report["replied"],
        "push": report["pushed"],
    }
