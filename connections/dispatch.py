"""What a stored webhook event does: handlers that the apps above register by event type.

Connections owns the inbox (store, dedupe, claim, status); the apps above own what an event
means and register their handlers in `AppConfig.ready()` (docs/design.md §5.2). Several
handlers may take one type; they run in registration order, all in the event's savepoint.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connections.models import WebhookEvent

# (handled, result): result goes into the event's `result`; an event no handler handled is
# stored as ignored, its result saying why.
Outcome = tuple[bool, dict]


@dataclass(frozen=True)
class Handler:
    handle: Callable[[WebhookEvent, Any], Outcome]
    # Runs before the event's transaction opens (a call to LINE); its answer is passed to handle.
    prepare: Callable[[WebhookEvent], Any] | None = None


_handlers: dict[str, list[Handler]] = {}


def register(
    event_type: str,
    handle: Callable[[WebhookEvent, Any], Outcome],
    *,
    prepare: Callable[[WebhookEvent], Any] | None = None,
) -> None:
    """Add a handler for one event type; registering the same one again does nothing."""
    handlers = _handlers.setdefault(event_type, [])
    handler = Handler(handle, prepare)
    if handler not in handlers:
        handlers.append(handler)


def handlers_for(event_type: str) -> list[Handler]:
    return list(_handlers.get(event_type, ()))


def outcome(handlers: list[Handler], event: WebhookEvent, prepared: list[Any]) -> Outcome:
    """Run the handlers; handled when one of them handled it, with their results merged."""
    outcomes = [
        handler.handle(event, ready) for handler, ready in zip(handlers, prepared, strict=True)
    ]
    handled = any(done for done, _ in outcomes)
    result: dict = {}
    for done, part in outcomes:
        if done or not handled:
            result.update(part)
    return handled, result
