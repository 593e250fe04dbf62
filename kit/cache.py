"""The cache is an optimisation, never a dependency: every use goes through these helpers, which
take a cache that does not answer (Redis down, a full disk) as a miss, log a warning and let
the caller compute the value itself."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
T = TypeVar("T")
_MISSING = object()
UNAVAILABLE = (RedisError, OSError)


def cache_get(key: str, default: Any = None) -> Any:
    try:
        return cache.get(key, default)
    except UNAVAILABLE as exc:
        log.warning("cache unavailable, reading %s without it: %s", key, exc)
        return default


def cache_set(key: str, value: Any, timeout: float) -> None:
    try:
        cache.set(key, value, timeout)
    except UNAVAILABLE as exc:
        log.warning("cache unavailable, %s not kept: %s", key, exc)


def cache_get_or_compute(key: str, compute: Callable[[], T], timeout: float) -> T:
    value = cache_get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache_set(key, value, timeout)
    return value
