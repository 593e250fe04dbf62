import pytest

from connections.models import Connection
from connections.services import connection_create
from tests.campaigns.conftest import broker, redis_server  # noqa: F401  (the crash tests' Redis)
from tests.lineapi.conftest import receiver  # noqa: F401  (a fixture: the emulator's webhooks land there)


@pytest.fixture
def connection(db, emulator, admin_user) -> Connection:
    return connection_create(
        actor=admin_user,
        name="Main OA",
        channel_access_token=emulator.token,
        channel_secret=emulator.secret,
        api_base_url=emulator.base_url,
    )
