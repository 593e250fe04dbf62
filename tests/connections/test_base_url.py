"""The channel token goes only to LINE or to an address the operator allowed, and a new base
URL needs the token typed again: the stored one is never sent somewhere new."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connections.models import Connection
from connections.services import ConnectionVerifyError, connection_create, connection_update
from kit.models import AuditEntry


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A loopback server that records the Authorization header of every request it gets."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def _update(connection: Connection, actor, **fields) -> Connection:
    return connection_update(actor=actor, connection=connection, name=connection.name, **fields)


def test_a_new_base_url_without_the_token_is_refused_and_nothing_is_sent(
    connection, admin_user, listener
) -> None:
    url, seen = listener
    with pytest.raises(ConnectionVerifyError) as caught:
        _update(connection, admin_user, api_base_url=url)
    assert caught.value.field == "channel_access_token"
    assert "Enter the channel access token again" in caught.value.message
    assert seen == []
    connection.refresh_from_db()
    assert connection.api_base_url != url


def test_a_new_base_url_with_the_token_is_verified_there_and_audited(
    connection, admin_user, emulator, start_emulator
) -> None:
    old = connection.api_base_url
    other = start_emulator()
    _update(connection, admin_user, api_base_url=other.base_url, channel_access_token=other.token)
    connection.refresh_from_db()
    assert connection.api_base_url == other.base_url
    entry = AuditEntry.objects.filter(action="connection.rotate_token").get()
    assert entry.details["api_base_url"] == {"old": old, "new": other.base_url}
    assert emulator.token not in str(entry.details)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest",
        "http://api.line.me",
        "https://api.line.me.example.com",
        "https://api.line.me@example.com",
        "http://localhost:8765",
    ],
)
def test_only_lines_urls_and_the_allow_list_are_accepted(
    connection, admin_user, settings, url
) -> None:
    settings.LINE_API_BASE_URL_ALLOWLIST = ["http://127.0.0.1:*"]
    with pytest.raises(ConnectionVerifyError) as caught:
        connection_create(
            actor=admin_user,
            name="Elsewhere",
            channel_access_token="tok",
            channel_secret="sec",
            api_base_url=url,
        )
    assert caught.value.field == "api_base_url"
    assert "LINE_API_BASE_URL_ALLOWLIST" in caught.value.message
    with pytest.raises(ConnectionVerifyError):
        _update(connection, admin_user, api_base_url=url, channel_access_token="tok")
    assert Connection.objects.get().api_base_url == connection.api_base_url


def test_the_emulator_needs_the_allow_list(db, admin_user, emulator, settings) -> None:
    settings.LINE_API_BASE_URL_ALLOWLIST = []
    with pytest.raises(ConnectionVerifyError) as caught:
        connection_create(
            actor=admin_user,
            name="Sandbox",
            channel_access_token=emulator.token,
            channel_secret=emulator.secret,
            api_base_url=emulator.base_url,
        )
    assert caught.value.field == "api_base_url"
    settings.LINE_API_BASE_URL_ALLOWLIST = [emulator.base_url]
    connection_create(
        actor=admin_user,
        name="Sandbox",
        channel_access_token=emulator.token,
        channel_secret=emulator.secret,
        api_base_url=emulator.base_url + "/",
    )


def test_the_edit_form_asks_for_the_token_with_a_new_base_url(
    admin_client, connection, listener
) -> None:
    url, seen = listener
    response = admin_client.post(
        f"/connections/{connection.pk}/edit/",
        {"name": connection.name, "api_base_url": url, "channel_access_token": ""},
    )
    assert response.status_code == 200
    assert "Enter the channel access token again" in response.content.decode()
    assert seen == []


def test_the_api_refuses_a_base_url_outside_the_allow_list(api_client_for, admin_user) -> None:
    response = api_client_for(admin_user).post(
        "/api/v1/connections",
        {
            "name": "Elsewhere",
            "channel_access_token": "tok",
            "channel_secret": "sec",
            "api_base_url": "http://10.0.0.1:8080",
        },
        content_type="application/json",
    )
    assert response.status_code == 422  # the shape is right; the allow-list refuses it
    assert response.json()["errors"][0]["field"] == "api_base_url"
