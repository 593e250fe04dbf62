"""What enters a journey: LINE's follow, message, postback and join events through the real
webhook endpoint, and the brand's events through POST /api/v1/events. Sends go to the emulator."""

import pytest

from audiences.models import Contact
from journeys.models import Journey, JourneyRun, JourneySend
from journeys.services import journey_pause
from tests.connections.helpers import follower_id
from tests.journeys.support import deliver, line_event, make_journey, texts, with_reply_token

pytestmark = pytest.mark.usefixtures("eager_celery")
USER = follower_id(1)
KEYWORD_COUPON = {"type": "keyword", "keywords": ["coupon"]}


def test_a_new_friend_gets_the_welcome_as_a_free_reply(fire, marketer, connection, emulator):
    journey = make_journey(marketer, connection, {"type": "follow", "when": "new"})
    stored = fire("follow", follow={"isUnblocked": False})
    assert stored.result["journeys"] == {"entered": [journey.pk], "skipped": {}}
    # The audiences handler ran first: the welcome uses the profile's display name.
    assert texts(emulator, USER) == [("reply", "Welcome, Follower 2!")]
    send = JourneySend.objects.get()
    assert (send.status, send.via, send.attempts) == ("sent", "reply", 1)
    assert send.request_id and send.messages[0]["text"] == "Welcome, Follower 2!"
    assert JourneyRun.objects.get().status == "sent"


@pytest.mark.parametrize(
    ("when", "unblocked", "enters"),
    [
        ("new", False, True),
        ("new", True, False),
        ("unblocked", True, True),
        ("unblocked", False, False),
        ("any", True, True),
        ("any", False, True),
    ],
)
def test_follow_when_new_unblocked_or_any(
    fire, marketer, connection, emulator, when, unblocked, enters
):
    make_journey(marketer, connection, {"type": "follow", "when": when})
    fire("follow", follow={"isUnblocked": unblocked})
    assert JourneyRun.objects.exists() is enters
    assert len(emulator.messages(to=USER)) == int(enters)


def keyword_message(text: str) -> dict:
    return {"message": {"type": "text", "id": "1", "text": text}}


@pytest.mark.parametrize(
    ("match", "said", "enters"),
    [
        ("exact", "\uff23\uff2f\uff35\uff30\uff2f\uff2e", True),  # full-width COUPON
        ("exact", " Coupon ", True),
        ("exact", "coupon please", False),
        ("contains", "a COUPON please", True),
        ("contains", "coupons?", True),
        ("contains", "cou pon", False),
    ],
)
def test_keywords_match_after_nfkc_and_case_folding(
    fire, marketer, connection, emulator, match, said, enters
):
    make_journey(
        marketer,
        connection,
        {"type": "keyword", "keywords": ["coupon", "クーポン"], "match": match},
        entry="every_time",
        steps=[
            {"type": "send", "messages": [{"type": "text", "text": "You said {{ event.text }}"}]}
        ],
    )
    fire("message", **keyword_message(said))
    expected = [("reply", f"You said {said}")] if enters else []
    assert texts(emulator, USER) == expected


def test_half_width_katakana_matches_its_full_width_keyword(fire, marketer, connection, emulator):
    make_journey(marketer, connection, {"type": "keyword", "keywords": ["クーポン"]})
    fire("message", **keyword_message("ｸｰﾎﾟﾝ"))
    assert len(emulator.messages(to=USER)) == 1


def test_a_sticker_never_matches_a_keyword(fire, marketer, connection, emulator):
    make_journey(marketer, connection, {"type": "keyword", "keywords": ["coupon"]})
    stored = fire(
        "message", message={"type": "sticker", "id": "2", "packageId": "1", "stickerId": "1"}
    )
    assert "journeys" not in stored.result and not JourneyRun.objects.exists()


@pytest.mark.parametrize(
    ("match", "data", "enters"),
    [
        ("exact", "action=buy&item=1", True),
        ("exact", "action=buy&item=12", False),
        ("prefix", "action=buy&item=12", True),
        ("prefix", "action=sell", False),
    ],
)
def test_postback_exact_or_prefix(fire, marketer, connection, emulator, match, data, enters):
    make_journey(
        marketer,
        connection,
        {"type": "postback", "data": "action=buy&item=1", "match": match},
        steps=[
            {
                "type": "send",
                "messages": [{"type": "text", "text": "Got {{ event.postback.data }}"}],
            }
        ],
    )
    fire("postback", postback={"data": data})
    assert texts(emulator, USER) == ([("reply", f"Got {data}")] if enters else [])


def test_join_replies_to_the_group(
    client, connection, marketer, emulator, receiver, django_capture_on_commit_callbacks
):
    group = "C" + "4f" * 16
    make_journey(
        marketer,
        connection,
        {"type": "join"},
        steps=[{"type": "send", "messages": [{"type": "text", "text": "Hello, group!"}]}],
    )
    event = line_event("join", USER, 1)
    event["source"] = {"type": "group", "groupId": group}
    event = with_reply_token(emulator, receiver, event)
    deliver(client, connection, django_capture_on_commit_callbacks, event)
    assert texts(emulator, to=group) == [("reply", "Hello, group!")]
    assert Contact.objects.get(line_id=group).kind == Contact.Kind.GROUP


def test_a_redelivered_event_sends_once(
    client, connection, marketer, emulator, receiver, django_capture_on_commit_callbacks
):
    make_journey(marketer, connection, {"type": "follow"})
    event = with_reply_token(emulator, receiver, line_event("follow", USER, 7))
    deliver(client, connection, django_capture_on_commit_callbacks, event)
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
    deliver(client, connection, django_capture_on_commit_callbacks, redelivered)
    assert len(emulator.messages(to=USER)) == 1 and JourneyRun.objects.count() == 1


def test_an_unknown_or_used_reply_token_falls_back_to_a_push(fire, marketer, connection, emulator):
    make_journey(marketer, connection, {"type": "follow"})
    fire("follow", token=False, replyToken="f" * 32)  # a token the emulator never issued
    (message,) = emulator.messages(to=USER)
    send = JourneySend.objects.get()
    assert message["via"] == "push" and (send.via, send.status) == ("push", "sent")
    assert message["retry_key"] == str(send.retry_key)


def test_an_event_without_a_token_is_pushed(fire, marketer, connection, emulator):
    make_journey(marketer, connection, {"type": "keyword", "keywords": ["hi"]})
    fire("message", token=False, **keyword_message("hi"))
    # A message fetches no profile: the default fills in.
    assert texts(emulator, USER) == [("push", "Welcome, friend!")]


def test_several_steps_reply_once_then_push(fire, marketer, connection, emulator):
    steps = [{"type": "send", "messages": [{"type": "text", "text": f"part {i}"}]} for i in (1, 2)]
    make_journey(marketer, connection, {"type": "follow"}, steps=steps)
    fire("follow")
    assert texts(emulator, USER) == [("reply", "part 1"), ("push", "part 2")]


def test_paused_journeys_and_other_channels_do_not_trigger(
    fire, marketer, connection, emulator, admin_user
):
    from connections.models import Connection

    other = Connection.objects.create(
        name="Other OA",
        channel_access_token="other-token",
        channel_secret="s" * 32,
        api_base_url=emulator.base_url,
    )
    make_journey(marketer, other, {"type": "follow"})
    paused = make_journey(marketer, connection, {"type": "follow"}, name="paused")
    journey_pause(journey=paused, user=marketer)
    make_journey(marketer, connection, {"type": "follow"}, name="draft", activate=False)
    fire("follow")
    assert not JourneyRun.objects.exists() and not emulator.messages(to=USER)
    assert Journey.objects.count() == 3


def test_the_brands_event_triggers_a_push_with_its_properties(
    marketer, connection, emulator, api_client_for, django_capture_on_commit_callbacks
):
    make_journey(
        marketer,
        connection,
        {"type": "event", "name": "order_shipped"},
        entry="every_time",
        transactional=True,
        steps=[
            {
                "type": "send",
                "messages": [
                    {
                        "type": "text",
                        "text": "Order {{ event.properties.order_id }} shipped, "
                        "{{ contact.tier | default: 'friend' }}.",
                    }
                ],
            }
        ],
    )
    Contact.objects.create(
        line_id=USER, external_id="cust-1", attributes={"tier": "gold"}, connection=connection
    )
    api = api_client_for(marketer)
    body = {
        "external_id": "cust-1",
        "name": "order_shipped",
        "properties": {"order_id": "A-17"},
        "id": "evt-1",
    }
    for _ in range(2):  # the same idempotency id twice: stored once, sent once
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("/api/v1/events", body, content_type="application/json")
        assert response.status_code == 202
    assert texts(emulator, USER) == [("push", "Order A-17 shipped, gold.")]
    run = JourneyRun.objects.get()
    assert run.trigger_type == "event" and run.payload["event"]["properties"] == {
        "order_id": "A-17"
    }
    other = {**body, "name": "order_paid", "id": "evt-2"}
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/events", other, content_type="application/json").status_code == 202
    assert JourneyRun.objects.count() == 1


def test_two_journeys_on_one_message_reply_once_and_push_once(fire, marketer, connection, emulator):
    for name in ("first", "second"):
        make_journey(
            marketer,
            connection,
            KEYWORD_COUPON,
            name=name,
            steps=[{"type": "send", "messages": [{"type": "text", "text": name}]}],
        )
    fire("message", **keyword_message("coupon"))
    assert sorted(texts(emulator, USER)) == [("push", "second"), ("reply", "first")]
    assert emulator.stats().get("invalid_reply_tokens", 0) == 0
