import pytest
from django.test import Client

from connections.models import Connection


def _payload(emulator, **overrides) -> dict:
    return {
        "name": "API OA",
        "channel_access_token": emulator.token,
        "channel_secret": emulator.secret,
        "api_base_url": emulator.base_url,
        **overrides,
    }


@pytest.mark.parametrize("role", ["admin_user", "marketer", "analyst"])
def test_every_role_lists_connection_names_and_status(
    role, request, connection, api_client_for
) -> None:
    client = api_client_for(request.getfixturevalue(role))
    response = client.get("/api/v1/connections")
    assert response.status_code == 200
    [item] = response.json()
    assert item["id"] == connection.pk
    assert (item["name"], item["status"], item["bot_display_name"]) == (
        "Main OA",
        "active",
        "LINE Emulator",
    )
    detail = client.get(f"/api/v1/connections/{connection.pk}")
    assert detail.status_code == 200
    assert detail.json() == item


@pytest.mark.parametrize(
    "role, shown", [("admin_user", True), ("marketer", False), ("analyst", False)]
)
def test_only_roles_that_open_connections_see_the_webhook_url(
    role, shown, request, connection, api_client_for
) -> None:
    # Anyone holding the URL can post signed-looking deliveries to it; only Admins need it.
    client = api_client_for(request.getfixturevalue(role))
    for data in (
        client.get("/api/v1/connections").json()[0],
        client.get(f"/api/v1/connections/{connection.pk}").json(),
    ):
        if shown:
            assert data["webhook_url"].endswith(f"/webhooks/line/{connection.webhook_slug}/")
        else:
            assert data["webhook_url"] is None
            assert connection.webhook_slug not in str(data)


def test_an_admin_creates_a_connection_and_gets_201(emulator, admin_user, api_client_for) -> None:
    response = api_client_for(admin_user).post(
        "/api/v1/connections", _payload(emulator), content_type="application/json"
    )
    assert response.status_code == 201
    data = response.json()
    connection = Connection.objects.get()
    assert data["id"] == connection.pk
    assert (data["name"], data["status"], data["bot_display_name"]) == (
        "API OA",
        "active",
        "LINE Emulator",
    )
    assert data["webhook_url"] == f"http://testserver/webhooks/line/{connection.webhook_slug}/"


def test_the_webhook_url_uses_public_base_url_when_set(
    emulator, admin_user, api_client_for, settings
) -> None:
    settings.PUBLIC_BASE_URL = "https://campaigns.example.com/"
    response = api_client_for(admin_user).post(
        "/api/v1/connections", _payload(emulator), content_type="application/json"
    )
    slug = Connection.objects.get().webhook_slug
    assert response.json()["webhook_url"] == (
        f"https://campaigns.example.com/webhooks/line/{slug}/"
    )


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_only_admins_may_create_connections(db, role, request, emulator, api_client_for) -> None:
    client = api_client_for(request.getfixturevalue(role))
    response = client.post(
        "/api/v1/connections", _payload(emulator), content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not allow this action.", "errors": []}
    assert not Connection.objects.exists()


def test_a_bad_token_is_a_422_with_lines_reason(emulator, admin_user, api_client_for) -> None:
    response = api_client_for(admin_user).post(
        "/api/v1/connections",
        _payload(emulator, channel_access_token="nope-token"),
        content_type="application/json",
    )
    assert response.status_code == 422
    data = response.json()
    assert "Authentication failed" in data["detail"]  # LINE's own message, kept in ours
    assert data["errors"][0]["field"] == "channel_access_token"
    assert not Connection.objects.exists()


def test_missing_fields_are_a_400_per_field(db, admin_user, api_client_for) -> None:
    response = api_client_for(admin_user).post(
        "/api/v1/connections", {"name": "x"}, content_type="application/json"
    )
    assert response.status_code == 400
    fields = {error["field"].rsplit(".", 1)[-1] for error in response.json()["errors"]}
    assert {"channel_access_token", "channel_secret"} <= fields


def test_a_duplicate_name_is_a_422_on_name(connection, emulator, admin_user, api_client_for):
    response = api_client_for(admin_user).post(
        "/api/v1/connections", _payload(emulator, name="Main OA"), content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    assert Connection.objects.count() == 1


def test_without_a_token_the_api_answers_401_in_json(connection) -> None:
    response = Client().get("/api/v1/connections")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Authentication required")


def test_an_unknown_connection_is_a_404_in_json(db, analyst, api_client_for) -> None:
    response = api_client_for(analyst).get("/api/v1/connections/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "No connection with id 999.", "errors": []}


def test_send_limits_above_lines_are_a_400_and_nothing_is_saved(
    emulator, admin_user, api_client_for
) -> None:
    client = api_client_for(admin_user)
    too_fast = client.post(
        "/api/v1/connections",
        _payload(emulator, multicast_rate_limit=201),
        content_type="application/json",
    )
    assert too_fast.status_code == 400
    assert too_fast.json()["errors"][0]["field"] == "multicast_rate_limit"
    assert not Connection.objects.exists()
    created = client.post(
        "/api/v1/connections",
        _payload(emulator, push_rate_limit=500),
        content_type="application/json",
    )
    assert created.status_code == 201
    assert (created.json()["push_rate_limit"], created.json()["multicast_rate_limit"]) == (500, 200)


def test_a_token_with_a_line_break_is_a_400_on_its_field(emulator, admin_user, api_client_for):
    response = api_client_for(admin_user).post(
        "/api/v1/connections",
        _payload(emulator, channel_access_token="abc\r\ndef"),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "channel_access_token"
    assert not Connection.objects.exists()


def test_a_user_without_a_role_reads_no_connections(
    db, connection, api_client_for, django_user_model
):
    nobody = django_user_model.objects.create_user(username="nobody", password="x")
    client = api_client_for(nobody)
    assert client.get("/api/v1/connections").status_code == 403
    assert client.get(f"/api/v1/connections/{connection.pk}").status_code == 403
