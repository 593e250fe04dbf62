"""Bad input anywhere under /api/v1/ is a 4xx in the one error format, never a 500."""

import pytest

from audiences.models import Contact
from campaigns.models import MessageTemplate

LINE_ID = "U" + "0" * 32


@pytest.fixture
def writer(api_client_for, marketer):
    return api_client_for(marketer)


def _send(client, method: str, path: str, raw: str):
    return getattr(client, method)(path, raw, content_type="application/json")


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize(
    "method, path, body",
    [
        ("put", f"/api/v1/contacts/{LINE_ID}", '{"attributes": {"score": NUMBER}}'),
        (
            "post",
            "/api/v1/contacts/bulk",
            f'{{"contacts": [{{"line_id": "{LINE_ID}", "attributes": {{"score": NUMBER}}}}]}}',
        ),
        ("post", "/api/v1/templates", '{"name": "t", "messages": [{"type": "text", "x": NUMBER}]}'),
    ],
    ids=["contact", "bulk", "template"],
)
def test_non_finite_numbers_in_a_body_are_a_400(writer, method, path, body, number):
    response = _send(writer, method, path, body.replace("NUMBER", number))
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert detail.startswith("The body is not valid JSON: NaN/Infinity are not allowed")
    assert response.json()["errors"] == [{"field": "body", "message": detail}]
    assert not Contact.objects.exists() and not MessageTemplate.objects.exists()


def test_a_body_that_is_not_json_says_why(writer):
    response = _send(writer, "put", f"/api/v1/contacts/{LINE_ID}", '{"attributes": ')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The body is not valid JSON: Expecting value")


@pytest.mark.parametrize("depth", [65, 200_000])
def test_a_body_nested_deeper_than_64_levels_is_a_400(writer, depth):
    body = '{"attributes": {"x": ' + "[" * depth + "]" * depth + "}}"
    response = _send(writer, "put", f"/api/v1/contacts/{LINE_ID}", body)
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert detail == "The body is not valid JSON: JSON nested deeper than 64 levels"


def test_large_finite_numbers_are_still_numbers(writer):
    response = _send(writer, "put", f"/api/v1/contacts/{LINE_ID}", '{"attributes": {"x": 1e300}}')
    assert response.status_code == 201, response.content
    # PostgreSQL's jsonb gives 1e300 back as the integer 10**300: compare as floats.
    assert float(Contact.objects.get().attributes["x"]) == 1e300


@pytest.mark.parametrize(
    "path, field, value",
    [
        ("/api/v1/contacts", "page", 10**20),
        ("/api/v1/contacts", "page", 0),
        ("/api/v1/campaigns/1/deliveries", "page", 10**20),
        ("/api/v1/templates", "offset", 10**21),
        ("/api/v1/templates", "offset", -1),
        ("/api/v1/templates", "limit", 10**21),
        ("/api/v1/templates", "limit", 501),
    ],
)
def test_paging_out_of_bounds_is_a_400_naming_the_parameter(writer, path, field, value):
    response = writer.get(path, {field: value})
    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert "less than or equal" in error["message"] or "greater than" in error["message"]


def test_paging_within_bounds_still_works(writer):
    assert writer.get("/api/v1/contacts", {"page": 100_000}).json()["items"] == []
    assert writer.get("/api/v1/templates", {"offset": 10_000_000, "limit": 500}).json() == []


def _is_standard_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "errors"} and body["detail"]
    return body


def test_an_unknown_campaign_in_analytics_is_a_standard_404(writer):
    for path in ("/api/v1/campaigns/999/report", "/api/v1/campaigns/999/deliveries.csv"):
        _is_standard_error(writer.get(path), 404)


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/contacts/x/y/z", "/api/v1/"])
def test_an_unknown_api_path_is_a_json_404(writer, method, path):
    body = _is_standard_error(getattr(writer, method)(path), 404)
    assert path in body["detail"]


def test_an_unknown_api_path_is_a_json_404_for_browser_sessions_too(marketer):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(marketer)
    _is_standard_error(browser.post("/api/v1/nothing-here", {}), 404)
    _is_standard_error(Client().get("/api/v1/nothing-here"), 404)  # not a login redirect


def test_a_method_a_path_does_not_take_is_a_json_405(writer):
    response = writer.delete("/api/v1/campaigns")
    body = _is_standard_error(response, 405)
    assert "DELETE" in body["detail"]
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_an_unexpected_error_is_a_json_500_that_is_logged_not_shown(writer, monkeypatch, caplog):
    from audiences import api as audiences_api

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(audiences_api, "_contact", explode)
    with caplog.at_level("ERROR"):
        response = writer.get(f"/api/v1/contacts/{LINE_ID}")
    body = _is_standard_error(response, 500)
    assert body == {"detail": "Internal error.", "errors": []}
    assert "secret internals" not in response.content.decode()
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)


def test_wrapped_endpoints_still_need_no_csrf_token_with_a_bearer_token(marketer):
    from django.test import Client

    from kit.services import api_token_create

    _, raw = api_token_create(user=marketer, name="csrf")
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.put(f"/api/v1/contacts/{LINE_ID}", {}, content_type="application/json")
    assert response.status_code == 201, response.content
