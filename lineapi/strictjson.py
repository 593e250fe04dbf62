"""JSON from outside (API bodies, webhooks) as JSON defines it: no NaN, no Infinity, bounded depth.

Python's json module accepts NaN, Infinity and -Infinity, and turns a number too large for a
float (1e999) into inf; no database column stores those, so they are refused at the door. It
also recurses once per nesting level: 200,000 nested arrays end in a RecursionError, so depth is
measured on the text before parsing, with a regular expression that steps over strings.

`loads(..., keep=True)` is for deliveries that must be stored whatever one part of them holds
(webhooks): values deeper than MAX_DEPTH and numbers no column stores are kept as strings that
`storable()` recognises, names and replaces, instead of refusing the whole body. `storable()` also
escapes what PostgreSQL's jsonb and text columns cannot hold: U+0000 and lone surrogates.
"""

import json
import math
import re
from typing import Any

NOT_FINITE = "NaN/Infinity are not allowed"
MAX_DEPTH = 64

# A JSON string (stepped over whole, in C) or one bracket.
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
# What `keep=True` puts in place of a value nested too deep. It starts with U+0000, which
# `storable()` escapes in every other string, so no string that arrived is taken for it.
_TOO_DEEP = f"\x00nested deeper than {MAX_DEPTH} levels"
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class _Kept(str):
    """A number kept as its text (`keep=True`); `storable()` turns it into a plain string."""


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{NOT_FINITE} ({name})")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{NOT_FINITE} ({text[:30]} is out of range)")
    return value


def _kept_float(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else _Kept(text)


def _text(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    # As json.loads does with bytes: UTF-8, -16 or -32, surrogates passed through.
    return raw.decode(json.detect_encoding(raw), "surrogatepass")


def _bound_depth(text: str, *, keep: bool) -> str:
    """The text, or ValueError if nested deeper than MAX_DEPTH; with `keep`, each value that
    starts one level too deep is replaced by the _TOO_DEEP string instead."""
    depth, cut_from, pieces, last = 0, -1, [], 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH and cut_from < 0:
                if not keep:
                    raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
                cut_from = match.start()
            continue
        depth -= 1
        if depth == MAX_DEPTH and cut_from >= 0:
            pieces += [text[last:cut_from], json.dumps(_TOO_DEEP)]
            last, cut_from = match.end(), -1
        elif depth < 0:
            break  # unbalanced: json.loads names the error
    if cut_from >= 0:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels and not closed")
    return "".join(pieces) + text[last:] if pieces else text


def loads(raw: bytes | str, *, keep: bool = False) -> Any:
    """json.loads that raises ValueError for NaN, Infinity, out-of-range numbers and nesting
    deeper than MAX_DEPTH; with `keep`, those are kept as strings for `storable()`."""
    text = _bound_depth(_text(raw), keep=keep)
    try:
        if keep:
            return json.loads(text, parse_constant=_Kept, parse_float=_kept_float)
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:  # only reachable with a lowered recursion limit
        raise ValueError("JSON nested too deeply") from None


def _escape(text: str) -> str:
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def storable(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """`value` with what a database cannot store replaced, and a note per replacement.

    U+0000 and lone surrogates are escaped as the six characters `\\u0000` / `\\ud800`; numbers
    and deep values kept by `loads(keep=True)` are named. Recursive: call it on `loads` output,
    whose depth is bounded.
    """
    notes: list[str] = []
    if isinstance(value, _Kept):
        return str(value), [f"{path or 'value'}: {value} is not a storable number, kept as text"]
    if isinstance(value, str):
        if value == _TOO_DEEP:
            return f"[removed: {_TOO_DEEP[1:]}]", [f"{path}: nested deeper than {MAX_DEPTH} levels"]
        if _UNSTORABLE.search(value):
            return _escape(value), [f"{path or 'value'}: U+0000 or a lone surrogate escaped"]
        return value, notes
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            item, item_notes = storable(item, f"{path}[{index}]")
            items.append(item)
            notes += item_notes
        return items, notes
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            clean_key = _escape(key)
            child = f"{path}.{clean_key}" if path else clean_key
            if clean_key != key:
                notes.append(f"{child}: U+0000 or a lone surrogate escaped in the name")
            result[clean_key], item_notes = storable(item, child)
            notes += item_notes
        return result, notes
    return value, notes
