"""Contact changes driven by LINE webhook events; `connections.services` calls these.

A contact created here is anonymous (no external_id) until the brand identifies it.
"""

from datetime import datetime

from audiences.models import Contact
from connections.models import Connection
from lineapi import Profile


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
