"""What one request's answers say about whether LINE may hold its retry key."""

import datetime

from campaigns.engine.sender import Item
from lineapi import LineInvalidRequestError, LineRateLimitError, LineTimeoutError


def _item() -> Item:
    return Item(ids=[1], to="U" + "0" * 32, messages=[], retry_key="k")


def test_an_unanswered_attempt_stays_uncertain_whatever_answers_follow():
    item = _item()
    item.tried, item.first_at = 1, datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC)
    item.error(LineTimeoutError("timed out"))
    item.tried = 2
    item.error(LineRateLimitError("The API rate limit has been exceeded", status=429))
    assert item.maybe_accepted()
    assert item.accepted_since() == item.first_at  # kept: a resend must reuse the key in time


def test_a_definite_refusal_alone_means_line_does_not_hold_the_key():
    item = _item()
    item.tried, item.first_at = 1, datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC)
    item.error(LineInvalidRequestError("The request body has 1 error(s)", status=400))
    item.outcome = "pending"
    assert not item.maybe_accepted()
    assert item.accepted_since() is None
