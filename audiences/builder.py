"""The segment builder form: rows of (field, op, value) posted as `rN-field`, `rN-op`,
`rN-value`, `rN-group`, with `match` for the top level and `gK-match` per group. This module
turns those rows into the rule format and back; the rules themselves are checked by
`audiences.rules`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from audiences.models import Segment
from audiences.rules import (
    ATTRIBUTE_PREFIX,
    CHOICES,
    EVENT_PREFIX,
    FIELD_OPS,
    OP_LABELS,
    OPS,
    WITHIN_SUGGESTIONS,
    RuleError,
)
from audiences.selectors import attribute_catalogue, custom_event_names

ROW_RE = re.compile(r"^r(\d+)-field$")
GROUP_RE = re.compile(r"^g\d+$")
NO_VALUE = ("exists", "not_exists")


@dataclass
class Row:
    field: str = ""
    op: str = "eq"
    value: str = ""
    group: str = ""  # "" for the top level, else the group's id (g1, g2, ...)


@dataclass
class Builder:
    match: str = "all"
    rows: list[Row] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # group id -> all/any

    def blocks(self) -> list[dict]:
        """Rows in display order, a group's rows together where its first row stands."""
        blocks, seen = [], {}
        for number, row in enumerate(self.rows, start=1):
            item = {"n": number, "row": row}
            if not row.group:
                blocks.append(item)
            elif row.group in seen:
                seen[row.group]["rows"].append(item)
            else:
                seen[row.group] = {
                    "group": row.group,
                    "match": self.groups.get(row.group, "all"),
                    "rows": [item],
                }
                blocks.append(seen[row.group])
        return blocks


def from_post(data) -> Builder:
    numbers = sorted(int(m.group(1)) for key in data if (m := ROW_RE.match(key)))
    rows = [
        Row(
            field=data.get(f"r{n}-field", "").strip(),
            op=data.get(f"r{n}-op", "eq"),
            value=data.get(f"r{n}-value", ""),
            group=g if GROUP_RE.match(g := data.get(f"r{n}-group", "")) else "",
        )
        for n in numbers
    ]
    groups = {r.group: _match(data.get(f"{r.group}-match")) for r in rows if r.group}
    return Builder(match=_match(data.get("match")), rows=rows, groups=groups)


def _match(value: str | None) -> str:
    return "any" if value == "any" else "all"


def apply_action(builder: Builder, action: str) -> Builder:
    """add, add-group, add-to-gK, remove-N (1-based row number)."""
    if action == "add":
        builder.rows.append(Row())
    elif action == "add-group":
        number = 1 + max((int(g[1:]) for g in builder.groups), default=0)
        builder.groups[f"g{number}"] = "any"
        builder.rows += [Row(group=f"g{number}"), Row(group=f"g{number}")]
    elif action.startswith("add-to-") and action[7:] in builder.groups:
        builder.rows.append(Row(group=action[7:]))
    elif action.startswith("remove-") and action[7:].isdigit():
        index = int(action[7:]) - 1
        if 0 <= index < len(builder.rows):
            del builder.rows[index]
    return builder


def to_rules(builder: Builder, types: dict[str, str]) -> dict:
    return _rules_and_paths(builder, types)[0]


def _rules_and_paths(builder: Builder, types: dict[str, str]) -> tuple[dict, dict[str, int]]:
    """The rule tree, and the JSON path of each row's condition (and of each group, at its
    first row) mapped to the row's number as the page shows it."""
    items: list = []
    groups: dict[str, tuple[str, list]] = {}  # group id -> (its path, its conditions)
    paths: dict[str, int] = {}
    for number, row in enumerate(builder.rows, start=1):
        if not row.field:
            continue
        condition = {"field": row.field, "op": row.op}
        if row.op not in NO_VALUE:
            condition["value"] = coerce(row.field, row.op, row.value, types)
        if row.group:
            match = builder.groups.get(row.group, "all")
            if row.group not in groups:
                groups[row.group] = (f"rules.{builder.match}[{len(items)}]", [])
                paths[groups[row.group][0]] = number
                items.append({match: groups[row.group][1]})
            group_path, conditions = groups[row.group]
            paths[f"{group_path}.{match}[{len(conditions)}]"] = number
            conditions.append(condition)
        else:
            paths[f"rules.{builder.match}[{len(items)}]"] = number
            items.append(condition)
    return {builder.match: items}, paths


def error_message(builder: Builder, types: dict[str, str], error: RuleError) -> str:
    """A rule error in the builder's words: "Row 2: …", then the JSON path it is at."""
    _, paths = _rules_and_paths(builder, types)
    row = next(
        (
            number
            for path, number in sorted(paths.items(), key=lambda item: -len(item[0]))
            if error.field == path or error.field.startswith((f"{path}.", f"{path}["))
        ),
        None,
    )
    where = f"Row {row}: " if row else ""
    return f"{where}{error.message} (at {error.field})"


def from_rules(rules: dict) -> Builder:
    """Rows for a stored rule tree (already valid)."""
    match = "any" if "any" in rules else "all"
    builder = Builder(match=match)
    for item in rules.get(match, []):
        if "all" in item or "any" in item:
            group_match = "any" if "any" in item else "all"
            gid = f"g{len(builder.groups) + 1}"
            builder.groups[gid] = group_match
            builder.rows += [_row(c, gid) for c in item[group_match]]
        else:
            builder.rows.append(_row(item, ""))
    return builder


def _row(condition: dict, group: str) -> Row:
    value = condition.get("value", "")
    text = ", ".join(_text(v) for v in value) if isinstance(value, list) else _text(value)
    return Row(condition.get("field", ""), condition.get("op", "eq"), text, group)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def coerce(field_name: str, op: str, raw: str, types: dict[str, str]) -> object:
    """A typed value from the text box: lists for `in`, numbers and booleans where they fit."""
    if op == "in":
        return [_scalar(field_name, op, part.strip(), types) for part in raw.split(",") if part]
    return _scalar(field_name, op, raw.strip(), types)


def _scalar(field_name: str, op: str, raw: str, types: dict[str, str]) -> object:
    if field_name == "opted_out":
        return _bool(raw)
    if field_name == "segment":
        return int(raw) if raw.isdigit() else raw
    if not field_name.startswith(ATTRIBUTE_PREFIX) or op in ("contains", "within_last"):
        return raw
    kind = types.get(field_name[len(ATTRIBUTE_PREFIX) :])
    if kind == "boolean":
        return _bool(raw)
    if kind in ("number", None) or op in ("gt", "gte", "lt", "lte"):
        number = _number(raw)
        if number is not None:
            return number
    if kind is None and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def _bool(raw: str) -> object:
    lowered = raw.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    return raw


def _number(raw: str) -> int | float | None:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return None


def field_options(catalogue: list[dict], event_names: list[str] = ()) -> list[tuple[str, str]]:
    builtin = [(name, name.replace("_", " ")) for name in FIELD_OPS if name != "segment"]
    builtin.append(("segment", "segment (member of another segment; the value is its id)"))
    attributes = [(f"{ATTRIBUTE_PREFIX}{c['key']}", f"{c['key']} ({c['type']})") for c in catalogue]
    events = [
        (f"{EVENT_PREFIX}{name}", f"did event {name} (within / not within)") for name in event_names
    ]
    return attributes + events + builtin


def op_options() -> list[tuple[str, str]]:
    return [(op, OP_LABELS[op]) for op in OPS]


def value_hints(segments: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """(value, label) suggestions for the value box; a segment is offered by its id."""
    hints = [*WITHIN_SUGGESTIONS, "true", "false"]
    for values in CHOICES.values():
        hints += values
    return [(hint, "") for hint in hints] + [(str(pk), f"segment: {name}") for pk, name in segments]


def attribute_types() -> dict[str, str]:
    """Each catalogued attribute's type, which `to_rules` needs to type the values typed."""
    return {c["key"]: c["type"] for c in attribute_catalogue()}


def page_context(builder: Builder, error: str = "") -> dict:
    """What `_segment_builder.html` needs, on the segment page or embedded in another form
    (a journey's entry conditions)."""
    catalogue = attribute_catalogue()
    types = {c["key"]: c["type"] for c in catalogue}
    return {
        "builder": builder,
        "blocks": builder.blocks(),
        "rules_json": json.dumps(to_rules(builder, types), indent=2, ensure_ascii=False),
        "field_options": field_options(catalogue, custom_event_names()),
        "op_options": op_options(),
        "value_hints": value_hints(list(Segment.objects.values_list("pk", "name"))),
        "builder_error": error,
    }
