import contextlib
import json
import threading

import pytest
from django.conf import settings
from kombu import Connection

from linecampaigns import broker
from linecampaigns.celery import app as celery_app


def _filesystem_connection(tmp_path) -> Connection:
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    return Connection("filesystem://", transport_options=options)


def test_the_embedded_broker_uses_the_atomic_transport(tmp_path):
    with _filesystem_connection(tmp_path) as conn:
        assert isinstance(conn.transport, broker.Transport)


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("filesystem://"), reason="a server broker is set"
)
def test_the_celery_app_sends_through_it():
    with celery_app.connection_for_write() as conn:
        assert isinstance(conn.transport, broker.Transport)


def test_a_consumer_never_sees_a_message_before_it_is_whole(tmp_path):
    """A reader polling the folder while messages are written finds only complete JSON."""
    folder = tmp_path / "queue"
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for path in folder.glob("*.msg"):
                with contextlib.suppress(FileNotFoundError):  # taken by then: fine
                    seen.append(path.read_text())

    with _filesystem_connection(tmp_path) as conn:
        channel = conn.default_channel
        reader = threading.Thread(target=watch)
        reader.start()
        big = {"body": "x" * 200_000}
        for _ in range(200):
            channel._put("q", big)
        done.set()
        reader.join()
        assert len(list(folder.glob("*.msg"))) == 200
        assert not list(folder.glob(".*"))
        assert channel._get("q") == big
    assert seen, "the reader should have caught some messages"
    assert all(json.loads(text) == big for text in seen)
