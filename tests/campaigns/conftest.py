from collections.abc import Iterator

import pytest

from linecampaigns.celery import app as celery_app
from tests.campaigns.crash_support import PrivateRedis, free_port, needs_postgres, use_broker
from tests.campaigns.engine_support import make_connection


@pytest.fixture
def connection(db, emulator):
    """An active connection to the emulator (a module may define its own)."""
    return make_connection(emulator)


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    """A Redis server of the test's own (the crash tests, on PostgreSQL only)."""
    needs_postgres()
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker(redis_server: PrivateRedis) -> Iterator[str]:
    """The private Redis as broker; this process publishes there too (the launch)."""
    before = celery_app.conf.broker_url
    use_broker(redis_server.url + "/1")
    yield celery_app.conf.broker_url
    use_broker(before)
