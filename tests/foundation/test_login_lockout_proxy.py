"""Behind a reverse proxy every client arrives from the proxy's address: the lockout must be per
username and *client* address, found through TRUSTED_PROXY_COUNT proxies, or anyone could lock
out a known user."""

import pytest
from django.test import RequestFactory

from kit.proxy import client_ip
from tests.conftest import PASSWORD

PROXY = "10.0.0.2"
ATTACKER = "203.0.113.9"
USER = "198.51.100.7"


def _login(client, username: str, password: str, forwarded_for: str):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def _lock_out(client, username: str, forwarded_for: str, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, username, "wrong", forwarded_for)
    assert _login(client, username, PASSWORD, forwarded_for).status_code == 429


def test_an_attacker_behind_the_proxy_does_not_lock_out_the_user(client, marketer, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    _lock_out(client, marketer.username, ATTACKER, settings)
    response = _login(client, marketer.username, PASSWORD, USER)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(marketer.pk)


def test_a_forged_forwarded_for_entry_does_not_lift_the_lock(client, marketer, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    _lock_out(client, marketer.username, ATTACKER, settings)
    # The proxy appends the real address; what the client wrote before it is not believed.
    response = _login(client, marketer.username, PASSWORD, f"{USER}, {ATTACKER}")
    assert response.status_code == 429


def test_without_trusted_proxies_forwarded_for_is_ignored(client, marketer, settings):
    assert settings.TRUSTED_PROXY_COUNT == 0
    _lock_out(client, marketer.username, ATTACKER, settings)
    assert _login(client, marketer.username, PASSWORD, USER).status_code == 429


@pytest.mark.parametrize(
    "trusted, forwarded_for, expected",
    [
        (0, "1.1.1.1", "10.0.0.2"),
        (1, "", "10.0.0.2"),
        (1, "1.1.1.1", "1.1.1.1"),
        (1, "9.9.9.9, 1.1.1.1", "1.1.1.1"),
        (2, "9.9.9.9, 1.1.1.1, 10.0.0.1", "1.1.1.1"),
        (2, "1.1.1.1", "1.1.1.1"),
        (1, "not-an-address", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_address_is_counted_from_the_right(settings, trusted, forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)
    assert client_ip(request) == expected
