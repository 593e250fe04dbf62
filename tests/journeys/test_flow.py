"""The flow checks of issue #14 on plain step lists: ids, jumps, reachability, loops."""

import datetime

import pytest

from journeys.flow import check_flow, duration, step_ids, successors, time_of_day

SEND = {"type": "send", "messages": [{"type": "text", "text": "hi"}]}


def messages(steps: list[dict]) -> list[tuple[str, str]]:
    return [(p.field, p.message) for p in check_flow(steps)]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("3d", 259200), ("365d", 365 * 86400)],
)
def test_durations(text, seconds):
    assert duration(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["0s", "1w", "366d", "1.5h", " 2h", "2 h", "", None, 5, "05m"])
def test_not_durations(text):
    assert duration(text) is None


def test_times_of_day():
    assert time_of_day("09:05") == datetime.time(9, 5)
    assert [time_of_day(t) for t in ("24:00", "9:05", "10:60", "")] == [None] * 4


def test_ids_default_to_positions_and_steps_fall_through():
    steps = [SEND, {"type": "wait", "duration": "1d", "id": "later"}, SEND]
    ids = step_ids(steps)
    assert ids == ["1", "later", "3"]
    assert [successors(steps, i, ids) for i in range(3)] == [["later"], ["3"], []]


def test_a_linear_flow_and_a_branch_are_fine():
    steps = [
        {**SEND, "id": "welcome"},
        {"type": "wait", "duration": "2d"},
        {"type": "branch", "rules": {"all": []}, "then": "end", "else": "coupon"},
        {**SEND, "id": "coupon"},
        {"type": "exit", "id": "end"},
    ]
    assert messages(steps) == []


def test_unknown_jumps_and_duplicate_ids_name_the_step():
    assert messages([{**SEND, "id": "a"}, {**SEND, "id": "a"}]) == [
        ("steps[1].id", '"a" is already the id of steps[0].')
    ]
    assert messages([{"type": "branch", "then": "nowhere", "else": "2"}, SEND]) == [
        ("steps[0]", 'goes to "nowhere", which is no step\'s id.')
    ]
    assert messages([{**SEND, "id": "bad id"}])[0][0] == "steps[0].id"


def test_unreachable_steps_are_named():
    steps = [{**SEND, "next": "3"}, SEND, {"type": "exit"}]
    assert messages(steps) == [("steps[1]", 'step "2" cannot be reached from the first.')]


def test_a_loop_needs_a_wait():
    loop = [
        {**SEND, "id": "a"},
        {"type": "branch", "then": "a", "else": "end"},
        {"type": "exit", "id": "end"},
    ]
    ((field, message),) = messages(loop)
    assert field == "steps[0]" and message.startswith('loops back without a wait ("a" → "2" → "a")')
    waited = [
        {**SEND, "id": "a"},
        {"type": "wait", "duration": "1d"},
        {"type": "branch", "then": "a", "else": "end"},
        {"type": "exit", "id": "end"},
    ]
    assert messages(waited) == []


def test_split_arms_are_jumps():
    steps = [
        {"type": "split", "arms": [{"weight": 50, "next": "a"}, {"weight": 50, "next": "b"}]},
        {**SEND, "id": "a", "next": "end"},
        {**SEND, "id": "b"},
        {"type": "exit", "id": "end"},
    ]
    assert messages(steps) == []
