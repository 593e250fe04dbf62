import pytest


@pytest.fixture(autouse=True)
def local_cache(settings) -> None:
    """The send-rate samples live in the cache; keep them per test."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
