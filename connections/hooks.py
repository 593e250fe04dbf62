"""Signals connections sends and the apps above connect to in `AppConfig.ready()`
(docs/design.md §5.3). Connections imports none of them: it uses what the receivers return.
Every signal is sent with `sender=Connection` and `connection=`.
"""

from django.dispatch import Signal

from connections.models import Connection

# The connection's page: a receiver returns (template name, context) for a card of its own,
# rendered with `connection` and the request in its context, or None for no card.
connection_detail_panels = Signal()

# The delete page: a receiver returns a dict merged into the page's context (campaigns:
# `counts`, which decide whether the page offers to delete).
connection_delete_context = Signal()

# Inside `connection_delete`'s transaction, before the connection goes: a receiver refuses
# with `ConnectionInUseError`, removes the rows that go with the connection and returns the
# audit details of what it did. Rows that keep the connection must reference it with
# on_delete=PROTECT: the connection is then kept without its credentials (`ProtectedError`).
connection_deleting = Signal()


def responses(signal: Signal, connection: Connection) -> list:
    """What the receivers returned, in the order they were connected; None left out."""
    answers = signal.send(sender=Connection, connection=connection)
    return [answer for _, answer in answers if answer is not None]
