"""A write to the API without any credentials is a 401 in the API's JSON format, not ninja's
"CSRF check Failed"; a write on a browser session without its CSRF token is still refused."""

import pytest
from django.test import Client

from audiences.models import Segment

SEGMENT = {
    "name": "Tokyo",
    "rules": {"all": [{"field": "attributes.city", "op": "eq", "value": "Tokyo"}]},
}

UNAUTHENTICATED = {
    "detail": "Authentication required: send 'Authorization: Bearer <token>'.",
    "errors": [],
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/connections"),
        ("put", "/api/v1/contacts/U0123456789abcdef0123456789abcdef"),
        ("delete", "/api/v1/contacts/U0123456789abcdef0123456789abcdef"),
        ("post", "/api/v1/campaigns/1/launch"),
    ],
)
def test_a_write_without_credentials_is_a_401_in_json(db, method, path):
    client = Client(enforce_csrf_checks=True)  # as a real client: no CSRF exemption
    response = getattr(client, method)(path, {}, content_type="application/json")
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_a_session_write_without_the_csrf_token_is_still_refused(marketer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    response = client.post("/api/v1/segments", SEGMENT, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Segment.objects.exists()


def test_a_session_write_with_the_csrf_token_goes_through(marketer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    client.get("/")  # the page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/v1/segments",
        SEGMENT,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201, response.content
    assert Segment.objects.get().name == "Tokyo"
