"""What a journey's definition may hold (docs/design.md §11): its trigger, entry conditions,
entry rule and steps, checked on every save. Problems name the field they are in."""

from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass
from typing import Any

from audiences.rules import EVENT_NAME_RE, RuleError, parse_rules, within_delta
from campaigns.models import MessageTemplate
from campaigns.services import messages_problems
from journeys.flow import check_flow, duration, time_of_day
from journeys.models import Journey
from kit.timezones import canonical_zone

MAX_STEPS = 50
MAX_KEYWORDS = 50
KEYWORD_CHARS = 100
POSTBACK_DATA_CHARS = 300  # LINE's limit on a postback action's data
MAX_DAILY_LIMIT = 100
FOLLOW_WHEN = ("new", "unblocked", "any")
KEYWORD_MATCH = ("exact", "contains")
POSTBACK_MATCH = ("exact", "prefix")
# A welcome or a keyword answer is marketing; what a customer's own action or the brand's
# systems cause (an order receipt) may be transactional.
TRANSACTIONAL_TRIGGERS = (Journey.Trigger.EVENT, Journey.Trigger.API, Journey.Trigger.POSTBACK)


@dataclass
class Problem:
    field: str
    message: str


class JourneyInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


def normalized(text: str) -> str:
    """Keyword matching: Unicode NFKC (full-width letters match ASCII), case folded, trimmed."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def entry_period(entry: object) -> datetime.timedelta | None:
    """The `at_most_every` span of an entry rule, None for `once` and `every_time`."""
    if isinstance(entry, dict):
        return within_delta(entry.get("at_most_every"), "entry.at_most_every")
    return None


def check(
    *,
    name: object,
    trigger: object,
    entry_conditions: object,
    entry: object,
    steps: object,
    transactional: object,
    daily_limit: object,
    goal: object = None,
    exit_when: object = None,
    quiet_hours: object = None,
    timezone: object = "",
) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("name", "Give the journey a name."))
    elif len(name) > 200:
        problems.append(Problem("name", "At most 200 characters."))
    problems += _trigger(trigger)
    if entry_conditions not in (None, {}):
        try:
            parse_rules(entry_conditions)
        except RuleError as exc:
            problems.append(
                Problem(f"entry_conditions.{exc.field.removeprefix('rules.')}", exc.message)
            )
    problems += _entry(entry)
    problems += _steps(steps)
    if not isinstance(transactional, bool):
        problems.append(Problem("transactional", "Must be true or false."))
    elif (
        transactional
        and isinstance(trigger, dict)
        and trigger.get("type") in Journey.Trigger.values
    ) and trigger["type"] not in TRANSACTIONAL_TRIGGERS:
        problems.append(
            Problem(
                "transactional",
                "Only event, API and postback journeys can be transactional: a welcome "
                "or a keyword answer is marketing, and obeys opt-outs and the frequency cap.",
            )
        )
    problems += _goal(goal) + _exit_when(exit_when, trigger) + _quiet_hours(quiet_hours)
    if timezone and (not isinstance(timezone, str) or canonical_zone(timezone) is None):
        problems.append(Problem("timezone", 'An IANA zone such as "Asia/Tokyo", or empty.'))
    if isinstance(daily_limit, bool) or not isinstance(daily_limit, int):
        problems.append(Problem("daily_limit", "A whole number of sends per contact per day."))
    elif not 1 <= daily_limit <= MAX_DAILY_LIMIT:
        problems.append(Problem("daily_limit", f"Between 1 and {MAX_DAILY_LIMIT} sends a day."))
    return problems


def _trigger(trigger: object) -> list[Problem]:
    if not isinstance(trigger, dict) or trigger.get("type") not in Journey.Trigger.values:
        kinds = ", ".join(Journey.Trigger.values)
        return [Problem("trigger.type", f"Choose a trigger: one of {kinds}.")]
    kind = trigger["type"]
    allowed = {
        "follow": {"when"},
        "keyword": {"keywords", "match"},
        "postback": {"data", "match"},
        "join": set(),
        "event": {"name"},
        "api": set(),
    }[kind] | {"type"}
    problems = [
        Problem(f"trigger.{key}", f"A {kind} trigger has no option {key!r}.")
        for key in trigger
        if key not in allowed
    ]
    if kind == "follow" and trigger.get("when", "any") not in FOLLOW_WHEN:
        problems.append(Problem("trigger.when", "One of new, unblocked or any."))
    if kind == "keyword":
        keywords = trigger.get("keywords")
        if not isinstance(keywords, list) or not keywords:
            problems.append(Problem("trigger.keywords", "Give at least one keyword."))
        elif len(keywords) > MAX_KEYWORDS:
            problems.append(Problem("trigger.keywords", f"At most {MAX_KEYWORDS} keywords."))
        else:
            for i, keyword in enumerate(keywords):
                if not isinstance(keyword, str) or not normalized(keyword):
                    problems.append(Problem(f"trigger.keywords[{i}]", "A keyword is some text."))
                elif len(keyword) > KEYWORD_CHARS:
                    problems.append(
                        Problem(f"trigger.keywords[{i}]", f"At most {KEYWORD_CHARS} characters.")
                    )
        if trigger.get("match", "exact") not in KEYWORD_MATCH:
            problems.append(Problem("trigger.match", "One of exact or contains."))
    if kind == "postback":
        data = trigger.get("data")
        if not isinstance(data, str) or not data:
            problems.append(Problem("trigger.data", "Give the postback data to match."))
        elif len(data) > POSTBACK_DATA_CHARS:
            problems.append(
                Problem(
                    "trigger.data",
                    f"LINE's postback data is at most {POSTBACK_DATA_CHARS} characters.",
                )
            )
        if trigger.get("match", "exact") not in POSTBACK_MATCH:
            problems.append(Problem("trigger.match", "One of exact or prefix."))
    if kind == "event":
        event_name = trigger.get("name")
        if (
            not isinstance(event_name, str)
            or not event_name.strip()
            or not EVENT_NAME_RE.match(event_name)
        ):
            problems.append(
                Problem(
                    "trigger.name", "The event's name: 1 to 100 characters, no control characters."
                )
            )
    return problems


def _entry(entry: object) -> list[Problem]:
    if entry in ("once", "every_time"):
        return []
    if isinstance(entry, dict) and set(entry) == {"at_most_every"}:
        try:
            entry_period(entry)
        except RuleError as exc:
            return [
                Problem("entry.at_most_every", exc.message.replace("within_last", "at_most_every"))
            ]
        return []
    return [Problem("entry", 'One of "once", "every_time" or {"at_most_every": "30d"}.')]


STEP_FIELDS: dict[str, set[str]] = {
    "send": {"template", "messages", "next"},
    "wait": {"duration", "next"},
    "wait_until": {"time", "timezone", "next"},
    "wait_for": {"event", "segment", "timeout", "then", "else"},
    "branch": {"rules", "then", "else"},
    "split": {"arms"},
    "exit": set(),
}
MAX_ARMS = 10


def _steps(steps: object) -> list[Problem]:
    if not isinstance(steps, list) or not steps:
        return [Problem("steps", "Add at least one send step.")]
    if len(steps) > MAX_STEPS:
        return [Problem("steps", f"At most {MAX_STEPS} steps.")]
    problems: list[Problem] = []
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(step, dict) or step.get("type") not in STEP_FIELDS:
            kinds = ", ".join(STEP_FIELDS)
            problems.append(Problem(f"{where}.type", f"A step's type is one of {kinds}."))
            continue
        kind = step["type"]
        extra = set(step) - STEP_FIELDS[kind] - {"type", "id"}
        if extra:
            problems.append(Problem(where, f"A {kind} step has no {', '.join(sorted(extra))}."))
        problems += CHECKS[kind](step, where)
    if not problems and not any(s.get("type") == "send" for s in steps):
        problems.append(Problem("steps", "Add at least one send step."))
    if not problems:
        problems = [Problem(p.field, p.message) for p in check_flow(steps)]
    return problems


def _send_step(step: dict, where: str) -> list[Problem]:
    problems: list[Problem] = []
    has_template, has_messages = step.get("template") is not None, bool(step.get("messages"))
    if has_template == has_messages:
        problems.append(Problem(where, "Give either a template or messages."))
    elif has_template:
        template_id = step["template"]
        if isinstance(template_id, bool) or not isinstance(template_id, int):
            problems.append(Problem(f"{where}.template", "A template's id."))
        elif not MessageTemplate.objects.filter(pk=template_id).exists():
            problems.append(Problem(f"{where}.template", f"No template has id {template_id}."))
    else:
        for problem in messages_problems(step["messages"]):
            path, _, message = problem.partition(": ")
            if path.startswith("messages") and message:
                problems.append(Problem(f"{where}.{path}", message))
            else:
                problems.append(Problem(f"{where}.messages", problem))
    return problems


DURATION_HELP = 'A whole number with s, m, h or d ("30s", "15m", "2h", "3d"), up to 365d.'


def _duration(step: dict, key: str, where: str) -> list[Problem]:
    if duration(step.get(key)) is None:
        return [Problem(f"{where}.{key}", DURATION_HELP)]
    return []


def _wait_step(step: dict, where: str) -> list[Problem]:
    return _duration(step, "duration", where)


def _wait_until_step(step: dict, where: str) -> list[Problem]:
    problems = []
    if time_of_day(step.get("time")) is None:
        problems.append(Problem(f"{where}.time", 'A time of day, "HH:MM" from 00:00 to 23:59.'))
    zone = step.get("timezone", "contact")
    if zone != "contact" and (not isinstance(zone, str) or canonical_zone(zone) is None):
        problems.append(
            Problem(
                f"{where}.timezone",
                "\"contact\" (the contact's timezone attribute, else the journey's) or an IANA "
                'zone such as "Asia/Tokyo".',
            )
        )
    return problems


def _wait_for_step(step: dict, where: str) -> list[Problem]:
    problems = []
    has_event, has_segment = step.get("event") is not None, step.get("segment") is not None
    if has_event == has_segment:
        problems.append(Problem(where, "Wait for either an event or a segment."))
    elif has_event:
        name = step["event"]
        if not isinstance(name, str) or not name.strip() or not EVENT_NAME_RE.match(name):
            problems.append(Problem(f"{where}.event", "The event's name: 1 to 100 characters."))
    else:
        problems += _segment(step["segment"], f"{where}.segment")
    return problems + _duration(step, "timeout", where)


def _segment(segment_id: object, field: str) -> list[Problem]:
    from audiences.models import Segment

    if isinstance(segment_id, bool) or not isinstance(segment_id, int):
        return [Problem(field, "A segment's id.")]
    if not Segment.objects.filter(pk=segment_id).exists():
        return [Problem(field, f"No segment has id {segment_id}.")]
    return []


def _branch_step(step: dict, where: str) -> list[Problem]:
    try:
        parse_rules(step.get("rules"))
    except RuleError as exc:
        return [Problem(f"{where}.{exc.field}", exc.message)]
    return []


def _split_step(step: dict, where: str) -> list[Problem]:
    arms = step.get("arms")
    if not isinstance(arms, list) or not 2 <= len(arms) <= MAX_ARMS:
        return [Problem(f"{where}.arms", f"Between 2 and {MAX_ARMS} arms.")]
    problems = []
    for j, arm in enumerate(arms):
        at = f"{where}.arms[{j}]"
        if not isinstance(arm, dict) or set(arm) - {"weight", "next"}:
            problems.append(Problem(at, 'An arm is {"weight": 1-100, "next": step id}.'))
            continue
        weight = arm.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
            problems.append(Problem(f"{at}.weight", "A whole number from 1 to 100."))
        if not isinstance(arm.get("next"), str):
            problems.append(Problem(f"{at}.next", "The id of the step this arm goes to."))
    return problems


CHECKS = {
    "send": _send_step,
    "wait": _wait_step,
    "wait_until": _wait_until_step,
    "wait_for": _wait_for_step,
    "branch": _branch_step,
    "split": _split_step,
    "exit": lambda step, where: [],
}


def _goal(goal: object) -> list[Problem]:
    if goal is None:
        return []
    if not isinstance(goal, dict) or set(goal) - {"event", "segment", "within"}:
        return [Problem("goal", 'A goal is {"event": name} or {"segment": id}, with "within".')]
    problems = []
    has_event, has_segment = goal.get("event") is not None, goal.get("segment") is not None
    if has_event == has_segment:
        problems.append(Problem("goal", "A goal is either an event or a segment."))
    elif has_event:
        name = goal["event"]
        if not isinstance(name, str) or not name.strip() or not EVENT_NAME_RE.match(name):
            problems.append(Problem("goal.event", "The event's name: 1 to 100 characters."))
    else:
        problems += _segment(goal["segment"], "goal.segment")
    if duration(goal.get("within")) is None:
        problems.append(Problem("goal.within", DURATION_HELP))
    return problems


def _exit_when(exit_when: object, trigger: object) -> list[Problem]:
    if exit_when is None:
        return []
    if exit_when != {"segment_left": True}:
        return [Problem("exit_when", '{"segment_left": true} is the one exit rule.')]
    if not isinstance(trigger, dict) or trigger.get("type") != "segment_entry":
        return [
            Problem(
                "exit_when", "Only a journey that starts on a segment entry can exit on leaving it."
            )
        ]
    return []


def _quiet_hours(quiet: object) -> list[Problem]:
    if quiet is None:
        return []
    keys = {"from", "to", "timezone", "action"}
    if not isinstance(quiet, dict) or set(quiet) - keys:
        return [
            Problem(
                "quiet_hours",
                'Quiet hours are {"from": "21:00", "to": "09:00", "timezone": "contact", '
                '"action": "delay" or "skip"}.',
            )
        ]
    problems = []
    for key in ("from", "to"):
        if time_of_day(quiet.get(key)) is None:
            problems.append(Problem(f"quiet_hours.{key}", 'A time of day, "HH:MM".'))
    if not problems and quiet["from"] == quiet["to"]:
        problems.append(
            Problem("quiet_hours.to", "Quiet hours end at another time than they start.")
        )
    zone = quiet.get("timezone", "contact")
    if zone != "contact" and (not isinstance(zone, str) or canonical_zone(zone) is None):
        problems.append(Problem("quiet_hours.timezone", '"contact" or an IANA zone.'))
    if quiet.get("action", "delay") not in ("delay", "skip"):
        problems.append(Problem("quiet_hours.action", "delay or skip."))
    return problems


def frozen_steps(steps: list[dict]) -> list[dict]:
    """Steps as a version keeps them: a template's messages copied in, so that a run sends what
    its version said even after the template is edited."""
    templates = MessageTemplate.objects.in_bulk(
        [s["template"] for s in steps if s.get("template") is not None]
    )
    frozen = []
    for step in steps:
        step = dict(step)
        if step.get("template") is not None:
            step["messages"] = list(templates[step["template"]].messages)
        frozen.append(step)
    return frozen


def summary(trigger: dict[str, Any]) -> str:
    """The trigger in a line, for lists and reports."""
    kind = trigger.get("type")
    if kind == "follow":
        return {"new": "new friends", "unblocked": "friends who unblock", "any": "every follow"}[
            trigger.get("when", "any")
        ]
    if kind == "keyword":
        words = ", ".join(f"“{k}”" for k in trigger.get("keywords", []))
        return f"message {'is' if trigger.get('match', 'exact') == 'exact' else 'contains'} {words}"
    if kind == "postback":
        how = "starts with" if trigger.get("match") == "prefix" else "is"
        return f"postback data {how} “{trigger.get('data', '')}”"
    if kind == "join":
        return "the bot joins a group or room"
    if kind == "event":
        return f"event “{trigger.get('name', '')}”"
    if kind == "api":
        return "API call"
    return "—"
