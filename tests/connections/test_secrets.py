import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from connections.models import Connection
from connections.services import ConnectionVerifyError, connection_create
from kit import crypto

TOKEN_SUFFIX = "tail"


def _raw_columns(pk: int) -> tuple[str, str]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT channel_access_token, channel_secret FROM connections_connection WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def _assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


@pytest.fixture
def secret_emulator(start_emulator):
    """An emulator whose token and secret are long, distinctive strings."""
    return start_emulator(
        token="tok-" + "Z9" * 40 + TOKEN_SUFFIX, secret="0123456789abcdef0123456789abcdef"
    )


@pytest.fixture
def secret_connection(db, secret_emulator, admin_user) -> Connection:
    return connection_create(
        actor=admin_user,
        name="Secret OA",
        channel_access_token=secret_emulator.token,
        channel_secret=secret_emulator.secret,
        api_base_url=secret_emulator.base_url,
    )


def test_token_and_secret_are_not_in_the_database_in_clear(
    secret_connection, secret_emulator
) -> None:
    raw_token, raw_secret = _raw_columns(secret_connection.pk)
    _assert_no_secret(raw_token + raw_secret, secret_emulator.token, secret_emulator.secret)
    assert crypto.decrypt(raw_token) == secret_emulator.token
    assert crypto.decrypt(raw_secret) == secret_emulator.secret


def test_verifying_saving_and_failing_log_no_secret(
    db, secret_emulator, admin_user, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    connection = connection_create(
        actor=admin_user,
        name="Secret OA",
        channel_access_token=secret_emulator.token,
        channel_secret=secret_emulator.secret,
        api_base_url=secret_emulator.base_url,
    )
    with pytest.raises(ConnectionVerifyError):
        connection_create(
            actor=admin_user,
            name="Other OA",
            channel_access_token="wrong-" + secret_emulator.token,
            channel_secret=secret_emulator.secret,
            api_base_url=secret_emulator.base_url,
        )
    with pytest.raises(ConnectionVerifyError):
        connection_create(
            actor=admin_user,
            name="Down OA",
            channel_access_token=secret_emulator.token,
            channel_secret=secret_emulator.secret,
            api_base_url="http://127.0.0.1:9",
        )
    assert caplog.records, "the services should log what they do"
    _assert_no_secret(caplog.text, secret_emulator.token, secret_emulator.secret, "wrong-")
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_pages_show_secrets_masked_and_never_in_clear(
    secret_connection, secret_emulator, admin_client
) -> None:
    pk = secret_connection.pk
    for url in (
        "/connections/",
        f"/connections/{pk}/",
        f"/connections/{pk}/edit/",
        f"/connections/{pk}/delete/",
        f"/connections/{pk}/backfill/progress/",
    ):
        page = admin_client.get(url).content.decode()
        _assert_no_secret(page, secret_emulator.token, secret_emulator.secret)
    detail = admin_client.get(f"/connections/{pk}/").content.decode()
    assert "••••••••" + TOKEN_SUFFIX in detail
    assert "••••••••" + secret_emulator.secret[-4:] in detail


def test_a_failed_form_does_not_echo_the_secrets_back(db, secret_emulator, admin_client) -> None:
    response = admin_client.post(
        "/connections/add/",
        {
            "name": "Secret OA",
            "channel_access_token": "wrong-" + secret_emulator.token,
            "channel_secret": secret_emulator.secret,
            "api_base_url": secret_emulator.base_url,
        },
    )
    assert "LINE rejected" in response.content.decode()
    _assert_no_secret(response.content.decode(), secret_emulator.token, secret_emulator.secret)


def test_api_responses_never_hold_secrets(
    secret_connection, secret_emulator, admin_user, analyst, api_client_for
) -> None:
    for user in (admin_user, analyst):
        client = api_client_for(user)
        for url in ("/api/v1/connections", f"/api/v1/connections/{secret_connection.pk}"):
            response = client.get(url)
            assert response.status_code == 200
            body = response.content.decode()
            _assert_no_secret(body, secret_emulator.token, secret_emulator.secret, "••••")
    created = api_client_for(admin_user).post(
        "/api/v1/connections",
        {
            "name": "Second OA",
            "channel_access_token": secret_emulator.token,
            "channel_secret": secret_emulator.secret,
            "api_base_url": secret_emulator.base_url,
            "confirm_duplicate": True,  # the same emulator: the same channel
        },
        content_type="application/json",
    )
    assert created.status_code == 201
    _assert_no_secret(created.content.decode(), secret_emulator.token, secret_emulator.secret)
    refused = api_client_for(admin_user).post(
        "/api/v1/connections",
        {
            "name": "Third OA",
            "channel_access_token": "wrong-" + secret_emulator.token,
            "channel_secret": secret_emulator.secret,
            "api_base_url": secret_emulator.base_url,
        },
        content_type="application/json",
    )
    assert refused.status_code == 422
    _assert_no_secret(refused.content.decode(), secret_emulator.token, secret_emulator.secret)


def test_rotate_secrets_reencrypts_with_the_newest_key(
    secret_connection, secret_emulator, settings, encryption_key, capsys
) -> None:
    before = _raw_columns(secret_connection.pk)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [new_key, encryption_key]
    crypto._fernet.cache_clear()

    call_command("rotate_secrets")

    assert "1 connection" in capsys.readouterr().out
    after = _raw_columns(secret_connection.pk)
    assert after != before
    new_only = Fernet(new_key.encode())
    assert new_only.decrypt(after[0].encode()).decode() == secret_emulator.token
    assert new_only.decrypt(after[1].encode()).decode() == secret_emulator.secret
    settings.FIELD_ENCRYPTION_KEY = [new_key]
    crypto._fernet.cache_clear()
    reloaded = Connection.objects.get(pk=secret_connection.pk)
    assert reloaded.channel_access_token == secret_emulator.token


def test_a_crash_while_saving_keeps_secrets_out_of_error_pages_and_reports(
    db, admin_user, monkeypatch
) -> None:
    import sys

    from django.core.signals import got_request_exception
    from django.test import Client
    from django.views.debug import ExceptionReporter

    from connections import services

    def explode(connection):
        raise RuntimeError("LINE client blew up")

    reports: list[str] = []

    def report(sender, request, **kwargs) -> None:
        # What Django's error mails and log handlers render for an unhandled exception.
        reports.append(ExceptionReporter(request, *sys.exc_info()).get_traceback_text())

    monkeypatch.setattr(services, "_bot_info", explode)
    got_request_exception.connect(report)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    token, secret = "tok-" + "Q7" * 30, "fedcba9876543210fedcba9876543210"
    try:
        response = client.post(
            "/connections/add/",
            {"name": "Crash OA", "channel_access_token": token, "channel_secret": secret},
        )
    finally:
        got_request_exception.disconnect(report)
    assert response.status_code == 500
    _assert_no_secret(response.content.decode(), token, secret)
    [text] = reports
    assert "LINE client blew up" in text
    _assert_no_secret(text, token, secret)
