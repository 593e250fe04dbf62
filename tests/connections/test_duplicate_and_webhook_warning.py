"""Adding a channel that is already connected warns and asks; the webhook URL warns when LINE
could not reach it."""

import re

import pytest

from connections.models import Connection
from connections.selectors import webhook_url_problem
from connections.services import ConnectionDuplicateError, connection_create

ADD = "/connections/add/"
ASKED = "This LINE channel is already connected as “Main OA”"


def _form(emulator, **extra) -> dict:
    return {
        "name": "Second OA",
        "channel_access_token": emulator.token,
        "channel_secret": emulator.secret,
        "api_base_url": emulator.base_url,
        **extra,
    }


def test_adding_a_connected_channel_again_warns_and_saves_nothing(
    admin_client, connection, emulator
):
    response = admin_client.post(ADD, _form(emulator))
    page = response.content.decode()
    assert response.status_code == 200
    assert ASKED in page
    assert 'name="confirm_duplicate"' in page
    assert f'href="/connections/{connection.pk}/"' in page
    assert 'value="Second OA"' in page
    assert "Enter the channel secret and access token again" in page
    assert list(Connection.objects.values_list("name", flat=True)) == ["Main OA"]


def test_confirming_adds_the_second_connection(admin_client, connection, emulator):
    response = admin_client.post(ADD, _form(emulator, confirm_duplicate="on"))
    second = Connection.objects.get(name="Second OA")
    assert response.status_code == 302
    assert response["Location"] == f"/connections/{second.pk}/"
    assert second.bot_user_id == connection.bot_user_id


def test_the_confirmation_is_offered_only_after_a_duplicate(admin_client, db):
    assert 'name="confirm_duplicate"' not in admin_client.get(ADD).content.decode()


def test_a_ticked_confirmation_stays_ticked_when_the_form_comes_back(admin_client, db):
    page = admin_client.post(ADD, {"name": "Second OA", "confirm_duplicate": "on"}).content
    assert re.search(rb'<input[^>]*name="confirm_duplicate"[^>]*checked', page)


def test_a_channel_whose_connection_is_invalid_is_not_a_duplicate(admin_user, connection, emulator):
    connection.status = Connection.Status.INVALID
    connection.save()
    second = connection_create(
        actor=admin_user,
        name="Replacement",
        channel_access_token=emulator.token,
        channel_secret=emulator.secret,
        api_base_url=emulator.base_url,
    )
    assert second.status == Connection.Status.ACTIVE


def test_the_service_refuses_a_duplicate_unless_confirmed(admin_user, connection, emulator):
    fields = {k: v for k, v in _form(emulator).items()}
    with pytest.raises(ConnectionDuplicateError) as caught:
        connection_create(actor=admin_user, **fields)
    assert caught.value.existing == connection
    assert connection_create(actor=admin_user, confirm_duplicate=True, **fields).pk


def test_the_api_answers_409_unless_confirm_duplicate(
    admin_user, api_client_for, connection, emulator
):
    api = api_client_for(admin_user)
    refused = api.post("/api/v1/connections", _form(emulator), content_type="application/json")
    assert refused.status_code == 409
    body = refused.json()
    assert body["detail"].startswith(ASKED)
    assert body["errors"][0]["field"] == "confirm_duplicate"
    assert emulator.token not in refused.content.decode()
    assert Connection.objects.count() == 1
    created = api.post(
        "/api/v1/connections",
        _form(emulator, confirm_duplicate=True),
        content_type="application/json",
    )
    assert created.status_code == 201
    assert Connection.objects.count() == 2


# Webhook URL


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://campaigns.example.com/webhooks/line/x/", "not HTTPS"),
        ("https://localhost:8000/webhooks/line/x/", "cannot reach (localhost)"),
        ("http://127.0.0.1:8000/webhooks/line/x/", "not HTTPS and on a private address"),
        ("https://10.0.0.5/webhooks/line/x/", "private address (10.0.0.5)"),
        ("https://192.168.1.20/webhooks/line/x/", "private address"),
        ("https://[::1]/webhooks/line/x/", "private address (::1)"),
        ("https://testserver/webhooks/line/x/", "cannot reach (testserver)"),
        ("https://dashboard.local/webhooks/line/x/", "cannot reach"),
    ],
)
def test_a_webhook_url_line_cannot_reach_is_explained(url, reason):
    problem = webhook_url_problem(url)
    assert reason in problem
    assert "Set PUBLIC_BASE_URL" in problem


def test_a_public_https_webhook_url_has_no_problem():
    assert webhook_url_problem("https://campaigns.example.com/webhooks/line/abc/") == ""


def test_the_connection_page_warns_until_public_base_url_is_set(admin_client, connection, settings):
    settings.PUBLIC_BASE_URL = ""
    page = admin_client.get(f"/connections/{connection.pk}/").content.decode()
    assert 'id="webhook-url-problem"' in page
    assert "Set PUBLIC_BASE_URL" in page
    assert "http://testserver/webhooks/line/" in page

    settings.PUBLIC_BASE_URL = "https://campaigns.example.com"
    page = admin_client.get(f"/connections/{connection.pk}/").content.decode()
    assert 'id="webhook-url-problem"' not in page
    assert "https://campaigns.example.com/webhooks/line/" in page


def _other_channel(emulator) -> Connection:
    """A second connection, of another channel (its own bot id), on the same Sandbox."""
    return Connection.objects.create(
        name="Other OA",
        channel_access_token="other-token",
        channel_secret="other-secret",
        api_base_url=emulator.base_url,
        is_sandbox=True,
        bot_user_id="U" + "b" * 32,
    )


def test_pointing_a_connection_at_a_connected_channel_warns_and_saves_nothing(
    admin_client, connection, emulator
):
    other = _other_channel(emulator)
    edit = f"/connections/{other.pk}/edit/"
    form = {"name": "Other OA", "api_base_url": emulator.base_url, "channel_secret": ""}
    response = admin_client.post(edit, {**form, "channel_access_token": emulator.token})

    page = response.content.decode()
    assert response.status_code == 200
    assert ASKED in page and 'name="confirm_duplicate"' in page
    other.refresh_from_db()
    assert (other.channel_access_token, other.bot_user_id) == ("other-token", "U" + "b" * 32)

    confirmed = {**form, "channel_access_token": emulator.token, "confirm_duplicate": "on"}
    assert admin_client.post(edit, confirmed).status_code == 302
    other.refresh_from_db()
    assert other.bot_user_id == connection.bot_user_id


def test_rotating_a_connections_own_token_is_not_a_duplicate(admin_client, connection, emulator):
    edit = f"/connections/{connection.pk}/edit/"
    form = {"name": "Main OA", "api_base_url": emulator.base_url, "channel_secret": ""}
    response = admin_client.post(edit, {**form, "channel_access_token": emulator.token})
    assert response.status_code == 302
