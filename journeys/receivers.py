"""What journeys does when the apps below ask: receivers of connections' and audiences'
signals, connected in `JourneysConfig.ready()` (docs/design.md §5.3)."""

from audiences.models import Contact
from connections.models import Connection
from connections.services import ConnectionInUseError
from journeys.models import Journey, JourneyRun, JourneySend


def connection_deleting(sender: type, *, connection: Connection, **kwargs) -> dict:
    """Refused while an active journey would send through it; drafts nobody entered go with
    it; other journeys are archived and keep their report (Journey.connection is PROTECT)."""
    journeys = Journey.objects.select_for_update().filter(connection=connection)
    active = journeys.filter(status=Journey.Status.ACTIVE).count()
    if active:
        noun = "journey" if active == 1 else "journeys"
        raise ConnectionInUseError(
            f"{connection.name} cannot be deleted while {active} active {noun} using it "
            "would send through it. Pause or archive it first."
        )
    unused = journeys.filter(status=Journey.Status.DRAFT, runs__isnull=True)
    deleted = unused.count()
    unused.delete()
    archived = journeys.exclude(status=Journey.Status.ARCHIVED).update(
        status=Journey.Status.ARCHIVED
    )
    details = {"draft_journeys_deleted": deleted, "journeys_archived": archived}
    return {key: n for key, n in details.items() if n}  # the audit names what happened


def contact_merging(sender: type, *, primary: Contact, anonymous: Contact, **kwargs) -> None:
    """Runs and sends move to the identified contact, so entry rules ("once") see them."""
    JourneyRun.objects.filter(contact=anonymous).update(contact=primary)
    JourneySend.objects.filter(contact=anonymous).update(contact=primary)
