"""Messages that are the same for everyone go by multicast (≤ 500 ids a request, one retry key
per request); groups and rooms still go by push."""

import pytest

from campaigns.models import Campaign, Delivery, DeliveryBatch
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

SAME_FOR_ALL = [{"type": "text", "text": "Spring sale starts today"}]

pytestmark = pytest.mark.usefixtures("fast_engine")


def test_unpersonalized_messages_go_by_multicast_and_groups_by_push(emulator, marketer):
    connection = make_connection(emulator)
    make_contacts(1100)
    group = line_id(5000, prefix="C")
    ids = [line_id(i) for i in range(1100)] + [group]
    campaign = drain(
        launch(
            marketer,
            connection,
            messages=SAME_FOR_ALL,
            audience_type=Campaign.Audience.EXPLICIT,
            explicit_ids=ids,
        )
    )

    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.send_mode == "multicast"
    assert ledger(emulator) == dict.fromkeys(ids, 1)
    modes = sorted(DeliveryBatch.objects.filter(campaign=campaign).values_list("mode", flat=True))
    assert modes == ["multicast"] * 3 + ["push"]
    # 3 multicast requests of at most 500 ids, plus one push to the group.
    assert emulator.stats()["accepted_requests"] == 4
    for batch in DeliveryBatch.objects.filter(campaign=campaign, mode="multicast"):
        keys = set(
            Delivery.objects.filter(campaign=campaign, batch=batch.number).values_list(
                "retry_key", flat=True
            )
        )
        assert keys == {batch.retry_key}
        assert batch.size <= 500
    by_to = {e["to"]: e for e in emulator.messages()}
    assert by_to[group]["retry_key"] == str(Delivery.objects.get(line_id=group).retry_key)
    assert by_to[line_id(0)]["messages"] == SAME_FOR_ALL
    assert counters(campaign) == row_counts(campaign)
    assert campaign.sent == 1101


def test_a_multicast_rejected_by_line_fails_its_rows_with_the_reason(start_emulator, marketer):
    emulator = start_emulator()
    connection = make_connection(emulator)
    make_contacts(3)
    campaign = launch(marketer, connection, messages=SAME_FOR_ALL)
    # Frozen messages LINE refuses (written behind the launch checks' back): a 400 for the batch.
    Campaign.objects.filter(pk=campaign.pk).update(messages=[{"type": "text", "text": ""}])
    campaign = drain(campaign)

    rows = Delivery.objects.filter(campaign=campaign)
    assert {r.status for r in rows} == {"failed"}
    assert {(r.http_status, r.reason) for r in rows} == {(400, "invalid_request")}
    assert campaign.status == Campaign.Status.COMPLETED
    assert counters(campaign) == row_counts(campaign)
    assert ledger(emulator) == {}
