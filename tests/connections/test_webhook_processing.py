from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from audiences.models import Contact
from connections.models import WebhookEvent
from connections.services import webhook_events_process, webhook_events_sweep
from tests.connections.helpers import envelope, event, follower_id, post_signed

STRANGER = "U" + "2" * 32  # not a follower the emulator knows: no profile
GROUP = "C" + "3" * 32
ROOM = "R" + "4" * 32
T0 = 1_700_000_000_000


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@pytest.fixture
def deliver(client, connection, eager_celery, django_capture_on_commit_callbacks):
    """Post signed events to the connection's webhook and run the processing task."""

    def send(*events: dict) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            assert post_signed(client, connection, envelope(list(events))).status_code == 200

    return send


def _user(user_id: str) -> dict:
    return {"type": "user", "userId": user_id}


def test_follow_creates_an_anonymous_following_contact_with_its_profile(
    deliver, connection
) -> None:
    deliver(event("follow", "01F1", _user(follower_id(2)), follow={"isUnblocked": False}))
    contact = Contact.objects.get(line_id=follower_id(2))
    assert contact.follow_status == Contact.FollowStatus.FOLLOWING
    assert contact.source == Contact.Source.WEBHOOK
    assert contact.connection == connection
    assert contact.display_name == "Follower 3"
    assert contact.picture_url.endswith("/_emulator/avatar.svg?follower=3")
    assert contact.is_anonymous
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PROCESSED
    assert stored.result["is_unblocked"] is False
    assert stored.result["contact_id"] == contact.pk


def test_an_unblocking_follow_refreshes_the_contact_and_notes_is_unblocked(deliver) -> None:
    Contact.objects.create(
        line_id=follower_id(4),
        follow_status=Contact.FollowStatus.UNFOLLOWED,
        display_name="Old name",
        external_id="crm-42",
        source=Contact.Source.IMPORT,
    )
    deliver(event("follow", "01F2", _user(follower_id(4)), follow={"isUnblocked": True}))
    contact = Contact.objects.get(line_id=follower_id(4))
    assert contact.follow_status == Contact.FollowStatus.FOLLOWING
    assert contact.display_name == "Follower 5"
    assert (contact.external_id, contact.source) == ("crm-42", Contact.Source.IMPORT)
    assert WebhookEvent.objects.get().result["is_unblocked"] is True


def test_a_profile_that_cannot_be_fetched_does_not_fail_the_follow(deliver) -> None:
    deliver(event("follow", "01F3", _user(STRANGER)))
    contact = Contact.objects.get(line_id=STRANGER)
    assert contact.follow_status == Contact.FollowStatus.FOLLOWING
    assert contact.display_name == ""
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PROCESSED
    assert stored.result["profile_fetched"] is False


def test_unfollow_marks_the_contact_unfollowed(deliver) -> None:
    deliver(event("follow", "01U1", _user(follower_id(1)), timestamp=T0))
    deliver(event("unfollow", "01U2", _user(follower_id(1)), timestamp=T0 + 1000))
    contact = Contact.objects.get(line_id=follower_id(1))
    assert contact.follow_status == Contact.FollowStatus.UNFOLLOWED


def test_follow_then_unfollow_in_one_delivery_apply_in_time_order(deliver) -> None:
    deliver(
        event("unfollow", "01O2", _user(follower_id(6)), timestamp=T0 + 1000),
        event("follow", "01O1", _user(follower_id(6)), timestamp=T0),
    )
    contact = Contact.objects.get(line_id=follower_id(6))
    assert contact.follow_status == Contact.FollowStatus.UNFOLLOWED


@pytest.mark.parametrize("kind", ["message", "postback"])
def test_messages_and_postbacks_set_the_last_interaction_time(deliver, kind) -> None:
    deliver(event(kind, f"01{kind}", _user(STRANGER), timestamp=T0))
    contact = Contact.objects.get(line_id=STRANGER)
    assert contact.last_interaction_at == _at(T0)
    assert contact.is_anonymous


def test_an_older_event_does_not_move_the_last_interaction_back(deliver) -> None:
    deliver(event("message", "01M2", _user(STRANGER), timestamp=T0 + 60_000))
    deliver(event("message", "01M1", _user(STRANGER), timestamp=T0))
    assert Contact.objects.get(line_id=STRANGER).last_interaction_at == _at(T0 + 60_000)


def test_a_message_in_a_group_touches_the_group_contact(deliver) -> None:
    source = {"type": "group", "groupId": GROUP, "userId": STRANGER}
    deliver(event("message", "01G1", source, timestamp=T0))
    group = Contact.objects.get(line_id=GROUP)
    assert (group.kind, group.last_interaction_at) == (Contact.Kind.GROUP, _at(T0))


@pytest.mark.parametrize(
    ("line_id", "source", "kind"),
    [
        (GROUP, {"type": "group", "groupId": GROUP}, Contact.Kind.GROUP),
        (ROOM, {"type": "room", "roomId": ROOM}, Contact.Kind.ROOM),
    ],
    ids=["group", "room"],
)
def test_join_makes_a_group_or_room_active_and_leave_inactive(
    deliver, line_id, source, kind
) -> None:
    deliver(event("join", f"01J{kind}", source, timestamp=T0))
    contact = Contact.objects.get(line_id=line_id)
    assert (contact.kind, contact.follow_status) == (kind, Contact.FollowStatus.FOLLOWING)
    deliver(event("leave", f"01L{kind}", source, timestamp=T0 + 1000))
    contact.refresh_from_db()
    assert contact.follow_status == Contact.FollowStatus.UNFOLLOWED


@pytest.mark.parametrize("kind", ["memberJoined", "beacon", "videoPlayComplete", "unsend"])
def test_other_event_types_are_stored_and_change_no_contact(deliver, kind) -> None:
    deliver(event(kind, f"01X{kind}", _user(STRANGER)))
    stored = WebhookEvent.objects.get()
    assert (stored.type, stored.status) == (kind, WebhookEvent.Status.IGNORED)
    assert not Contact.objects.exists()


def test_an_event_is_processed_once_however_often_the_task_runs(client, connection) -> None:
    post_signed(client, connection, envelope([event("message", "01ONCE", _user(STRANGER))]))
    ids = list(WebhookEvent.objects.values_list("pk", flat=True))
    assert webhook_events_process(event_ids=ids) == 1
    assert webhook_events_process(event_ids=ids) == 0
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_the_sweeper_processes_events_whose_task_was_lost(client, connection, eager_celery) -> None:
    post_signed(client, connection, envelope([event("message", "01LOST", _user(STRANGER))]))
    assert webhook_events_sweep() == 0  # too recent: its task may still be on its way
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    assert webhook_events_sweep() == 1
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert Contact.objects.filter(line_id=STRANGER).exists()


def test_the_detail_page_lists_recent_events(deliver, admin_client, connection) -> None:
    deliver(event("follow", "01PAGE", _user(follower_id(3)), follow={"isUnblocked": True}))
    page = admin_client.get(f"/connections/{connection.pk}/").content.decode()
    assert follower_id(3) in page
    assert "unblocked" in page


def test_handled_events_are_pruned_after_the_retention_period(client, connection) -> None:
    from connections.services import webhook_events_prune

    for event_id in ("01OLDDONE", "01OLDPENDING", "01RECENT"):
        post_signed(client, connection, envelope([event("message", event_id, _user(STRANGER))]))
    WebhookEvent.objects.exclude(webhook_event_id="01OLDPENDING").update(status="processed")
    WebhookEvent.objects.exclude(webhook_event_id="01RECENT").update(
        received_at=timezone.now() - timedelta(days=91)
    )
    assert webhook_events_prune() == 1
    assert set(WebhookEvent.objects.values_list("webhook_event_id", flat=True)) == {
        "01OLDPENDING",
        "01RECENT",
    }
