import pytest
from django.utils import timezone


@pytest.fixture(autouse=True)
def local_cache(settings) -> None:
    """The send-rate samples live in the cache; keep them per test."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(autouse=True)
def default_time_zone():
    """The time-zone middleware leaves the `tz` cookie's zone active after a request: start and
    end every test in the default zone."""
    timezone.deactivate()
    yield
    timezone.deactivate()
