"""What journeys answers when a connection is deleted or two contacts merge."""

import pytest

from audiences.models import Contact
from audiences.services import contact_upsert
from connections.services import ConnectionInUseError, connection_delete
from journeys.engine import send_row
from journeys.entry import enter
from journeys.models import Journey, JourneyRun
from journeys.services import journey_pause
from tests.connections.helpers import follower_id
from tests.journeys.support import make_journey


def test_a_connection_with_an_active_journey_cannot_be_deleted(marketer, admin_user, connection):
    journey = make_journey(marketer, connection, {"type": "follow"})
    with pytest.raises(ConnectionInUseError, match="1 active journey"):
        connection_delete(actor=admin_user, connection=connection)
    journey_pause(journey=journey, user=marketer)
    make_journey(marketer, connection, {"type": "follow"}, name="draft", activate=False)
    details = connection_delete(actor=admin_user, connection=connection)
    assert details["draft_journeys_deleted"] == 1 and details["journeys_archived"] == 1
    journey.refresh_from_db()
    assert journey.status == Journey.Status.ARCHIVED and Journey.objects.count() == 1


def test_runs_follow_a_contact_into_the_merge(marketer, connection):
    journey = make_journey(marketer, connection, {"type": "follow"})
    anonymous = Contact.objects.create(line_id=follower_id(1), connection=connection)
    run, _ = enter(version=journey.current_version, contact=anonymous, trigger_key="k", payload={})
    send_row(run)
    primary, _ = contact_upsert(external_id="cust-1", line_id=follower_id(1), source="api")
    run = JourneyRun.objects.get()
    assert run.contact_id == primary.pk and run.sends.get().contact_id == primary.pk
