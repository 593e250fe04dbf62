import pytest

from connections.models import Connection
from connections.services import ConnectionVerifyError, connection_check, connection_create
from kit.models import AuditEntry
from tests.connections.helpers import BOT_USER_ID


def test_a_good_token_saves_the_connection_with_the_bots_profile_and_quota(
    emulator, admin_user
) -> None:
    emulator.configure(monthly_quota=1000)
    connection = connection_create(
        actor=admin_user,
        name="Main OA",
        channel_access_token=emulator.token,
        channel_secret=emulator.secret,
        api_base_url=emulator.base_url,
    )
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert connection.bot_user_id == BOT_USER_ID
    assert connection.bot_display_name == "LINE Emulator"
    assert connection.basic_id == "@emulator"
    assert connection.chat_mode == "bot"
    assert connection.bot_picture_url == f"{emulator.base_url}/_emulator/avatar.svg"
    assert connection.is_sandbox
    assert (connection.quota_limit, connection.quota_used, connection.quota_remaining) == (
        1000,
        0,
        1000,
    )
    assert AuditEntry.objects.filter(action="connection.create", target_id=str(connection.pk))


def test_a_rejected_token_saves_nothing_and_says_why(emulator, admin_user) -> None:
    with pytest.raises(ConnectionVerifyError) as caught:
        connection_create(
            actor=admin_user,
            name="Main OA",
            channel_access_token="not-the-token",
            channel_secret="s3cret",
            api_base_url=emulator.base_url,
        )
    assert "LINE rejected the channel access token (401" in caught.value.message
    assert "long-lived token" in caught.value.message
    assert caught.value.field == "channel_access_token"
    assert not Connection.objects.exists()
    assert not AuditEntry.objects.filter(action="connection.create").exists()


def test_an_unreachable_api_saves_nothing_and_names_the_url(db, admin_user) -> None:
    with pytest.raises(ConnectionVerifyError) as caught:
        connection_create(
            actor=admin_user,
            name="Main OA",
            channel_access_token="tok",
            channel_secret="sec",
            api_base_url="http://127.0.0.1:9",
        )
    assert caught.value.message.startswith("Could not reach http://127.0.0.1:9")
    assert caught.value.field == "api_base_url"
    assert not Connection.objects.exists()


def test_the_add_page_verifies_and_shows_the_bot(admin_client, emulator) -> None:
    response = admin_client.post(
        "/connections/add/",
        {
            "name": "Main OA",
            "channel_access_token": emulator.token,
            "channel_secret": emulator.secret,
            "api_base_url": emulator.base_url,
        },
        follow=True,
    )
    connection = Connection.objects.get()
    assert response.redirect_chain[-1][0] == f"/connections/{connection.pk}/"
    page = response.content.decode()
    assert "LINE Emulator" in page
    assert "@emulator" in page
    assert "Sandbox — LINE emulator, not real LINE" in page
    assert f"/webhooks/line/{connection.webhook_slug}/" in page


def test_the_add_page_shows_lines_refusal_and_saves_nothing(admin_client, emulator) -> None:
    response = admin_client.post(
        "/connections/add/",
        {
            "name": "Main OA",
            "channel_access_token": "wrong-token-1234",
            "channel_secret": "secret",
            "api_base_url": emulator.base_url,
        },
    )
    assert response.status_code == 200
    assert "LINE rejected the channel access token" in response.content.decode()
    assert not Connection.objects.exists()


def test_check_again_marks_a_revoked_token_invalid_with_the_error(
    connection, emulator, admin_client
) -> None:
    emulator.configure(token="a-new-token")
    response = admin_client.post(f"/connections/{connection.pk}/check/", follow=True)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.INVALID
    assert "LINE rejected the channel access token" in connection.last_error
    assert connection.last_error in response.content.decode()


def test_check_again_restores_a_connection_once_the_token_works(connection, emulator) -> None:
    Connection.objects.filter(pk=connection.pk).update(status="invalid", last_error="old")
    connection.refresh_from_db()
    connection_check(connection=connection)
    connection.refresh_from_db()
    assert (connection.status, connection.last_error) == (Connection.Status.ACTIVE, "")


def test_rotating_the_token_reverifies_and_a_bad_one_keeps_the_old(
    connection, emulator, admin_client
) -> None:
    url = f"/connections/{connection.pk}/edit/"
    form = {"name": "Main OA", "api_base_url": emulator.base_url, "channel_secret": ""}
    response = admin_client.post(url, {**form, "channel_access_token": "bad-new-token"})
    assert "LINE rejected the channel access token" in response.content.decode()
    connection.refresh_from_db()
    assert connection.channel_access_token == emulator.token

    emulator.configure(token="rotated-token")
    response = admin_client.post(url, {**form, "channel_access_token": "rotated-token"})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.channel_access_token == "rotated-token"
    assert connection.status == Connection.Status.ACTIVE
    assert AuditEntry.objects.filter(action="connection.rotate_token").count() == 1


def test_an_empty_token_and_secret_on_edit_keep_the_stored_ones(
    connection, emulator, admin_client
) -> None:
    response = admin_client.post(
        f"/connections/{connection.pk}/edit/",
        {
            "name": "Renamed OA",
            "api_base_url": emulator.base_url,
            "channel_access_token": "",
            "channel_secret": "",
        },
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Renamed OA"
    assert (connection.channel_access_token, connection.channel_secret) == (
        emulator.token,
        emulator.secret,
    )


def test_rotating_the_secret_is_audited(connection, emulator, admin_client) -> None:
    admin_client.post(
        f"/connections/{connection.pk}/edit/",
        {
            "name": "Main OA",
            "api_base_url": emulator.base_url,
            "channel_access_token": "",
            "channel_secret": "new-secret-value",
        },
    )
    connection.refresh_from_db()
    assert connection.channel_secret == "new-secret-value"
    entry = AuditEntry.objects.get(action="connection.rotate_secret")
    assert "new-secret-value" not in str(entry.details)


def test_refresh_quota_reads_consumption_from_line(connection, emulator, admin_client) -> None:
    emulator.configure(monthly_quota=500)
    admin_client.post(f"/connections/{connection.pk}/quota/")
    connection.refresh_from_db()
    assert (connection.quota_type, connection.quota_limit, connection.quota_used) == (
        "limited",
        500,
        0,
    )


def test_the_periodic_refresh_updates_quotas_and_catches_revoked_tokens(
    connection, emulator, admin_user, eager_celery
) -> None:
    from connections.tasks import BEAT_SCHEDULE, refresh_quotas

    assert BEAT_SCHEDULE["connections-refresh-quotas"]["task"] == refresh_quotas.name
    emulator.configure(monthly_quota=2000)
    refresh_quotas.delay()
    connection.refresh_from_db()
    assert (connection.quota_limit, connection.quota_remaining) == (2000, 2000)

    emulator.configure(token="revoked-elsewhere")
    refresh_quotas.delay()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.INVALID
    assert "LINE rejected the channel access token" in connection.last_error
    assert connection.quota_limit == 2000  # the last known figure stays
