"""Segments built from segments ("member of"), within_last spans, and builder errors that name
the row."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audiences.models import Contact, Segment
from audiences.rules import RuleError
from audiences.selectors import rules_count, segment_contacts
from audiences.services import SegmentInUse, segment_create, segment_delete, segment_update
from linecampaigns.demo import SEGMENTS
from tests.audiences.factories import contact
from tests.audiences.test_pages import builder_post

pytestmark = pytest.mark.django_db


def names(rules: dict, **kwargs) -> set[str]:
    return set(segment_contacts(rules=rules, **kwargs).values_list("display_name", flat=True))


def member(segment: Segment, op: str = "member_of") -> dict:
    return {"field": "segment", "op": op, "value": segment.pk}


def gold_segment(name: str = "Gold") -> Segment:
    rules = {"all": [{"field": "attributes.plan", "op": "eq", "value": "gold"}]}
    return segment_create(name=name, rules=rules, user=None)


@pytest.fixture
def people():
    now = timezone.now()
    contact(display_name="gold-recent", attributes={"plan": "gold"}, last_interaction_at=now)
    contact(
        display_name="gold-old",
        attributes={"plan": "gold"},
        last_interaction_at=now - datetime.timedelta(days=30),
    )
    contact(display_name="free-recent", attributes={"plan": "free"}, last_interaction_at=now)


def test_member_of_intersects_another_segment_without_retyping_it(people):
    gold = gold_segment()
    recent = {"field": "last_interaction_at", "op": "within_last", "value": "7d"}
    assert names({"all": [recent, member(gold)]}) == {"gold-recent"}
    assert names({"all": [recent, member(gold, "not_member_of")]}) == {"free-recent"}
    # The other segment's rules are read when counting: a change to them shows at once.
    segment_update(
        segment=gold,
        user=None,
        name="Gold",
        rules={"all": [{"field": "attributes.plan", "op": "eq", "value": "free"}]},
    )
    assert names({"all": [recent, member(gold)]}) == {"free-recent"}


def test_a_count_with_member_of_is_one_sql_statement_over_contacts(people):
    inner = segment_create(name="Gold fans", rules={"all": [member(gold_segment())]}, user=None)
    with CaptureQueriesContext(connection) as queries:
        counts = rules_count(
            rules={"any": [member(inner), {"field": "kind", "op": "eq", "value": "group"}]}
        )
    assert counts == {"count": 2, "expected_recipients": 2}
    over_contacts = [q["sql"] for q in queries if "audiences_contact" in q["sql"]]
    assert len(over_contacts) == 1


def test_a_circle_of_segments_is_refused_naming_it():
    first = gold_segment("First")
    second = segment_create(name="Second", rules={"all": [member(first)]}, user=None)
    with pytest.raises(RuleError) as info:
        segment_update(segment=first, user=None, name="First", rules={"all": [member(second)]})
    assert info.value.field == "rules.all[0].value"
    assert "circle" in info.value.message and "“First” → “Second” → “First”" in info.value.message
    with pytest.raises(RuleError, match="circle"):
        segment_update(segment=first, user=None, name="First", rules={"all": [member(first)]})


def test_member_of_chains_three_segments_deep_and_no_further():
    one = gold_segment("One")
    two = segment_create(name="Two", rules={"all": [member(one)]}, user=None)
    three = segment_create(name="Three", rules={"all": [member(two)]}, user=None)
    with pytest.raises(RuleError, match="at most 3 segments deep"):
        segment_create(name="Four", rules={"all": [member(three)]}, user=None)


def test_an_unknown_segment_id_is_refused_where_it_stands():
    rules = {"all": [{"any": [{"field": "segment", "op": "member_of", "value": 999}]}]}
    with pytest.raises(RuleError) as info:
        segment_create(name="Ghost", rules=rules, user=None)
    assert info.value.field == "rules.all[0].any[0].value"
    assert "no segment has id 999" in info.value.message
    for value in ("7", 0, True, [1]):
        with pytest.raises(RuleError, match="segment id"):
            segment_contacts(
                rules={"all": [{"field": "segment", "op": "member_of", "value": value}]}
            )
    with pytest.raises(RuleError, match="does not apply"):
        segment_contacts(rules={"all": [{"field": "attributes.a", "op": "member_of", "value": 1}]})


def test_a_segment_another_one_uses_is_not_deleted(marketer_client):
    gold = gold_segment()
    segment_create(name="Gold this week", rules={"all": [member(gold)]}, user=None)
    with pytest.raises(SegmentInUse, match="“Gold this week”"):
        segment_delete(segment=gold, user=None)
    response = marketer_client.post(reverse("segment_delete", args=[gold.pk]), follow=True)
    assert "is used by the segment “Gold this week”" in response.content.decode()
    assert Segment.objects.filter(pk=gold.pk).exists()


def test_the_builder_saves_a_member_of_row(marketer_client, people):
    gold = gold_segment()
    data = builder_post([("segment", "member_of", str(gold.pk))], name="Gold again")
    assert marketer_client.post(reverse("segment_create"), data).status_code == 302
    saved = Segment.objects.get(name="Gold again")
    assert saved.rules == {"all": [{"field": "segment", "op": "member_of", "value": gold.pk}]}
    page = marketer_client.get(reverse("segment_edit", args=[saved.pk])).content.decode()
    assert f'<option value="{gold.pk}">segment: Gold</option>' in page


@pytest.mark.parametrize(("value", "hours"), [("36h", 36), ("90d", 90 * 24), ("1h", 1)])
def test_within_last_takes_any_whole_number_of_hours_or_days(value, hours):
    now = timezone.now()
    contact(display_name="in", created_at=now)
    inside = contact(display_name="edge")
    outside = contact(display_name="out")
    Contact.objects.filter(pk=inside.pk).update(
        created_at=now - datetime.timedelta(hours=hours) + datetime.timedelta(minutes=5)
    )
    Contact.objects.filter(pk=outside.pk).update(
        created_at=now - datetime.timedelta(hours=hours, minutes=5)
    )
    assert names({"all": [{"field": "created_at", "op": "within_last", "value": value}]}) == {
        "in",
        "edge",
    }


@pytest.mark.parametrize("value", ["0d", "36", "2w", "1.5d", "3651d", "87601h", "-3d", 36, " 7d"])
def test_within_last_refuses_other_spans_clearly(value):
    with pytest.raises(RuleError) as info:
        segment_contacts(
            rules={"all": [{"field": "created_at", "op": "within_last", "value": value}]}
        )
    assert info.value.field == "rules.all[0].value"
    assert "whole number of hours or days, e.g. 36h or 90d" in info.value.message


def test_the_demo_segment_of_recent_signups_moves_with_the_date():
    rules = dict(SEGMENTS)["Signed up in the last 90 days"]
    assert rules == {
        "all": [{"field": "attributes.signup_date", "op": "within_last", "value": "90d"}]
    }
    today = timezone.now().date()
    for name, days in (("new", 10), ("old", 120)):
        contact(
            display_name=name, attributes={"signup_date": str(today - datetime.timedelta(days))}
        )
    assert names(rules) == {"new"}


def test_builder_errors_name_the_row_in_words_and_the_json_path(marketer_client):
    data = builder_post([("city", "eq", "Tokyo")], name="Bad")
    response = marketer_client.post(reverse("segment_create"), data)
    assert response.context["builder_error"] == (
        "Row 1: unknown field 'city' — did you mean the attribute city? (at rules.all[0].field)"
    )
    rows = [
        ("kind", "eq", "user"),
        ("attributes.age", "gte", "30", "g1"),
        ("folow_status", "eq", "following", "g1"),
    ]
    response = marketer_client.post(reverse("segment_create"), builder_post(rows, name="Bad"))
    assert response.context["builder_error"] == (
        "Row 3: unknown field 'folow_status' — did you mean follow_status? "
        "(at rules.all[1].all[1].field)"
    )
    preview = marketer_client.post(
        reverse("segment_preview"), builder_post([("", "eq", ""), ("kind", "eq", "bot")])
    )
    assert preview.context["error"].startswith("Row 2: kind is one of user, group, room.")
    assert not Segment.objects.exists()
