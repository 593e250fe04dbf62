import datetime

import pytest
from django.utils import timezone

from audiences.models import Contact
from audiences.rules import RuleError
from audiences.selectors import reachable, segment_contacts
from tests.audiences.factories import contact, line_id

pytestmark = pytest.mark.django_db


def matching(rules: dict) -> set[str]:
    return set(segment_contacts(rules=rules).values_list("display_name", flat=True))


def cond(field: str, op: str, value=None) -> dict:
    item = {"field": field, "op": op}
    if value is not None:
        item["value"] = value
    return {"all": [item]}


@pytest.fixture
def people():
    contact(
        display_name="aki",
        attributes={
            "plan": "gold",
            "age": 34,
            "vip": True,
            "city": "Tokyo",
            "tags": ["new", "sale"],
            "birthday": "1990-04-01",
        },
    )
    contact(
        display_name="ben",
        attributes={
            "plan": "silver",
            "age": 29,
            "vip": False,
            "city": "Osaka",
            "birthday": "2001-12-24",
        },
    )
    contact(display_name="chi", attributes={"plan": "gold", "age": "40", "city": "東京都"})
    contact(display_name="dai", attributes={})


def test_exists_and_not_exists_test_the_key_not_the_value(people):
    assert matching(cond("attributes.vip", "exists")) == {"aki", "ben"}
    assert matching(cond("attributes.vip", "not_exists")) == {"chi", "dai"}


def test_eq_matches_text_numbers_and_booleans_by_type(people):
    assert matching(cond("attributes.plan", "eq", "gold")) == {"aki", "chi"}
    assert matching(cond("attributes.age", "eq", 34)) == {"aki"}
    assert matching(cond("attributes.age", "eq", 40)) == set()  # "40" is text, not a number
    assert matching(cond("attributes.vip", "eq", False)) == {"ben"}


def test_neq_includes_contacts_without_the_key(people):
    assert matching(cond("attributes.plan", "neq", "gold")) == {"ben", "dai"}


def test_contains_is_case_insensitive_on_text_and_looks_inside_lists(people):
    assert matching(cond("attributes.city", "contains", "tok")) == {"aki"}
    assert matching(cond("attributes.city", "contains", "東京")) == {"chi"}
    assert matching(cond("attributes.tags", "contains", "sale")) == {"aki"}


def test_in_matches_any_listed_value(people):
    assert matching(cond("attributes.plan", "in", ["silver", "bronze"])) == {"ben"}
    assert matching(cond("kind", "in", ["group", "room"])) == set()


def test_numbers_compare_as_numbers_and_ignore_text(people):
    assert matching(cond("attributes.age", "gt", 29)) == {"aki"}
    assert matching(cond("attributes.age", "gte", 29)) == {"aki", "ben"}
    assert matching(cond("attributes.age", "lt", 30)) == {"ben"}
    assert matching(cond("attributes.age", "lte", 100.5)) == {"aki", "ben"}
    contact(display_name="eve", attributes={"age": 9})  # 9 < 29 as a number, not as text
    assert matching(cond("attributes.age", "lt", 10)) == {"eve"}


def test_dates_compare_as_dates(people):
    assert matching(cond("attributes.birthday", "lt", "2000-01-01")) == {"aki"}
    assert matching(cond("attributes.birthday", "gte", "2001-12-24")) == {"ben"}
    assert matching(cond("attributes.birthday", "gt", "2001-12-24")) == set()


def test_within_last_on_last_interaction():
    now = timezone.now()
    contact(display_name="recent", last_interaction_at=now - datetime.timedelta(hours=2))
    contact(display_name="week", last_interaction_at=now - datetime.timedelta(days=5))
    contact(display_name="old", last_interaction_at=now - datetime.timedelta(days=100))
    contact(display_name="never")
    assert matching(cond("last_interaction_at", "within_last", "24h")) == {"recent"}
    assert matching(cond("last_interaction_at", "within_last", "7d")) == {"recent", "week"}
    assert matching(cond("last_interaction_at", "within_last", "365d")) == {"recent", "week", "old"}
    assert matching(cond("last_interaction_at", "not_exists")) == {"never"}


def test_created_at_compares_with_a_date():
    contact(display_name="today")
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert matching(cond("created_at", "lt", tomorrow)) == {"today"}
    assert matching(cond("created_at", "gte", tomorrow)) == set()


def test_builtin_fields_kind_follow_status_source_opted_out_line_id_name():
    contact(display_name="grp", line_id=line_id("C"), follow_status="following")
    contact(display_name="usr", follow_status="unfollowed", source="import", opted_out=True)
    assert matching(cond("kind", "eq", "group")) == {"grp"}
    assert matching(cond("follow_status", "neq", "following")) == {"usr"}
    assert matching(cond("source", "eq", "import")) == {"usr"}
    assert matching(cond("opted_out", "eq", True)) == {"usr"}
    assert matching(cond("display_name", "contains", "GR")) == {"grp"}
    assert matching(cond("line_id", "contains", "C0000")) == {"grp"}


def test_all_any_and_one_level_of_nesting(people):
    rules = {
        "all": [
            {"field": "attributes.plan", "op": "eq", "value": "gold"},
            {
                "any": [
                    {"field": "attributes.age", "op": "gte", "value": 30},
                    {"field": "attributes.city", "op": "contains", "value": "東京"},
                ]
            },
        ]
    }
    assert matching(rules) == {"aki", "chi"}
    assert matching(
        {
            "any": [
                {"field": "attributes.vip", "op": "eq", "value": True},
                {"field": "attributes.age", "op": "eq", "value": 29},
            ]
        }
    ) == {"aki", "ben"}
    assert matching({"all": []}) == {"aki", "ben", "chi", "dai"}


def test_reachable_leaves_out_only_opt_outs_and_unfollowed_contacts():
    contact(display_name="yes", follow_status="following")
    contact(display_name="imported", follow_status="unknown")
    contact(display_name="blocked", follow_status="unfollowed")
    contact(display_name="optout", follow_status="following", opted_out=True)
    names = set(reachable(Contact.objects.all()).values_list("display_name", flat=True))
    assert names == {"yes", "imported"}


def test_segment_queryset_works_as_a_subquery(people):
    ids = segment_contacts(rules=cond("attributes.plan", "eq", "gold")).values("id")
    assert Contact.objects.filter(id__in=ids).count() == 2


@pytest.mark.parametrize(
    ("rules", "where"),
    [
        ({"both": []}, "rules"),
        ({"all": [{"field": "shoe_size", "op": "eq", "value": 1}]}, "rules.all[0].field"),
        ({"all": [{"field": "attributes.a", "op": "like", "value": 1}]}, "rules.all[0].op"),
        ({"all": [{"field": "attributes.a", "op": "gt", "value": "abc"}]}, "rules.all[0].value"),
        ({"all": [{"field": "kind", "op": "eq", "value": "bot"}]}, "rules.all[0].value"),
        ({"all": [{"field": "kind", "op": "gt", "value": "user"}]}, "rules.all[0].op"),
        ({"all": [{"field": "opted_out", "op": "eq", "value": "yes"}]}, "rules.all[0].value"),
        (
            {"all": [{"field": "created_at", "op": "within_last", "value": "2w"}]},
            "rules.all[0].value",
        ),
        ({"all": [{"field": "attributes.a", "op": "in", "value": "x"}]}, "rules.all[0].value"),
        ({"all": [{"any": [{"all": []}]}]}, "rules.all[0].any[0]"),
    ],
)
def test_bad_rules_raise_an_error_naming_the_place(rules, where):
    with pytest.raises(RuleError) as info:
        segment_contacts(rules=rules)
    assert info.value.field == where


@pytest.mark.parametrize("op", ["eq", "neq", "gt", "lte"])
@pytest.mark.parametrize("value", [10**15 + 1, -(10**20), 1e300, -1e16])
def test_numbers_beyond_a_quadrillion_are_refused_naming_the_place(op, value):
    with pytest.raises(RuleError) as info:
        segment_contacts(rules=cond("attributes.big", op, value))
    assert info.value.field == "rules.all[0].value"
    assert "limited to ±1,000,000,000,000,000" in info.value.message
    with pytest.raises(RuleError) as info:
        segment_contacts(rules=cond("attributes.big", "in", [1, value]))
    assert info.value.field == "rules.all[0].value[1]"


def test_unusual_attribute_keys_and_large_numbers_compare_safely():
    contact(display_name="q", attributes={'we"ird\\key': 5, "年齢": 41, "big": 10**15})
    contact(display_name="r", attributes={'we"ird\\key': "5", "年齢": 12.5, "big": 3})
    assert matching(cond('attributes.we"ird\\key', "gt", 4)) == {"q"}
    assert matching(cond("attributes.年齢", "lt", 20)) == {"r"}
    assert matching(cond("attributes.big", "gte", 10**15)) == {"q"}
    assert matching(cond("attributes.年齢", "eq", 12.5)) == {"r"}


def test_within_last_on_a_date_attribute():
    now = timezone.now().astimezone(datetime.UTC)
    recent = (now - datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    old = (now - datetime.timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S")
    contact(display_name="recent", attributes={"last_order": recent})
    contact(display_name="old", attributes={"last_order": old})
    contact(display_name="text", attributes={"last_order": "yesterday"})
    assert matching(cond("attributes.last_order", "within_last", "7d")) == {"recent"}
    assert matching(cond("attributes.last_order", "within_last", "365d")) == {"recent", "old"}
