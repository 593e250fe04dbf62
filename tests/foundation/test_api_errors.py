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


def test_large_finite_numbers_are_still_numbers(writer):
    response = _send(writer, "put", f"/api/v1/contacts/{LINE_ID}", '{"attributes": {"x": 1e300}}')
    assert response.status_code == 201, response.content
    assert Contact.objects.get().attributes == {"x": 1e300}
