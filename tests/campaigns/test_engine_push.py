"""The push path against the emulator: personalized, exactly once, failures per recipient."""

import pytest
from django.utils import timezone

from audiences.models import Contact
from campaigns.models import Campaign, Delivery
from campaigns.selectors import campaign_review
from campaigns.services import campaign_create, campaign_launch
from tests.campaigns.engine_support import (
    counters,
    drain,
    fast_engine,  # noqa: F401
    launch,
    ledger,
    line_id,
    make_connection,
    make_contacts,
    row_counts,
)

GREETING = [{"type": "text", "text": 'Hi {{ first_name | default: "there" }}, from {{ line_id }}'}]

pytestmark = pytest.mark.usefixtures("fast_engine")


def test_each_recipient_receives_its_own_personalized_messages_exactly_once(
    emulator, connection, marketer, settings
):
    settings.CAMPAIGN_BATCH_SIZE = 7
    make_contacts(30)
    make_contacts(2, start=30, attributes=lambda i: {})
    campaign = drain(launch(marketer, connection, messages=GREETING))

    assert campaign.status == Campaign.Status.COMPLETED
    received = emulator.messages()
    assert sorted(e["to"] for e in received) == sorted(line_id(i) for i in range(32))
    for entry in received:
        contact_n = next(i for i in range(32) if line_id(i) == entry["to"])
        name = f"Name{contact_n}" if contact_n < 30 else "there"
        assert entry["messages"] == [{"type": "text", "text": f"Hi {name}, from {entry['to']}"}]
    assert counters(campaign) == row_counts(campaign)
    assert campaign.sent == 32 and campaign.attempted == campaign.sent + campaign.failed
    assert Delivery.objects.filter(campaign=campaign, request_id="").count() == 0
    units = {tuple(e.get("units", ())) for e in emulator.messages()}
    assert campaign.aggregation_unit and len(campaign.aggregation_unit) <= 30
    assert units <= {(campaign.aggregation_unit,), ()}


def test_a_missing_attribute_without_default_fails_only_that_recipient_with_the_reason(
    emulator, connection, marketer
):
    make_contacts(3, attributes=lambda i: {"coupon": f"C{i}"})
    make_contacts(1, start=3, attributes=lambda i: {})
    messages = [{"type": "text", "text": "Your code: {{ coupon }}"}]
    campaign = drain(launch(marketer, connection, messages=messages))

    failed = Delivery.objects.get(campaign=campaign, status=Delivery.Status.FAILED)
    assert failed.line_id == line_id(3)
    assert failed.reason == "personalization"
    assert "coupon" in failed.error_message
    assert ledger(emulator) == {line_id(i): 1 for i in range(3)}
    assert campaign.status == Campaign.Status.COMPLETED
    assert (campaign.sent, campaign.failed, campaign.attempted) == (3, 1, 4)


def test_the_review_counts_empty_and_null_attributes_as_missing_as_the_send_does(
    emulator, connection, marketer
):
    values = ["Aiko", "", None]
    make_contacts(3, attributes=lambda i: {"first_name": values[i]})
    make_contacts(1, start=3, attributes=lambda i: {})
    messages = [{"type": "text", "text": "Hi {{ first_name }}"}]
    campaign = campaign_create(
        user=marketer,
        name="Strict",
        connection=connection,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        messages=messages,
    )
    review = campaign_review(campaign=campaign)
    assert (review["expected_recipients"], review["will_fail"]) == (4, 3)

    campaign = drain(campaign_launch(campaign=campaign, user=marketer))
    assert (campaign.attempted, campaign.sent, campaign.failed) == (4, 1, 3)
    assert ledger(emulator) == {line_id(0): 1}


def test_line_400s_fail_only_those_recipients_with_lines_error(emulator, connection, marketer):
    make_contacts(4, attributes=lambda i: {"tail": "x" * (6000 if i % 2 else 1)})
    messages = [{"type": "text", "text": "Hello {{ tail }}"}]
    campaign = drain(launch(marketer, connection, messages=messages))

    failed = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED)
    assert sorted(failed.values_list("line_id", flat=True)) == sorted([line_id(1), line_id(3)])
    for row in failed:
        assert (row.http_status, row.reason, row.attempts) == (400, "invalid_request", 1)
        assert row.error_details and row.request_id
    assert set(ledger(emulator)) == {line_id(0), line_id(2)}
    assert counters(campaign) == row_counts(campaign)


def test_server_errors_and_timeouts_are_retried_and_each_recipient_is_sent_once(
    start_emulator, marketer, settings
):
    settings.CAMPAIGN_MAX_ATTEMPTS = 12
    emulator = start_emulator(fault_rate=0.3, fault_hold_s=1.0)
    connection = make_connection(emulator)
    make_contacts(40)
    campaign = drain(launch(marketer, connection, messages=GREETING))

    stats = emulator.stats()
    assert stats["faults_injected"] > 0
    assert ledger(emulator) == {line_id(i): 1 for i in range(40)}
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.sent == 40 and campaign.failed == 0
    retried = Delivery.objects.filter(campaign=campaign, attempts__gt=1)
    assert retried.exists()
    assert counters(campaign) == row_counts(campaign)


def test_rate_limit_429_bursts_are_retried_until_sent(start_emulator, marketer, settings):
    settings.CAMPAIGN_MAX_ATTEMPTS = 30
    settings.CAMPAIGN_RETRY_MAX_SECONDS = 0.5
    emulator = start_emulator(push_rate=20)
    # Our limiter allows far more than the emulator, so LINE answers 429 and we retry.
    connection = make_connection(emulator, push_rate_limit=2000)
    make_contacts(60)
    campaign = drain(launch(marketer, connection, messages=GREETING))

    assert emulator.stats()["rate_limited"] > 0
    assert ledger(emulator) == {line_id(i): 1 for i in range(60)}
    assert (campaign.status, campaign.sent) == (Campaign.Status.COMPLETED, 60)


def test_skipped_contacts_are_never_sent_and_counted_apart(emulator, connection, marketer):
    make_contacts(2)
    make_contacts(1, start=2, follow_status="unfollowed")
    make_contacts(1, start=3, opted_out=True)
    campaign = drain(
        launch(
            marketer,
            connection,
            messages=GREETING,
            audience_type=Campaign.Audience.EXPLICIT,
            explicit_ids=[line_id(i) for i in range(5)],
        )
    )
    skipped = Delivery.objects.filter(campaign=campaign, status="skipped")
    reasons = dict(skipped.values_list("line_id", "reason"))
    assert reasons == {line_id(2): "unfollowed", line_id(3): "opted_out"}
    # line_id(4) was unknown: it became a contact with an unknown follow status and was sent.
    assert set(ledger(emulator)) == {line_id(0), line_id(1), line_id(4)}
    assert counters(campaign) == row_counts(campaign)
    assert (campaign.skipped, campaign.sent, campaign.recipients_total) == (2, 3, 5)


def test_a_segment_campaign_reaches_exactly_the_segment(emulator, connection, marketer):
    from audiences.models import Segment

    make_contacts(4, attributes=lambda i: {"city": "Tokyo" if i % 2 else "Osaka"})
    segment = Segment.objects.create(
        name="Tokyo", rules={"all": [{"field": "attributes.city", "op": "eq", "value": "Tokyo"}]}
    )
    campaign = drain(
        launch(
            marketer,
            connection,
            messages=[{"type": "text", "text": "Hello {{ city }}"}],
            audience_type=Campaign.Audience.SEGMENT,
            segment=segment,
        )
    )
    assert ledger(emulator) == {line_id(1): 1, line_id(3): 1}
    assert {e["messages"][0]["text"] for e in emulator.messages()} == {"Hello Tokyo"}
    assert campaign.status == Campaign.Status.COMPLETED


@pytest.mark.parametrize("audience", ["all_following", "segment"])
def test_contacts_of_another_connection_are_left_out_by_the_review_and_the_send(
    emulator, connection, marketer, audience
):
    from audiences.models import Segment
    from connections.models import Connection

    other = Connection.objects.create(
        name="Other provider", channel_access_token="x", channel_secret="y"
    )
    ours, theirs, imported = make_contacts(3)
    Contact.objects.filter(pk=ours.pk).update(connection=connection)
    Contact.objects.filter(pk=theirs.pk).update(connection=other)
    fields = {"audience_type": audience}
    if audience == "segment":
        fields["segment"] = Segment.objects.create(name="Everyone", rules={"all": []})
    campaign = campaign_create(
        user=marketer,
        name="Ours",
        connection=connection,
        messages=[{"type": "text", "text": "Hi"}],
        **fields,
    )
    assert campaign_review(campaign=campaign)["expected_recipients"] == 2

    campaign = drain(campaign_launch(campaign=campaign, user=marketer))
    assert ledger(emulator) == {ours.line_id: 1, imported.line_id: 1}
    assert campaign.recipients_total == 2


def test_a_409_for_a_retry_key_line_already_accepted_counts_as_sent(emulator, connection, marketer):
    from campaigns.engine import lifecycle
    from connections.line import line_call

    make_contacts(3)
    campaign = launch(marketer, connection, messages=GREETING)
    lifecycle.campaign_start(campaign)  # the snapshot: keys are fixed, nothing sent yet
    first = Delivery.objects.filter(campaign=campaign).order_by("id").first()
    text = f"Hi Name0, from {first.line_id}"
    line_call(
        connection,
        lambda c: c.push(
            to=first.line_id,
            messages=[{"type": "text", "text": text}],
            retry_key=str(first.retry_key),
        ),
    )
    assert ledger(emulator) == {first.line_id: 1}

    campaign = drain(campaign)
    first.refresh_from_db()
    assert (first.status, first.http_status) == ("sent", 409)
    assert first.accepted_request_id
    assert ledger(emulator) == {line_id(i): 1 for i in range(3)}
    assert campaign.status == Campaign.Status.COMPLETED
    assert (campaign.sent, campaign.failed) == (3, 0)
    assert counters(campaign) == row_counts(campaign)


def test_past_lines_thousand_unit_names_a_month_campaigns_go_out_without_one(
    emulator, connection, marketer
):
    """LINE refuses every request naming a new aggregation unit once a channel has used 1,000
    names in a month; the campaign must still go out, only without LINE's statistics."""
    suffix = f"_{timezone.now():%Y%m}"
    Campaign.objects.bulk_create(
        Campaign(name=f"old {i}", connection=connection, aggregation_unit=f"c9{i}{suffix}")
        for i in range(1000)
    )
    make_contacts(3)
    campaign = drain(launch(marketer, connection, messages=GREETING))
    assert campaign.aggregation_unit == ""
    assert (campaign.status, campaign.sent) == (Campaign.Status.COMPLETED, 3)
    assert {tuple(e.get("units", ())) for e in emulator.messages()} == {()}
