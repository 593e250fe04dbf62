import pytest

from tests.campaigns.engine_support import make_connection


@pytest.fixture
def connection(db, emulator):
    """An active connection to the emulator (a module may define its own)."""
    return make_connection(emulator)
