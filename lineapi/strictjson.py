"""JSON from outside (API bodies, webhooks) as JSON defines it: no NaN, no Infinity.

Python's json module accepts NaN, Infinity and -Infinity, and turns a number too large for a
float (1e999) into inf; no database column stores those, so they are refused at the door."""

import json
import math
from typing import Any

NOT_FINITE = "NaN/Infinity are not allowed"


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{NOT_FINITE} ({name})")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{NOT_FINITE} ({text[:30]} is out of range)")
    return value


def loads(raw: bytes | str) -> Any:
    """json.loads that raises ValueError for NaN, Infinity and out-of-range numbers."""
    return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
