"""Entry rules and guards: once / every time / at most every, a run at a time, opted-out and
unfollowed contacts, entry conditions, the daily send limit, the frequency cap, transactional
journeys, and versions (a run finishes with the version it entered)."""

import datetime

import pytest
from django.utils import timezone

from audiences.custom_events import custom_event_record
from audiences.models import Contact
from campaigns.models import Campaign, Delivery, FrequencyCap
from journeys.engine import run_queued as run_send
from journeys.entry import enter
from journeys.models import JourneyRun, JourneySend
from journeys.services import journey_update
from tests.connections.helpers import follower_id
from tests.journeys.support import make_journey, texts

pytestmark = pytest.mark.usefixtures("eager_celery")
USER = follower_id(1)
KEYWORD = {"type": "keyword", "keywords": ["coupon"]}
COUPON = {"message": {"type": "text", "id": "1", "text": "coupon"}}


def reasons() -> list[str]:
    return list(JourneyRun.objects.order_by("pk").values_list("reason", flat=True))


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("once", ["", "already_entered", "already_entered"]),
        ("every_time", ["", "", ""]),
        ({"at_most_every": "1d"}, ["", "entered_recently", "entered_recently"]),
    ],
)
def test_entry_rules(fire, marketer, connection, emulator, entry, expected):
    make_journey(marketer, connection, KEYWORD, entry=entry, daily_limit=10)
    for _ in range(3):
        fire("message", **COUPON)
    assert reasons() == expected
    assert len(emulator.messages(to=USER)) == expected.count("")


def test_at_most_every_lets_the_contact_in_again_after_the_period(fire, marketer, connection):
    make_journey(marketer, connection, KEYWORD, entry={"at_most_every": "2h"})
    fire("message", **COUPON)
    JourneyRun.objects.update(created_at=timezone.now() - datetime.timedelta(hours=3))
    JourneySend.objects.update(created_at=timezone.now() - datetime.timedelta(hours=3))
    fire("message", **COUPON)
    assert reasons() == ["", ""]


def test_a_contact_in_a_run_does_not_enter_again_until_it_ends(marketer, connection, emulator):
    journey = make_journey(marketer, connection, KEYWORD, entry="every_time")
    contact = Contact.objects.create(line_id=USER, connection=connection)
    version = journey.current_version
    first, _ = enter(version=version, contact=contact, trigger_key="wh:1", payload={})
    second, _ = enter(version=version, contact=contact, trigger_key="wh:2", payload={})
    assert (first.status, second.reason) == ("queued", "in_journey")
    run_send(first.pk)  # the first run ends ...
    third, _ = enter(version=version, contact=contact, trigger_key="wh:3", payload={})
    assert third.status == "queued"  # ... so the next trigger enters
    again, created = enter(version=version, contact=contact, trigger_key="wh:1", payload={})
    assert (again.pk, created) == (first.pk, False)  # a trigger seen before enters nothing


def test_the_daily_limit_stops_a_loop(fire, marketer, connection, emulator):
    make_journey(marketer, connection, KEYWORD, entry="every_time", daily_limit=2)
    for _ in range(4):
        fire("message", **COUPON)
    assert reasons() == ["", "", "daily_limit", "daily_limit"]
    assert len(emulator.messages(to=USER)) == 2


def test_opted_out_and_unfollowed_contacts_are_skipped_with_the_reason(
    fire, marketer, connection, emulator
):
    make_journey(marketer, connection, KEYWORD, entry="every_time")
    fire(
        "message", token=False, message={"type": "text", "id": "9", "text": "hello"}
    )  # the contact
    Contact.objects.filter(line_id=USER).update(opted_out=True)
    fire("message", **COUPON)
    Contact.objects.filter(line_id=USER).update(opted_out=False, follow_status="unfollowed")
    fire("message", **COUPON)
    assert reasons() == ["opted_out", "unfollowed"] and not emulator.messages(to=USER)


def test_entry_conditions_use_segment_rules(fire, marketer, connection, emulator):
    rules = {"all": [{"field": "attributes.tier", "op": "eq", "value": "gold"}]}
    make_journey(marketer, connection, KEYWORD, entry="every_time", entry_conditions=rules)
    fire("message", token=False, message={"type": "text", "id": "9", "text": "hello"})
    fire("message", **COUPON)
    Contact.objects.filter(line_id=USER).update(attributes={"tier": "gold"})
    fire("message", **COUPON)
    assert reasons() == ["conditions_not_met", ""]
    assert len(emulator.messages(to=USER)) == 1


def _sent_campaign_delivery(connection, contact) -> None:
    campaign = Campaign.objects.create(name="Sale", connection=connection, status="completed")
    Delivery.objects.create(
        campaign=campaign,
        contact=contact,
        line_id=contact.line_id,
        status="sent",
        finished_at=timezone.now(),
    )


def test_the_frequency_cap_holds_back_marketing_but_not_transactional_journeys(
    marketer, connection, emulator, django_capture_on_commit_callbacks
):
    FrequencyCap.objects.create(max_messages=1, days=7)
    contact = Contact.objects.create(line_id=USER, connection=connection, opted_out=True)
    _sent_campaign_delivery(connection, contact)
    text = [{"type": "text", "text": "Receipt for {{ event.properties.order }}"}]
    receipt = make_journey(
        marketer,
        connection,
        {"type": "event", "name": "paid"},
        transactional=True,
        entry="every_time",
        steps=[{"type": "send", "messages": text}],
    )
    promo = make_journey(
        marketer,
        connection,
        {"type": "event", "name": "paid"},
        name="upsell",
        entry="every_time",
        steps=[{"type": "send", "messages": text}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        custom_event_record(name="paid", properties={"order": "A1"}, line_id=USER)
    assert JourneyRun.objects.get(journey=receipt).status == "sent"
    assert JourneyRun.objects.get(journey=promo).reason == "opted_out"
    Contact.objects.filter(pk=contact.pk).update(opted_out=False)
    with django_capture_on_commit_callbacks(execute=True):
        custom_event_record(name="paid", properties={"order": "A2"}, line_id=USER)
    assert JourneyRun.objects.filter(journey=promo).latest("pk").reason == "frequency_cap"
    assert texts(emulator, USER) == [("push", "Receipt for A1"), ("push", "Receipt for A2")]


def test_marketing_journey_sends_count_toward_the_frequency_cap(fire, marketer, connection):
    FrequencyCap.objects.create(max_messages=1, days=7)
    make_journey(marketer, connection, KEYWORD, entry="every_time")
    fire("message", **COUPON)
    fire("message", **COUPON)
    assert reasons() == ["", "frequency_cap"]


def test_a_run_finishes_with_the_version_it_entered(marketer, connection, emulator):
    journey = make_journey(marketer, connection, KEYWORD, entry="every_time")
    contact = Contact.objects.create(line_id=USER, connection=connection)
    run, _ = enter(version=journey.current_version, contact=contact, trigger_key="k1", payload={})
    new_steps = [{"type": "send", "messages": [{"type": "text", "text": "Version two"}]}]
    journey = journey_update(journey=journey, user=marketer, steps=new_steps)
    assert journey.current_version.number == 2 and run.version.number == 1
    run_send(run.pk)
    later, _ = enter(version=journey.current_version, contact=contact, trigger_key="k2", payload={})
    run_send(later.pk)
    assert [t for _, t in texts(emulator, USER)] == ["Welcome, friend!", "Version two"]


def test_campaigns_count_marketing_journey_sends_toward_the_cap(fire, marketer, connection):
    from campaigns.engine.snapshot import audience_contacts, with_skip_reason

    FrequencyCap.objects.create(max_messages=1, days=7)
    receipt = make_journey(
        marketer, connection, {"type": "postback", "data": "receipt"}, transactional=True
    )
    fire("postback", postback={"data": "receipt"})
    campaign = Campaign.objects.create(
        name="Sale", connection=connection, audience_type="explicit", explicit_ids=[USER]
    )

    def reason() -> str:
        (contact,) = with_skip_reason(audience_contacts(campaign), campaign)
        return contact.skip_reason

    assert JourneySend.objects.get(journey=receipt).status == "sent"
    assert reason() == ""  # a transactional send does not count
    make_journey(marketer, connection, KEYWORD)
    fire("message", **COUPON)
    assert reason() == "frequency_cap"


def test_a_journey_without_a_connection_is_refused_naming_it(marketer):
    from journeys.definition import JourneyInvalid
    from journeys.services import journey_create

    with pytest.raises(JourneyInvalid) as refused:
        journey_create(user=marketer, connection=None, name="x", trigger=KEYWORD, steps=[])
    fields = [p.field for p in refused.value.problems]
    assert fields[0] == "connection" and "steps" in fields


def test_step_ids_are_checked(marketer, connection):
    from journeys.definition import JourneyInvalid
    from journeys.services import journey_create

    send = {"type": "send", "messages": [{"type": "text", "text": "hi"}]}
    with pytest.raises(JourneyInvalid) as refused:
        journey_create(
            user=marketer,
            connection=connection,
            name="x",
            trigger=KEYWORD,
            steps=[{**send, "id": "a"}, {**send, "id": "a"}],
        )
    assert [(p.field, p.message) for p in refused.value.problems] == [
        ("steps[1].id", '"a" is already the id of steps[0].')
    ]
