import pytest


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_a_wrong_token_is_a_401_in_json(client, db, method):
    response = getattr(client, method)(
        "/api/v1/contacts/U0123456789abcdef0123456789abcdef", HTTP_AUTHORIZATION="Bearer nope"
    )
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Authentication required")


def test_no_credentials_is_a_401_not_a_redirect(client, db):
    response = client.get("/api/v1/contacts")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication required: send 'Authorization: Bearer <token>'.",
        "errors": [],
    }


def test_a_valid_token_carries_its_users_role(api_client_for, analyst):
    api = api_client_for(analyst)
    assert api.get("/api/v1/connections").status_code == 200
    created = api.post(
        "/api/v1/connections",
        {"name": "x", "channel_access_token": "t", "channel_secret": "s"},
        content_type="application/json",
    )
    assert created.status_code == 403


def test_the_browser_session_still_works_for_the_dashboards_own_calls(marketer_client):
    assert marketer_client.get("/api/v1/connections").status_code == 200


def test_a_revoked_token_stops_working(client, marketer):
    from kit.services import api_token_create, api_token_revoke

    token, raw = api_token_create(user=marketer, name="ci")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/v1/connections", **auth).status_code == 200
    api_token_revoke(user=marketer, token=token)
    assert client.get("/api/v1/connections", **auth).status_code == 401


def test_a_user_creates_a_token_on_their_page_and_sees_it_once(marketer_client, marketer):
    response = marketer_client.post("/accounts/tokens/", {"name": "CRM sync"})
    page = response.content.decode()
    assert response.status_code == 200
    token = page.split('id="new-token" value="', 1)[1].split('"', 1)[0]
    assert token.startswith("lc_")
    assert marketer.api_tokens.get().key_hash != token
    again = marketer_client.get("/accounts/tokens/").content.decode()
    assert token not in again
    assert "CRM sync" in again


def test_revoking_a_token_that_is_not_a_number_is_a_404_not_a_500(marketer_client):
    response = marketer_client.post("/accounts/tokens/", {"revoke": "abc"})
    assert response.status_code == 404
