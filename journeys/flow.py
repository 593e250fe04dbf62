"""A journey's steps as a flow (issue #14): ids, where each step goes next, and the checks on
save: every id known, every step reachable, no loop without a wait, at most 50 steps. Pure
functions over the steps' JSON; problems name the step (`steps[3] (id "coupon")`)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

STEP_TYPES = ("send", "wait", "wait_until", "wait_for", "branch", "split", "exit")
# Steps that hold a run until later: a loop through one of them cannot spin.
WAITING = ("wait", "wait_until", "wait_for")
DURATION_RE = re.compile(r"^([1-9][0-9]{0,6})(s|m|h|d)\Z")
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])\Z")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}\Z")
MAX_DURATION = datetime.timedelta(days=365)
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class FlowProblem:
    field: str
    message: str


def duration(value: object) -> datetime.timedelta | None:
    """`30s`, `15m`, `2h`, `3d` (up to 365 days) as a timedelta; None when not one."""
    match = DURATION_RE.match(value) if isinstance(value, str) else None
    if not match:
        return None
    delta = datetime.timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    return delta if delta <= MAX_DURATION else None


def time_of_day(value: object) -> datetime.time | None:
    match = TIME_RE.match(value) if isinstance(value, str) else None
    return datetime.time(int(match.group(1)), int(match.group(2))) if match else None


def step_ids(steps: list[dict]) -> list[str]:
    """Each step's id: its own, else its position counted from 1 ("1", "2", …)."""
    return [
        str(step["id"]) if isinstance(step, dict) and step.get("id") is not None else str(i + 1)
        for i, step in enumerate(steps)
    ]


def successors(steps: list[dict], index: int, ids: list[str]) -> list[str]:
    """The ids a step can go to; an empty list ends the run there."""
    step = steps[index]
    kind = step.get("type")
    following = [ids[index + 1]] if index + 1 < len(steps) else []
    if kind == "exit":
        return []
    if kind in ("branch", "wait_for"):
        # A missing "then" or "else" goes on to the step below.
        targets = [
            step.get(key) if isinstance(step.get(key), str) else None for key in ("then", "else")
        ]
        return list(
            dict.fromkeys(
                t for t in (t or (following[0] if following else None) for t in targets) if t
            )
        )
    if kind == "split":
        arms = step.get("arms") if isinstance(step.get("arms"), list) else []
        return [
            arm["next"]
            for arm in arms
            if isinstance(arm, dict) and isinstance(arm.get("next"), str)
        ]
    if isinstance(step.get("next"), str):
        return [step["next"]]
    return following


def _where(index: int, ids: list[str]) -> str:
    return f"steps[{index}]"


def check_flow(steps: list[dict]) -> list[FlowProblem]:
    """Ids unique and known, every step reachable from the first, no loop without a wait."""
    ids = step_ids(steps)
    problems: list[FlowProblem] = []
    seen: dict[str, int] = {}
    for i, step_id in enumerate(ids):
        if not ID_RE.match(step_id):
            problems.append(
                FlowProblem(f"steps[{i}].id", "An id is 1 to 40 letters, digits, - or _.")
            )
        if step_id in seen:
            problems.append(
                FlowProblem(
                    f"steps[{i}].id", f'"{step_id}" is already the id of steps[{seen[step_id]}].'
                )
            )
        seen.setdefault(step_id, i)
    if problems:
        return problems
    index = {step_id: i for i, step_id in enumerate(ids)}
    for i in range(len(steps)):
        for target in successors(steps, i, ids):
            if target not in index:
                problems.append(
                    FlowProblem(_where(i, ids), f'goes to "{target}", which is no step\'s id.')
                )
    if problems:
        return problems
    reachable, todo = {ids[0]}, [ids[0]]
    while todo:
        here = index[todo.pop()]
        for target in successors(steps, here, ids):
            if target not in reachable:
                reachable.add(target)
                todo.append(target)
    for i, step_id in enumerate(ids):
        if step_id not in reachable:
            problems.append(
                FlowProblem(_where(i, ids), f'step "{step_id}" cannot be reached from the first.')
            )
    loop = _loop_without_wait(steps, ids, index)
    if loop:
        path = " → ".join(f'"{s}"' for s in loop)
        problems.append(
            FlowProblem(
                _where(index[loop[0]], ids),
                f"loops back without a wait ({path}): add a wait step in the loop.",
            )
        )
    return problems


def _loop_without_wait(steps: list[dict], ids: list[str], index: dict[str, int]) -> list[str]:
    """A cycle through steps none of which waits, as the ids along it; [] when none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(step_id: str) -> list[str]:
        state[step_id] = 1
        path.append(step_id)
        for target in successors(steps, index[step_id], ids):
            if steps[index[target]].get("type") in WAITING:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[step_id] = 2
        return []

    for step_id in ids:
        if step_id not in state and steps[index[step_id]].get("type") not in WAITING:
            found = visit(step_id)
            if found:
                return found
    return []
