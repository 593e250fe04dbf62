from journeys.models import JourneyRun, JourneySend
from tests.connections.helpers import follower_id
from tests.journeys.support import deliver, line_event, make_journey, with_reply_token


def test_follow_replies(
    client,
    connection,
    marketer,
    emulator,
    receiver,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    make_journey(marketer, connection, {"type": "follow", "when": "new"})
    ev = with_reply_token(
        emulator, receiver, line_event("follow", follower_id(1), 1, follow={"isUnblocked": False})
    )
    stored = deliver(client, connection, django_capture_on_commit_callbacks, ev)
    print(stored[0].result)
    run = JourneyRun.objects.get()
    send = JourneySend.objects.get()
    print(run.status, run.reason, send.status, send.via, send.error_message)
    msgs = emulator.messages(to=follower_id(1))
    print(msgs)
    assert send.via == "reply" and send.status == "sent"
