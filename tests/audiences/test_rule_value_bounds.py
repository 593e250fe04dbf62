"""Rule values the database cannot compare are refused on save with the rule's path, never
saved to make every later count a 500."""

import json

import pytest

from audiences.models import Segment
from audiences.rules import RuleError
from audiences.selectors import segment_contacts
from tests.audiences.factories import contact

pytestmark = pytest.mark.django_db

HUGE = int("9" * 400)
OUT_OF_RANGE_DATES = [
    "9999-12-31",
    "0001-01-01",
    "3000-01-01",
    "1899-12-31",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
]


def cond(field: str, op: str, value) -> dict:
    return {"all": [{"field": field, "op": op, "value": value}]}


@pytest.mark.parametrize("op", ["eq", "neq", "gt", "lte"])
def test_a_400_digit_number_is_refused_naming_its_place(op):
    with pytest.raises(RuleError) as info:
        segment_contacts(rules=cond("attributes.score", op, HUGE))
    assert info.value.field == "rules.all[0].value"
    assert "limited to ±1,000,000,000,000,000" in info.value.message
    with pytest.raises(RuleError) as info:
        segment_contacts(rules=cond("attributes.score", "in", [1, -HUGE]))
    assert info.value.field == "rules.all[0].value[1]"


@pytest.mark.parametrize("field", ["created_at", "last_interaction_at", "attributes.birthday"])
@pytest.mark.parametrize("value", OUT_OF_RANGE_DATES)
def test_dates_out_of_range_are_refused_naming_the_range(field, value):
    with pytest.raises(RuleError) as info:
        segment_contacts(rules=cond(field, "gt", value))
    assert info.value.field == "rules.all[0].value"
    assert "dates are limited to 1900-01-01 … 2999-12-31" in info.value.message


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
def test_the_first_and_last_dates_accepted_count_without_error(op):
    contact(display_name="a", attributes={"birthday": "1990-04-01"})
    for value in [
        "1900-01-01",
        "2999-12-31",
        "2999-12-31T23:59:59-14:00",
        "1900-01-01T00:00+14:00",
    ]:
        for field in ("created_at", "last_interaction_at", "attributes.birthday"):
            segment_contacts(rules=cond(field, op, value)).count()


def test_the_api_refuses_to_save_a_date_that_would_break_every_count(api_client_for, marketer):
    body = {"name": "Future", "rules": cond("created_at", "gt", "9999-12-31")}
    response = api_client_for(marketer).post(
        "/api/v1/segments", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "rules.all[0].value"
    assert "1900-01-01 … 2999-12-31" in error["message"]
    assert not Segment.objects.exists()


def test_the_builder_preview_shows_the_error_for_a_400_digit_number(marketer_client):
    contact(display_name="a", attributes={"score": 5})
    for op in ("eq", "gt"):
        data = {"r1-field": "attributes.score", "r1-op": op, "r1-value": "9" * 400}
        response = marketer_client.post("/audiences/segments/preview/", data)
        assert response.status_code == 200
        assert "limited to ±1,000,000,000,000,000" in response.content.decode()
    data = {"r1-field": "created_at", "r1-op": "gt", "r1-value": "9999-12-31"}
    response = marketer_client.post("/audiences/segments/preview/", data)
    assert "dates are limited to" in response.content.decode()
