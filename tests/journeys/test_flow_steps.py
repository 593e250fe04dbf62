"""Multi-step flows (#14) through the engine: each step type, the timer, and versions."""

import collections
import datetime
import time
import zoneinfo

import pytest
from django.utils import timezone

from audiences.custom_events import custom_event_record
from audiences.models import Contact
from journeys.definition import JourneyInvalid
from journeys.engine import _arm, _wake_time, run_queued, runs_wake
from journeys.entry import enter
from journeys.models import JourneyRun, JourneySend
from journeys.services import journey_update
from tests.connections.helpers import follower_id
from tests.journeys.support import make_journey, texts

pytestmark = pytest.mark.usefixtures("eager_celery")
USER = follower_id(1)
API = {"type": "api"}


def text(t: str) -> dict:
    return {"type": "send", "messages": [{"type": "text", "text": t}]}


@pytest.fixture
def contact(db, connection) -> Contact:
    return Contact.objects.create(line_id=USER, connection=connection, display_name="Aiko")


def start(journey, contact, key="k1") -> JourneyRun:
    run, _ = enter(version=journey.current_version, contact=contact, trigger_key=key, payload={})
    run_queued(run.pk)
    run.refresh_from_db()
    return run


def due(run: JourneyRun) -> None:
    """Time passes: the run's wake time is now."""
    JourneyRun.objects.filter(pk=run.pk).update(wake_at=timezone.now())
    runs_wake()
    run.refresh_from_db()


def test_a_wait_holds_the_run_until_the_timer_wakes_it(marketer, connection, contact, emulator):
    journey = make_journey(
        marketer,
        connection,
        API,
        steps=[text("now"), {"type": "wait", "duration": "2d"}, text("later")],
    )
    run = start(journey, contact)
    assert run.status == "waiting" and texts(emulator, USER) == [("push", "now")]
    remaining = run.wake_at - timezone.now()
    assert (
        datetime.timedelta(days=2) - datetime.timedelta(seconds=30)
        < remaining
        <= datetime.timedelta(days=2)
    )
    assert runs_wake() == 0  # not due yet
    due(run)
    assert run.status == "sent" and [t for _, t in texts(emulator, USER)] == ["now", "later"]
    assert [h["type"] for h in run.history] == ["send", "wait", "send"]


def test_a_20_second_wait_is_kept_by_the_clock(marketer, connection, contact, emulator):
    journey = make_journey(
        marketer,
        connection,
        API,
        steps=[text("one"), {"type": "wait", "duration": "20s"}, text("two")],
    )
    run = start(journey, contact)
    deadline = time.monotonic() + 40
    while run.status == "waiting" and time.monotonic() < deadline:
        time.sleep(0.5)
        runs_wake()
        run.refresh_from_db()
    first, second = emulator.messages(to=USER)
    gap = second["received_at"] - first["received_at"]
    assert 20 <= gap < 26, gap


def test_wait_until_a_time_in_the_contacts_zone():
    class Run:
        contact = Contact(attributes={"timezone": "Asia/Tokyo"})
        journey = None

    now = datetime.datetime(2026, 12, 31, 14, 0, tzinfo=datetime.UTC)  # 23:00 in Tokyo
    at = _wake_time({"type": "wait_until", "time": "10:00", "timezone": "contact"}, Run, now)
    assert at == datetime.datetime(2027, 1, 1, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    early = datetime.datetime(2026, 12, 31, 0, 30, tzinfo=datetime.UTC)  # 09:30 in Tokyo
    assert _wake_time({"type": "wait_until", "time": "10:00"}, Run, early) == datetime.datetime(
        2026, 12, 31, 1, 0, tzinfo=datetime.UTC
    )
    fixed = _wake_time(
        {"type": "wait_until", "time": "10:00", "timezone": "Asia/Bangkok"}, Run, now
    )
    assert fixed == datetime.datetime(2027, 1, 1, 3, 0, tzinfo=datetime.UTC)


def flow_with_wait_for() -> list[dict]:
    return [
        text("welcome"),
        {
            "type": "wait_for",
            "event": "purchase",
            "timeout": "7d",
            "then": "thanks",
            "else": "nudge",
        },
        {**text("come back"), "id": "nudge", "next": "end"},
        {**text("thank you"), "id": "thanks"},
        {"type": "exit", "id": "end"},
    ]


def test_wait_for_takes_then_when_the_event_comes(
    marketer, connection, contact, emulator, django_capture_on_commit_callbacks
):
    journey = make_journey(marketer, connection, API, steps=flow_with_wait_for())
    run = start(journey, contact)
    assert run.status == "waiting" and run.waiting_for["event"] == "purchase"
    with django_capture_on_commit_callbacks(execute=True):
        custom_event_record(name="purchase", line_id=USER)
    runs_wake()
    run.refresh_from_db()
    assert [t for _, t in texts(emulator, USER)] == ["welcome", "thank you"]
    assert run.status == "sent" and run.history[1]["outcome"] == "happened"


def test_wait_for_takes_else_when_it_times_out(marketer, connection, contact, emulator):
    journey = make_journey(marketer, connection, API, steps=flow_with_wait_for())
    run = start(journey, contact)
    JourneyRun.objects.filter(pk=run.pk).update(
        waiting_for={**run.waiting_for, "until": timezone.now().isoformat()}
    )
    due(run)
    assert [t for _, t in texts(emulator, USER)] == ["welcome", "come back"]
    assert run.history[1]["outcome"] == "timed out" and run.history[-1]["type"] == "exit"


def test_a_branch_reads_the_contact_as_it_is_when_reached(marketer, connection, contact, emulator):
    steps = [
        text("hello"),
        {"type": "wait", "duration": "1d"},
        {
            "type": "branch",
            "rules": {"all": [{"field": "attributes.purchased", "op": "eq", "value": True}]},
            "then": "end",
            "else": "coupon",
        },
        {**text("a coupon"), "id": "coupon"},
        {"type": "exit", "id": "end"},
    ]
    journey = make_journey(
        marketer, connection, API, steps=steps, entry="every_time", daily_limit=10
    )
    first = start(journey, contact, "k1")
    due(first)
    Contact.objects.filter(pk=contact.pk).update(attributes={"purchased": True})  # bought meanwhile
    second = start(journey, contact, "k2")
    due(second)
    assert [t for _, t in texts(emulator, USER)] == ["hello", "a coupon", "hello"]
    assert second.status == "sent" and second.history[-2]["outcome"] == "then"


def test_split_weights_hold_and_a_contact_keeps_its_arm():
    step = {
        "type": "split",
        "arms": [
            {"weight": 20, "next": "a"},
            {"weight": 30, "next": "b"},
            {"weight": 50, "next": "c"},
        ],
    }
    counts = collections.Counter(
        _arm(JourneyRun(journey_id=7, contact_id=i, line_id=""), step, "s") for i in range(10_000)
    )
    assert (
        abs(counts["a"] - 2000) <= 300
        and abs(counts["b"] - 3000) <= 300
        and abs(counts["c"] - 5000) <= 300
    )
    again = [_arm(JourneyRun(journey_id=7, contact_id=i, line_id=""), step, "s") for i in range(50)]
    assert again == [
        _arm(JourneyRun(journey_id=7, contact_id=i, line_id=""), step, "s") for i in range(50)
    ]


def test_exit_ends_the_run_before_the_steps_below(marketer, connection, contact, emulator):
    steps = [
        text("only"),
        {"type": "branch", "rules": {"all": []}, "then": "bye", "else": "more"},
        {**text("more"), "id": "more"},
        {"type": "exit", "id": "bye"},
    ]
    journey = make_journey(marketer, connection, API, steps=steps)
    run = start(journey, contact)
    assert run.status == "sent" and texts(emulator, USER) == [("push", "only")]
    assert [h["type"] for h in run.history] == ["send", "branch", "exit"]


def test_a_loop_with_a_wait_sends_again_with_a_new_retry_key(
    marketer, connection, contact, emulator
):
    steps = [{**text("tick"), "id": "tick"}, {"type": "wait", "duration": "1h", "next": "tick"}]
    journey = make_journey(marketer, connection, API, steps=steps, daily_limit=2)
    run = start(journey, contact)
    due(run)
    due(run)  # the third tick is over the daily limit
    sends = list(JourneySend.objects.order_by("position"))
    assert [s.status for s in sends] == ["sent", "sent", "skipped"]
    assert len({s.retry_key for s in sends}) == 3 and [s.position for s in sends] == [0, 2, 4]
    assert len(emulator.messages(to=USER)) == 2


def test_a_waiting_run_finishes_on_the_version_it_entered(marketer, connection, contact, emulator):
    journey = make_journey(
        marketer, connection, API, steps=[{"type": "wait", "duration": "1h"}, text("old")]
    )
    run = start(journey, contact)
    journey_update(
        journey=journey, user=marketer, steps=[{"type": "wait", "duration": "1h"}, text("new")]
    )
    due(run)
    assert texts(emulator, USER) == [("push", "old")]


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        ([{"type": "wait", "duration": "2 days"}, text("x")], "steps[0].duration", "30s"),
        ([{"type": "wait_until", "time": "25:00"}, text("x")], "steps[0].time", "HH:MM"),
        (
            [{"type": "wait_until", "time": "10:00", "timezone": "Mars/Base"}, text("x")],
            "steps[0].timezone",
            "IANA",
        ),
        (
            [{"type": "wait_for", "timeout": "1d"}, text("x")],
            "steps[0]",
            "either an event or a segment",
        ),
        (
            [{"type": "wait_for", "segment": 999, "timeout": "1d"}, text("x")],
            "steps[0].segment",
            "No segment",
        ),
        (
            [
                {"type": "branch", "rules": {"all": [{"field": "nope", "op": "eq", "value": 1}]}},
                text("x"),
            ],
            "steps[0].rules.all[0].field",
            "unknown field 'nope'",
        ),
        (
            [{"type": "split", "arms": [{"weight": 50, "next": "1"}]}, text("x")],
            "steps[0].arms",
            "Between 2",
        ),
        ([{"type": "wait", "duration": "1d"}], "steps", "at least one send"),
        ([text("x"), {"type": "fly"}], "steps[1].type", "one of send"),
        ([text("x"), {"type": "exit", "then": "1"}], "steps[1]", "no then"),
    ],
)
def test_bad_steps_are_refused_naming_the_step(marketer, connection, steps, field, words):
    with pytest.raises(JourneyInvalid) as refused:
        make_journey(marketer, connection, API, steps=steps, activate=False)
    problems = [(p.field, p.message) for p in refused.value.problems]
    assert any(f == field and words in m for f, m in problems), problems


def test_reaching_the_goal_stops_a_later_send(
    marketer, connection, contact, emulator, django_capture_on_commit_callbacks
):
    journey = make_journey(
        marketer,
        connection,
        API,
        goal={"event": "purchase", "within": "7d"},
        steps=[text("welcome"), {"type": "wait", "duration": "2d"}, text("coupon")],
    )
    run = start(journey, contact)
    with django_capture_on_commit_callbacks(execute=True):
        custom_event_record(name="purchase", line_id=USER)
    run.refresh_from_db()
    assert (run.status, run.reason) == ("converted", "goal")
    due(run)
    assert texts(emulator, USER) == [("push", "welcome")]


def test_a_segment_goal_converts_at_the_next_step(marketer, connection, contact, emulator):
    from audiences.services import segment_create

    buyers = segment_create(
        name="Buyers",
        rules={"all": [{"field": "attributes.bought", "op": "eq", "value": True}]},
        user=None,
    )
    journey = make_journey(
        marketer,
        connection,
        API,
        goal={"segment": buyers.pk, "within": "7d"},
        steps=[text("welcome"), {"type": "wait", "duration": "2d"}, text("coupon")],
    )
    run = start(journey, contact)
    Contact.objects.filter(pk=contact.pk).update(attributes={"bought": True})
    due(run)
    assert (run.status, run.reason) == ("converted", "goal")
    assert texts(emulator, USER) == [("push", "welcome")]


def test_unfollowing_or_opting_out_ends_the_run(marketer, connection, contact, emulator):
    steps = [text("welcome"), {"type": "wait", "duration": "1d"}, text("later")]
    journey = make_journey(marketer, connection, API, steps=steps, entry="every_time")
    first = start(journey, contact, "k1")
    Contact.objects.filter(pk=contact.pk).update(opted_out=True)
    due(first)
    assert (first.status, first.reason) == ("exited", "opted_out")
    assert texts(emulator, USER) == [("push", "welcome")]


def quiet(action: str) -> dict:
    return {"from": "21:00", "to": "09:00", "timezone": "Asia/Tokyo", "action": action}


def at_tokyo(hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 12, 3, hour, minute, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))


@pytest.mark.parametrize("hour", [21, 23, 3, 8])
def test_quiet_hours_delay_a_send_to_their_end_spread_over_ten_minutes(
    marketer, connection, contact, emulator, hour, monkeypatch
):
    journey = make_journey(
        marketer, connection, API, quiet_hours=quiet("delay"), steps=[text("hi")]
    )
    now = at_tokyo(hour)
    monkeypatch.setattr(timezone, "now", lambda: now)
    run = start(journey, contact)
    assert run.status == "waiting" and not emulator.messages(to=USER)
    local = run.wake_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute < 10) == (9, True)
    assert local.date() == (now.date() if hour < 9 else now.date() + datetime.timedelta(days=1))


def test_quiet_hours_skip_a_send_with_the_reason(
    marketer, connection, contact, emulator, monkeypatch
):
    journey = make_journey(marketer, connection, API, quiet_hours=quiet("skip"), steps=[text("hi")])
    monkeypatch.setattr(timezone, "now", lambda: at_tokyo(22))
    run = start(journey, contact)
    send = JourneySend.objects.get()
    assert (send.status, send.reason) == ("skipped", "quiet_hours") and run.status == "skipped"
    assert not emulator.messages(to=USER)


def test_outside_quiet_hours_a_send_goes_at_once(
    marketer, connection, contact, emulator, monkeypatch
):
    journey = make_journey(
        marketer, connection, API, quiet_hours=quiet("delay"), steps=[text("hi")]
    )
    monkeypatch.setattr(timezone, "now", lambda: at_tokyo(9, 30))
    start(journey, contact)
    assert texts(emulator, USER) == [("push", "hi")]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"goal": {"event": "buy"}}, "goal.within"),
        ({"goal": {"segment": 12345, "within": "7d"}}, "goal.segment"),
        ({"quiet_hours": {"from": "21:00", "to": "21:00"}}, "quiet_hours.to"),
        ({"quiet_hours": {"from": "9pm", "to": "09:00"}}, "quiet_hours.from"),
        ({"exit_when": {"segment_left": True}}, "exit_when"),
        ({"timezone": "Nowhere/City"}, "timezone"),
    ],
)
def test_bad_goal_quiet_hours_exit_and_zone_are_refused(marketer, connection, fields, field):
    with pytest.raises(JourneyInvalid) as refused:
        make_journey(marketer, connection, API, activate=False, **fields)
    assert field in [p.field for p in refused.value.problems]


def test_a_test_run_shortens_waits_and_skips_entry_rules(marketer, connection, contact, emulator):
    from journeys.services import journey_test

    steps = [text("one"), {"type": "wait", "duration": "2d"}, text("two")]
    journey = make_journey(marketer, connection, API, steps=steps, activate=False)
    Contact.objects.filter(pk=contact.pk).update(opted_out=True)  # entry rules do not apply
    run = journey_test(journey=journey, contact=contact, user=marketer)
    assert run.test and run.status == "queued"
    run_queued(run.pk)
    run.refresh_from_db()
    assert run.status == "waiting" and run.wake_at <= timezone.now() + datetime.timedelta(seconds=3)
