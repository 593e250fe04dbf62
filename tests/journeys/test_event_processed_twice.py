"""A webhook event processed twice (a crash between claim and finish, the sweep hands it out
again) enters its journey once and sends once."""

from connections.models import WebhookEvent
from connections.services import webhook_events_process
from journeys.models import JourneyRun, JourneySend
from tests.connections.helpers import follower_id
from tests.journeys.support import deliver, line_event, make_journey, with_reply_token


def test_an_event_processed_twice_enters_once_and_is_answered_once(
    client, connection, marketer, emulator, receiver, eager_celery,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    make_journey(marketer, connection, {"type": "keyword", "keywords": ["coupon"]})
    said = {"type": "text", "id": "1", "text": "COUPON", "quoteToken": "q1"}
    event = with_reply_token(
        emulator, receiver, line_event("message", follower_id(4), 4, message=said)
    )
    [stored] = deliver(client, connection, django_capture_on_commit_callbacks, event)
    first = JourneyRun.objects.get()

    WebhookEvent.objects.filter(pk=stored.pk).update(status=WebhookEvent.Status.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_events_process(event_ids=[stored.pk])

    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.PROCESSED
    assert list(JourneyRun.objects.values_list("pk", flat=True)) == [first.pk]
    assert JourneySend.objects.get().status == JourneySend.Status.SENT
    assert [m["via"] for m in emulator.messages(to=follower_id(4))] == ["reply"]
