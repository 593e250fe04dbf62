"""A page that does not exist is the product's 404, also with DEBUG on (as `make run` runs):
never Django's technical page, which shows the URLconf and settings."""

import pytest

TECHNICAL_PAGE = ("Using the URLconf", "Page not found (404)", "Raised by:")


@pytest.fixture(autouse=True)
def debug_on(settings) -> None:
    settings.DEBUG = True  # pytest-django runs tests with DEBUG off


def _assert_product_404(response) -> None:
    body = response.content.decode()
    assert response.status_code == 404
    assert "Page not found</h1>" in body
    assert "Back to the home page" in body
    for text in TECHNICAL_PAGE:
        assert text not in body


@pytest.mark.parametrize(
    "path",
    [
        "/campaigns/99999/",  # the view raises Http404
        "/audiences/contacts/99999/",
        "/audiences/contacts/U123/nope",  # no pattern matches
        "/campaigns/templates/nope/",
        "/no-such-page/",
    ],
)
def test_an_unknown_page_is_the_products_404_even_in_debug(marketer_client, path):
    _assert_product_404(marketer_client.get(path))


def test_a_missing_slash_still_redirects_to_the_page(marketer_client):
    response = marketer_client.get("/campaigns/templates")
    assert response.status_code == 301
    assert response["Location"] == "/campaigns/templates/"


def test_a_signed_out_visitor_also_gets_the_products_404(client, db):
    _assert_product_404(client.get("/no-such-page/"))


def test_the_api_keeps_its_json_404(marketer_client):
    missing = marketer_client.get("/api/v1/campaigns/99999")
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("application/json")
    assert marketer_client.get("/api/v1/nope").json()["detail"].startswith("No endpoint at")
