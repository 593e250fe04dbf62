import pytest

from connections.models import WebhookEvent
from tests.campaigns.conftest import broker, redis_server  # noqa: F401  (the crash tests' Redis)
from tests.connections.conftest import connection  # noqa: F401  (an active connection to the emulator)
from tests.connections.helpers import follower_id
from tests.journeys.support import deliver, line_event, with_reply_token
from tests.lineapi.conftest import receiver  # noqa: F401  (the emulator's webhooks land there)


@pytest.fixture
def fire(client, connection, emulator, receiver, django_capture_on_commit_callbacks):  # noqa: F811
    """Posts one LINE event to the webhook as LINE would, with a reply token unless told not."""
    counter = iter(range(1, 10_000))

    def send(kind: str, user: str = follower_id(1), *, token: bool = True, **extra) -> WebhookEvent:
        event = line_event(kind, user, next(counter), **extra)
        if token:
            event = with_reply_token(emulator, receiver, event)
        (stored,) = deliver(client, connection, django_capture_on_commit_callbacks, event)
        return stored

    return send
