"""Contact changes driven by LINE webhook events: handlers registered with connections'
dispatcher (`register_handlers`, from `AudiencesConfig.ready()`, docs/design.md §5.2).

A contact created here is anonymous (no external_id) until the brand identifies it.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from audiences.models import Contact
from connections import dispatch
from connections.line import line_call
from connections.models import Connection, WebhookEvent
from lineapi import LineApiError, Profile

logger = logging.getLogger(__name__)

NO_LINE_ID = {"reason": "the event has no valid LINE user, group or room id"}


def _contact(*, connection: Connection, line_id: str) -> Contact:
    contact, created = Contact.objects.get_or_create(
        line_id=line_id,
        defaults={"connection": connection, "source": Contact.Source.WEBHOOK},
    )
    if not created and contact.connection_id is None:
        contact.connection = connection
    return contact


def _set_follow_status(*, connection: Connection, line_id: str, status: str) -> Contact:
    contact = _contact(connection=connection, line_id=line_id)
    contact.follow_status = status
    contact.save()
    return contact


def contact_followed(
    *, connection: Connection, line_id: str, at: datetime, profile: Profile | None = None
) -> Contact:
    """A user added the bot as a friend (or unblocked it): following, with a fresh profile."""
    contact = _contact(connection=connection, line_id=line_id)
    contact.follow_status = Contact.FollowStatus.FOLLOWING
    if profile is not None:
        contact.display_name = profile.display_name[:255]
        contact.picture_url = (profile.picture_url or "")[:1000]
    contact.save()
    return contact


def contact_unfollowed(*, connection: Connection, line_id: str, at: datetime) -> Contact:
    """LINE sends `unfollow` when a user blocks the bot."""
    return _set_follow_status(
        connection=connection, line_id=line_id, status=Contact.FollowStatus.UNFOLLOWED
    )


def contact_joined(*, connection: Connection, line_id: str, at: datetime) -> Contact:
    """The bot joined a group or room: its contact becomes active (following)."""
    return _set_follow_status(
        connection=connection, line_id=line_id, status=Contact.FollowStatus.FOLLOWING
    )


def contact_left(*, connection: Connection, line_id: str, at: datetime) -> Contact:
    """The bot left (or was removed from) a group or room: inactive (unfollowed)."""
    return _set_follow_status(
        connection=connection, line_id=line_id, status=Contact.FollowStatus.UNFOLLOWED
    )


def contact_interacted(*, connection: Connection, line_id: str, at: datetime) -> Contact:
    """A message or postback: last interaction moves forward, never back (redeliveries)."""
    contact = _contact(connection=connection, line_id=line_id)
    if contact.last_interaction_at is None or contact.last_interaction_at < at:
        contact.last_interaction_at = at
    contact.save()
    return contact


def follower_profile(event: WebhookEvent) -> Profile | None:
    """A follow's profile, fetched before the event's transaction; None when LINE has none."""
    if not event.line_id:
        return None
    try:
        return line_call(event.connection, lambda client: client.profile(event.line_id))
    except LineApiError as exc:
        logger.info("profile of %s not fetched: %s", event.line_id, exc)
        return None


def on_follow(event: WebhookEvent, profile: Profile | None) -> dispatch.Outcome:
    if not event.line_id:
        return False, NO_LINE_ID
    contact = contact_followed(
        connection=event.connection,
        line_id=event.line_id,
        at=event.event_time or timezone.now(),
        profile=profile,
    )
    raw = event.raw
    follow = raw.get("follow") if isinstance(raw.get("follow"), dict) else {}
    return True, {
        "contact_id": contact.pk,
        "is_unblocked": bool(follow.get("isUnblocked")),
        "profile_fetched": profile is not None,
    }


def _handler(change: Callable[..., Contact]) -> Callable[[WebhookEvent, object], dispatch.Outcome]:
    """A handler that applies `change` to the event's contact."""

    def handle(event: WebhookEvent, _prepared: object) -> dispatch.Outcome:
        if not event.line_id:
            return False, NO_LINE_ID
        at = event.event_time or timezone.now()
        contact = change(connection=event.connection, line_id=event.line_id, at=at)
        return True, {"contact_id": contact.pk}

    return handle


on_unfollow = _handler(contact_unfollowed)
on_join = _handler(contact_joined)
on_leave = _handler(contact_left)
on_interaction = _handler(contact_interacted)


def register_handlers() -> None:
    dispatch.register("follow", on_follow, prepare=follower_profile)
    dispatch.register("unfollow", on_unfollow)
    dispatch.register("join", on_join)
    dispatch.register("leave", on_leave)
    dispatch.register("message", on_interaction)
    dispatch.register("postback", on_interaction)
