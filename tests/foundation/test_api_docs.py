"""/api/v1/docs works offline, and /api/v1/openapi.json answers API clients as the API does."""

import json
import re

from django.test import Client, override_settings


def test_the_docs_page_loads_swagger_ui_from_this_server_only(analyst_client):
    response = analyst_client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "a file from another host"
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assert any(a.endswith(".js") and "swagger-ui" in a for a in assets), assets
    assert any(a.endswith(".css") and "swagger-ui" in a for a in assets), assets
    with override_settings(WHITENOISE_USE_FINDERS=True):  # serve as runserver does
        browser = Client()
        for asset in assets:
            assert asset.startswith("/static/"), asset
            served = browser.get(asset)
            assert served.status_code == 200, asset
            assert b"".join(served.streaming_content), asset


def test_the_docs_page_asks_a_visitor_to_log_in(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_openapi_json_answers_a_bearer_token(api_client_for, analyst):
    response = api_client_for(analyst).get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "linecampaigns API"
    assert "/api/v1/contacts" in schema["paths"]


def test_openapi_json_answers_the_dashboards_session(analyst_client):
    assert analyst_client.get("/api/v1/openapi.json").status_code == 200


def test_openapi_json_without_credentials_is_the_apis_json_401(client, db):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}):
        response = client.get("/api/v1/openapi.json", **headers)
        assert response.status_code == 401
        assert response.json() == {
            "detail": "Authentication required: send 'Authorization: Bearer <token>'.",
            "errors": [],
        }


def test_the_schema_has_no_duplicate_keys(analyst_client):
    """Swagger UI parses the schema with a YAML parser, which refuses a duplicated key (a
    declared 422 beside the documented "422" was one)."""

    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        duplicated = {key for key in keys if keys.count(key) > 1}
        assert not duplicated, f"duplicate keys {duplicated}"
        return dict(pairs)

    response = analyst_client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content, object_pairs_hook=no_duplicates)
    assert all(
        isinstance(status, str)
        for ops in schema["paths"].values()
        for op in ops.values()
        for status in op["responses"]
    )
