"""Events from the brand's systems (POST /api/v1/events): stored once per sender's id, on the
contact's timeline, in segments as event.<name> within / not within the last N days, and handed
to listeners after commit."""

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from audiences.custom_events import custom_event_recorded
from audiences.models import Contact, CustomEvent
from audiences.rules import RuleError
from audiences.selectors import segment_contacts
from audiences.services import contact_upsert
from tests.audiences.factories import contact, line_id

pytestmark = pytest.mark.django_db

JSON = "application/json"


def send(client: Client, body: object):
    return client.post("/api/v1/events", json.dumps(body), content_type=JSON)


@pytest.fixture
def writer(api_client_for, marketer) -> Client:
    return api_client_for(marketer)


def test_an_event_for_a_new_line_id_creates_the_contact(writer):
    lid = line_id()
    response = send(writer, {"line_id": lid, "name": "order_shipped", "properties": {"n": 3}})

    assert response.status_code == 202
    event = CustomEvent.objects.get(pk=response.json()["id"])
    assert (event.name, event.properties, event.contact.line_id) == ("order_shipped", {"n": 3}, lid)
    assert event.contact.source == Contact.Source.API


def test_the_same_id_twice_is_stored_once(writer):
    body = {"line_id": line_id(), "name": "paid", "id": "order-1001"}
    first, second = send(writer, body), send(writer, {**body, "properties": {"late": True}})

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert CustomEvent.objects.count() == 1
    assert CustomEvent.objects.get().properties == {}


def test_a_person_by_external_id(writer):
    known = contact(external_id="crm-7")
    assert send(writer, {"external_id": "crm-7", "name": "paid"}).status_code == 202
    assert CustomEvent.objects.get().contact == known

    missing = send(writer, {"external_id": "crm-404", "name": "paid"})
    assert missing.status_code == 404
    assert "external_id" in missing.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "paid"},  # nobody
        {"line_id": "U" + "a" * 32, "external_id": "x", "name": "paid"},  # two people
        {"line_id": "U" + "a" * 32, "name": ""},
        {"line_id": "U" + "a" * 32, "name": "x" * 101},
        {"line_id": "U" + "a" * 32, "name": "paid", "properties": []},
        {"line_id": "U123", "name": "paid"},
    ],
)
def test_a_malformed_event_is_a_400_and_stores_nothing(writer, body):
    response = send(writer, body)
    assert response.status_code == 400, response.content
    assert CustomEvent.objects.count() == 0 and Contact.objects.count() == 0


def test_too_large_properties_are_refused_by_name(writer):
    response = send(
        writer, {"line_id": line_id(), "name": "paid", "properties": {"a": "x" * 17000}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "properties"
    assert CustomEvent.objects.count() == 0


def test_analysts_may_not_send_events(api_client_for, analyst):
    response = send(api_client_for(analyst), {"line_id": line_id(), "name": "paid"})
    assert response.status_code == 403
    assert CustomEvent.objects.count() == 0


def _event(person: Contact, name: str, days_ago: float) -> None:
    when = timezone.now() - datetime.timedelta(days=days_ago)
    CustomEvent.objects.create(contact=person, name=name, occurred_at=when)


def test_segments_by_event_within_and_not_within_the_last_span():
    recent, old, other, never = contact(), contact(), contact(), contact()
    _event(recent, "purchase", 2)
    _event(old, "purchase", 40)
    _event(other, "refund", 1)

    did = {"all": [{"field": "event.purchase", "op": "within_last", "value": "30d"}]}
    did_not = {"all": [{"field": "event.purchase", "op": "not_within_last", "value": "30d"}]}

    assert set(segment_contacts(rules=did)) == {recent}
    assert set(segment_contacts(rules=did_not)) == {old, other, never}


@pytest.mark.parametrize(
    "condition, field",
    [
        ({"field": "event.purchase", "op": "eq", "value": "x"}, "rules.all[0].op"),
        (
            {"field": "event.purchase", "op": "within_last", "value": "30 days"},
            "rules.all[0].value",
        ),
        ({"field": "event.", "op": "within_last", "value": "30d"}, "rules.all[0].field"),
        ({"field": "attributes.plan", "op": "not_within_last", "value": "3d"}, "rules.all[0].op"),
    ],
)
def test_event_conditions_are_checked(condition, field):
    with pytest.raises(RuleError) as error:
        list(segment_contacts(rules={"all": [condition]}))
    assert error.value.field == field


def test_the_contact_page_shows_the_timeline(marketer_client):
    person = contact()
    CustomEvent.objects.create(
        contact=person,
        name="order_shipped",
        properties={"order": "A-1"},
        occurred_at=timezone.now(),
    )
    page = marketer_client.get(f"/audiences/contacts/{person.pk}/")
    assert page.status_code == 200
    assert b"order_shipped" in page.content and b"A-1" in page.content


def test_listeners_hear_of_an_event_after_it_commits(writer, django_capture_on_commit_callbacks):
    heard = []

    def listener(sender, event, **kwargs):
        heard.append((event.name, event.contact.line_id))

    custom_event_recorded.connect(listener)
    try:
        lid = line_id()
        with django_capture_on_commit_callbacks(execute=True):
            send(writer, {"line_id": lid, "name": "paid", "id": "e-1"})
            send(writer, {"line_id": lid, "name": "paid", "id": "e-1"})  # stored once
    finally:
        custom_event_recorded.disconnect(listener)
    assert heard == [("paid", lid)]


def test_a_merge_keeps_the_persons_events():
    anonymous = contact()
    _event(anonymous, "viewed", 1)
    identified = contact(external_id="crm-9")

    merged, _ = contact_upsert(line_id=anonymous.line_id, external_id="crm-9")

    assert merged == identified
    assert list(CustomEvent.objects.values_list("contact_id", flat=True)) == [identified.pk]


def test_the_segment_builder_offers_the_event_names_seen(marketer_client):
    _event(contact(), "order_shipped", 1)
    page = marketer_client.get("/audiences/segments/new/")
    assert page.status_code == 200
    assert b'value="event.order_shipped"' in page.content
    assert b"not within the last" in page.content
