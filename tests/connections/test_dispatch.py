"""The webhook dispatcher: several handlers per event type, in registration order, in the
event's savepoint (docs/design.md §5.2)."""

import pytest

from audiences.models import Contact
from connections import dispatch
from connections.models import WebhookEvent
from tests.connections.helpers import envelope, event, follower_id, post_signed

USER = {"type": "user", "userId": follower_id(1)}


@pytest.fixture(autouse=True)
def handlers(monkeypatch) -> None:
    """Handlers registered here last only for the test."""
    copy = {kind: list(found) for kind, found in dispatch._handlers.items()}
    monkeypatch.setattr(dispatch, "_handlers", copy)


@pytest.fixture
def deliver(client, connection, eager_celery, django_capture_on_commit_callbacks):
    def send(*events: dict) -> WebhookEvent:
        with django_capture_on_commit_callbacks(execute=True):
            assert post_signed(client, connection, envelope(list(events))).status_code == 200
        return WebhookEvent.objects.get()

    return send


def test_audiences_registered_its_handlers() -> None:
    for kind in ("follow", "unfollow", "join", "leave", "message", "postback"):
        assert dispatch.handlers_for(kind), kind
    assert not dispatch.handlers_for("beacon")


def test_a_second_handler_runs_after_the_first_and_adds_its_result(deliver) -> None:
    seen: list[tuple[str, bool]] = []

    def prepare(ev: WebhookEvent) -> str:
        return "prepared"

    def welcome(ev: WebhookEvent, prepared: str) -> dispatch.Outcome:
        seen.append((prepared, Contact.objects.filter(line_id=ev.line_id).exists()))
        return True, {"welcomed": True}

    dispatch.register("follow", welcome, prepare=prepare)
    dispatch.register("follow", welcome, prepare=prepare)  # once is enough
    stored = deliver(event("follow", "01D1", USER))
    assert seen == [("prepared", True)]  # after audiences' handler made the contact
    assert stored.status == WebhookEvent.Status.PROCESSED
    contact = Contact.objects.get(line_id=follower_id(1))
    assert stored.result["contact_id"] == contact.pk and stored.result["welcomed"] is True


def test_a_type_with_a_handler_is_processed_and_one_that_declines_is_ignored(deliver) -> None:
    dispatch.register("beacon", lambda ev, _: (False, {"reason": "not ours"}))
    stored = deliver(event("beacon", "01D2", USER))
    assert (stored.status, stored.result) == (WebhookEvent.Status.IGNORED, {"reason": "not ours"})


def test_a_failing_handler_fails_the_event_and_rolls_back_the_others(deliver) -> None:
    def broken(ev: WebhookEvent, _: object) -> dispatch.Outcome:
        raise RuntimeError("handler broke")

    dispatch.register("follow", broken)
    stored = deliver(event("follow", "01D3", USER))
    assert stored.status == WebhookEvent.Status.FAILED
    assert stored.error == "RuntimeError: handler broke"
    assert not Contact.objects.exists()
