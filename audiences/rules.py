"""The segment rule format: validation, and the vocabulary the builder, the API and the compiler
share. Compiling a rule tree into a queryset lives in `audiences.selectors.segment_contacts`."""

from __future__ import annotations

import datetime
import difflib
import math
import re
from dataclasses import dataclass

OPS = (
    "exists",
    "not_exists",
    "eq",
    "neq",
    "contains",
    "in",
    "gt",
    "gte",
    "lt",
    "lte",
    "within_last",
    "not_within_last",
    "member_of",
    "not_member_of",
)
OP_LABELS = {
    "exists": "exists",
    "not_exists": "does not exist",
    "eq": "equals",
    "neq": "does not equal",
    "contains": "contains",
    "in": "is one of",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "within_last": "within the last",
    "not_within_last": "not within the last",
    "member_of": "member of",
    "not_member_of": "not member of",
}
# within_last takes any whole number of hours or days up to ten years; these are suggestions.
WITHIN_SUGGESTIONS = ("24h", "72h", "7d", "30d", "90d", "365d")
WITHIN_RE = re.compile(r"^([1-9][0-9]{0,5})([hd])$")
WITHIN_MAX_DAYS = 3650
COMPARE_OPS = ("gt", "gte", "lt", "lte")

# Built-in fields: (kind, allowed ops, allowed values for choice fields).
CHOICES = {
    "follow_status": ("following", "unfollowed", "unknown"),
    "kind": ("user", "group", "room"),
    "source": ("import", "api", "webhook", "backfill", "manual"),
}
FIELD_OPS = {
    "line_id": ("exists", "not_exists", "eq", "neq", "contains", "in"),
    "display_name": ("exists", "not_exists", "eq", "neq", "contains", "in"),
    "follow_status": ("eq", "neq", "in"),
    "kind": ("eq", "neq", "in"),
    "source": ("eq", "neq", "in"),
    "opted_out": ("eq", "neq"),
    "created_at": ("gt", "gte", "lt", "lte", "within_last"),
    "last_interaction_at": ("exists", "not_exists", "gt", "gte", "lt", "lte", "within_last"),
    # The contacts another segment matches; the value is that segment's id.
    "segment": ("member_of", "not_member_of"),
}
SEGMENT_OPS = FIELD_OPS["segment"]
# event.<name>: whether the contact did that event (POST /api/v1/events) in the span.
EVENT_PREFIX = "event."
EVENT_OPS = ("within_last", "not_within_last")
EVENT_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,100}\Z")
ATTRIBUTE_PREFIX = "attributes."
ATTRIBUTE_KEY_RE = re.compile(r"^[^\x00-\x1f]{1,100}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_IN_VALUES = 1000
# Attribute numbers compare in SQL; beyond this the databases overflow (SQLite's 64-bit
# integers, casts to float). 10**15 is past any count, price or id a marketer segments on.
MAX_NUMBER = 10**15
# Dates compare in SQL after a shift (to UTC, to the next day); years 1 and 9999 overflow there.
# No contact was created, or last heard from, outside these.
FIRST_DATE, LAST_DATE = datetime.date(1900, 1, 1), datetime.date(2999, 12, 31)


class RuleError(ValueError):
    """A rule tree that cannot be compiled; `field` says where (e.g. `all[1].value`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: object

    @property
    def attribute_key(self) -> str | None:
        if self.field.startswith(ATTRIBUTE_PREFIX):
            return self.field[len(ATTRIBUTE_PREFIX) :]
        return None

    @property
    def event_name(self) -> str | None:
        if self.field.startswith(EVENT_PREFIX):
            return self.field[len(EVENT_PREFIX) :]
        return None


@dataclass(frozen=True)
class Group:
    match: str  # "all" or "any"
    children: tuple  # Condition | Group


def parse_rules(rules: object) -> Group:
    """Validate a rule tree and return it parsed; raise RuleError naming the first problem."""
    return _group(rules, "rules", depth=0)


def _group(node: object, where: str, depth: int) -> Group:
    if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in ("all", "any"):
        raise RuleError(where, 'must be an object with one key, "all" or "any".')
    match, items = next(iter(node.items()))
    if not isinstance(items, list):
        raise RuleError(f"{where}.{match}", "must be a list of conditions.")
    children = []
    for index, item in enumerate(items):
        path = f"{where}.{match}[{index}]"
        if isinstance(item, dict) and ("all" in item or "any" in item):
            if depth >= 1:
                raise RuleError(path, "groups can be nested one level deep only.")
            children.append(_group(item, path, depth + 1))
        else:
            children.append(_condition(item, path))
    return Group(match, tuple(children))


def _condition(item: object, where: str) -> Condition:
    if not isinstance(item, dict):
        raise RuleError(where, "must be a condition {field, op, value} or a group.")
    extra = set(item) - {"field", "op", "value"}
    if extra:
        raise RuleError(where, f"unknown keys: {', '.join(sorted(extra))}.")
    field, op = item.get("field"), item.get("op")
    if not isinstance(field, str) or not _known_field(field):
        raise RuleError(f"{where}.field", _unknown_field(field))
    if op not in OPS:
        raise RuleError(f"{where}.op", f"unknown operator {op!r}; use one of {', '.join(OPS)}.")
    allowed = EVENT_OPS if field.startswith(EVENT_PREFIX) else FIELD_OPS.get(field, ATTRIBUTE_OPS)
    if op not in allowed:
        raise RuleError(
            f"{where}.op", f"operator {op!r} does not apply to {field}; use {', '.join(allowed)}."
        )
    value = _value(field, op, item.get("value"), f"{where}.value")
    return Condition(field, op, value)


ATTRIBUTE_OPS = tuple(op for op in OPS if op not in SEGMENT_OPS and op != "not_within_last")


def _unknown_field(field: object) -> str:
    """The message for an unknown field, with the likely intended one: a built-in field it is
    close to, else the attribute of that name."""
    if not isinstance(field, str) or not field.strip():
        return (
            "choose a field: attributes.<key>, event.<name> or one of " + ", ".join(FIELD_OPS) + "."
        )
    close = difflib.get_close_matches(field, FIELD_OPS, n=1, cutoff=0.8)
    if close:
        return f"unknown field {field!r} — did you mean {close[0]}?"
    if ATTRIBUTE_KEY_RE.match(field) and "." not in field:
        return f"unknown field {field!r} — did you mean the attribute {field}?"
    return (
        f"unknown field {field!r}; use attributes.<key>, event.<name> or one of "
        f"{', '.join(FIELD_OPS)}."
    )


def _known_field(field: str) -> bool:
    if field.startswith(ATTRIBUTE_PREFIX):
        return bool(ATTRIBUTE_KEY_RE.match(field[len(ATTRIBUTE_PREFIX) :]))
    if field.startswith(EVENT_PREFIX):
        name = field[len(EVENT_PREFIX) :]
        return bool(EVENT_NAME_RE.match(name)) and bool(name.strip())
    return field in FIELD_OPS


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)  # isfinite overflows on a huge int


def _check_date_range(value: object, field: str, op: str, where: str) -> None:
    parsed = parse_date(value)
    day = parsed.date() if isinstance(parsed, datetime.datetime) else parsed
    if day is not None and not FIRST_DATE <= day <= LAST_DATE:
        raise RuleError(where, f"{field} {op}: dates are limited to {FIRST_DATE} … {LAST_DATE}.")


def parse_date(value: object) -> datetime.date | datetime.datetime | None:
    """An ISO date (`2024-05-01`) or datetime (`2024-05-01T09:30:00+09:00`), else None."""
    if not isinstance(value, str):
        return None
    try:
        if DATE_RE.match(value):
            return datetime.date.fromisoformat(value)
        if len(value) >= 16 and DATE_RE.match(value[:10]):
            return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return None


def _value(field: str, op: str, value: object, where: str) -> object:
    if op in ("exists", "not_exists"):
        return None
    if op in ("within_last", "not_within_last"):
        within_delta(value, where)
        return value
    if op in SEGMENT_OPS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RuleError(where, f"segment {op} takes a segment id (a whole number).")
        return value
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
            raise RuleError(where, f"{field} in takes a list of 1 to {MAX_IN_VALUES} values.")
        for index, item in enumerate(value):
            _scalar(field, "eq", item, f"{where}[{index}]")
        return value
    return _scalar(field, op, value, where)


def _scalar(field: str, op: str, value: object, where: str) -> object:
    if field in CHOICES:
        if value not in CHOICES[field]:
            raise RuleError(where, f"{field} is one of {', '.join(CHOICES[field])}.")
        return value
    if field == "opted_out":
        if not isinstance(value, bool):
            raise RuleError(where, "opted_out takes true or false.")
        return value
    if field in ("created_at", "last_interaction_at"):
        if parse_date(value) is None:
            raise RuleError(where, f"{field} compares with an ISO date such as 2024-05-01.")
        _check_date_range(value, field, op, where)
        return value
    if field in ("line_id", "display_name") or op == "contains":
        if not isinstance(value, str) or (op == "contains" and not value):
            raise RuleError(where, f"{field} {op} takes a non-empty text value.")
        return value
    if _is_number(value) and abs(value) > MAX_NUMBER:
        raise RuleError(where, f"{field} {op}: numbers are limited to ±{MAX_NUMBER:,}.")
    if op in COMPARE_OPS:
        if not _is_number(value) and parse_date(value) is None:
            raise RuleError(where, f"{field} {op} takes a number or an ISO date.")
        _check_date_range(value, field, op, where)
        return value
    if not (isinstance(value, str | bool) or _is_number(value)):
        raise RuleError(where, f"{field} {op} takes text, a number or true/false.")
    return value


def within_delta(value: object, where: str = "value") -> datetime.timedelta:
    """The span of a within_last value: a whole number of hours or days (`36h`, `90d`)."""
    match = WITHIN_RE.match(value) if isinstance(value, str) else None
    if match:
        number, unit = int(match.group(1)), match.group(2)
        delta = datetime.timedelta(hours=number) if unit == "h" else datetime.timedelta(days=number)
        if delta <= datetime.timedelta(days=WITHIN_MAX_DAYS):
            return delta
    raise RuleError(
        where,
        f"within_last takes a whole number of hours or days, e.g. 36h or 90d, up to "
        f"{WITHIN_MAX_DAYS}d (ten years); {value!r} is not one.",
    )


def rule_fields(rules: Group) -> set[str]:
    fields: set[str] = set()
    for child in rules.children:
        fields |= rule_fields(child) if isinstance(child, Group) else {child.field}
    return fields
