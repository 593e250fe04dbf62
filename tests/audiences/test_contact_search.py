"""The contact list's search box matches attribute values, never keys or JSON syntax."""

import pytest

from audiences.selectors import contact_search
from tests.audiences.factories import contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def people() -> None:
    contact(display_name="aki", attributes={"city": "Tokyo", "tags": ["new", "Sale"], "age": 34})
    contact(display_name="ben", attributes={"city": "Osaka", "profile": {"note": 'says "hi"'}})
    contact(display_name="chi", attributes={"discount": "50%_off", "vip": True})
    contact(display_name="dan", attributes={})


def found(q: str) -> set[str]:
    return set(contact_search(q=q).values_list("display_name", flat=True))


@pytest.mark.parametrize("q", ["{", "}", "[", "]", ":", ",", '":', "city", "tags", "profile"])
def test_json_syntax_and_keys_match_nobody(people, q):
    assert found(q) == set()


def test_values_match_at_any_depth_case_insensitively(people):
    assert found("osaka") == {"ben"}
    assert found("sale") == {"aki"}  # inside a list
    assert found("SAYS") == {"ben"}  # inside an object
    assert found("34") == {"aki"}  # a number
    assert found("k") == {"aki", "ben"}


def test_quotes_percent_and_underscore_are_literal(people):
    assert found('"hi"') == {"ben"}
    assert found("0%_") == {"chi"}
    assert found("%") == {"chi"}
    assert found("_") == {"chi"}
