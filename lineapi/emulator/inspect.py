"""Read-side answers (bot info, followers, profiles, insight) and the `/_emulator/` endpoints."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from lineapi.emulator import chat
from lineapi.emulator.chat import WEBHOOK_FORM_TYPES
from lineapi.emulator.state import State, public_delivery
from lineapi.messages import AGGREGATION_UNIT_RE, USER_ID_RE
from lineapi.webhooks import event_source_id

if TYPE_CHECKING:
    from lineapi.emulator.app import Reply, Request

MAX_FOLLOWER_PAGE = 1000
DEFAULT_FOLLOWER_PAGE = 300
PRIVACY_FLOOR = 20
DATE_LEN = 8
# The event types LINE gives a reply token (LINE's webhook.yml); unfollow, leave, memberLeft and
# unsend carry none.
REPLYABLE_EVENTS = frozenset({"message", "postback", "follow", "join", "memberJoined", "beacon",
                              "videoPlayComplete", "accountLink", "membership"})  # fmt: skip
GROUP_ID_RE = re.compile(r"^C[0-9a-f]{32}\Z")
CONFIG_REFUSED = (
    "Changing settings at run time is off: start the emulator with --allow-config to allow it."
)


def _query(raw: bytes) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}


def _error(status: int, message: str, prop: str | None = None) -> Reply:
    body: dict[str, Any] = {"message": message}
    if prop:
        body["details"] = [{"message": message, "property": prop}]
    return status, body, []


# Pictures are served by the emulator itself: it runs offline, and a picture on LINE's servers
# would be a failed load on every page that shows the bot or a follower.
AVATAR_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" '
    b'r="32" fill="#06c755"/><circle cx="32" cy="25" r="11" fill="#fff"/><path d="M12 54c3-11'
    b' 11-16 20-16s17 5 20 16" fill="#fff"/></svg>'
)


def own_url(request) -> str:
    host = request.headers.get(b"host", b"127.0.0.1").decode("latin-1")
    return f"http://{host}"


def bot_info(state: State, base_url: str) -> dict:
    return {
        "userId": state.bot_user_id,
        "basicId": "@emulator",
        "displayName": "LINE Emulator",
        "pictureUrl": f"{base_url}/_emulator/avatar.svg",
        "chatMode": "bot",
        "markAsReadMode": "auto",
    }


# Names for followers that arrive by webhook, picked from a hash of the user id so that the
# same id always gets the same profile.
FIRST_NAMES = ("Aiko", "Haruto", "Mei", "Sora", "Yuna", "Ren", "Hina", "Kaito", "Niran", "Ploy",
               "Somchai", "Emma", "Liam", "Mia", "Noah", "Wei")  # fmt: skip
LAST_NAMES = ("Tanaka", "Suzuki", "Sato", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi",
              "Srisuk", "Wong", "Smith", "Garcia", "Chen")  # fmt: skip


def profile(state: State, user_id: str, base_url: str) -> dict | None:
    """LINE answers a profile only for a current follower (404 for anyone else, blockers
    included)."""
    if user_id not in state.following:
        return None
    i = state.follower_index.get(user_id)
    if i is None:
        return generated_profile(user_id, base_url)
    return {
        "userId": user_id,
        "displayName": f"Follower {i + 1}",
        "pictureUrl": f"{base_url}/_emulator/avatar.svg?follower={i + 1}",
        "statusMessage": f"Status of follower {i + 1}",
        "language": ("ja", "en", "th")[i % 3],
    }


def generated_profile(user_id: str, base_url: str) -> dict:
    digest = hashlib.sha256(user_id.encode()).digest()
    return {
        "userId": user_id,
        "displayName": f"{FIRST_NAMES[digest[0] % len(FIRST_NAMES)]} "
        f"{LAST_NAMES[digest[1] % len(LAST_NAMES)]}",
        "pictureUrl": f"{base_url}/_emulator/avatar.svg?u={user_id}",
        "language": ("ja", "en", "th")[digest[2] % 3],
    }


def follower_page(state: State, raw_query: bytes) -> Reply:
    query = _query(raw_query)
    start_token = query.get("start", "n0")
    if not (start_token[:1] == "n" and start_token[1:].isdigit()):
        return _error(400, "Invalid continuation token", "start")
    start = int(start_token[1:])
    try:
        limit = int(query.get("limit", DEFAULT_FOLLOWER_PAGE))
    except ValueError:
        return _error(400, "Must be an integer", "limit")
    if not 1 <= limit <= MAX_FOLLOWER_PAGE:
        return _error(400, f"Must be between 1 and {MAX_FOLLOWER_PAGE}", "limit")
    ids = state.followers[start : start + limit]
    body: dict[str, Any] = {"userIds": ids}
    if start + limit < len(state.followers):
        body["next"] = f"n{start + limit}"
    return 200, body, []


def _private(value: int) -> int | None:
    # LINE hides any figure under 20 for privacy.
    return value if value >= PRIVACY_FLOOR else None


def _uris(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["uri"]] if isinstance(node.get("uri"), str) else []
        return found + [u for v in node.values() for u in _uris(v)]
    if isinstance(node, list):
        return [u for v in node for u in _uris(v)]
    return []


def insight(state: State, raw_query: bytes) -> Reply:
    query = _query(raw_query)
    unit = query.get("customAggregationUnit", "")
    if not AGGREGATION_UNIT_RE.match(unit):
        return _error(400, "Invalid customAggregationUnit", "customAggregationUnit")
    for key in ("from", "to"):
        if not (query.get(key, "").isdigit() and len(query[key]) == DATE_LEN):
            return _error(400, f"Invalid {key} date (yyyyMMdd)", key)
    entries = [e for e in state.deliveries if unit in e["units"]]
    n = len(entries)
    messages = entries[0]["messages"] if entries else []
    uris = [(seq, u) for seq, m in enumerate(messages, 1) for u in dict.fromkeys(_uris(m))]
    media = any(m.get("type") in ("video", "audio") for m in messages)
    body = {
        "overview": {
            "uniqueImpression": _private(n * 62 // 100),
            "uniqueClick": _private(n * 18 // 100) if uris else None,
            "uniqueMediaPlayed": _private(n * 30 // 100) if media else None,
            "uniqueMediaPlayed100Percent": _private(n * 12 // 100) if media else None,
        },
        "messages": [_message_stats(seq, n) for seq in range(1, len(messages) + 1)],
        "clicks": [
            {
                "seq": seq,
                "url": url,
                "click": _private(n * 22 // 100),
                "uniqueClick": _private(n * 18 // 100),
                "uniqueClickOfRequest": _private(n * 18 // 100),
            }
            for seq, url in uris
        ],
    }
    return 200, body, []


def _message_stats(seq: int, n: int) -> dict:
    stats: dict[str, Any] = {"seq": seq, "impression": _private(n * 70 // 100)}
    stats["uniqueImpression"] = _private(n * 62 // 100)
    for key in ("mediaPlayed", "uniqueMediaPlayed"):
        stats[key] = None
        for pct in (25, 50, 75, 100):
            stats[f"{key}{pct}Percent"] = None
    return stats


def _ulid() -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


class Inspector:
    def __init__(self, state: State) -> None:
        self.state = state

    async def handle(self, request: Request) -> Reply:
        path = request.path.rstrip("/") or "/"
        key = (request.method, path)
        try:
            if key == ("GET", "/_emulator"):
                query = _query(request.query)
                page = chat.render(self.state, query.get("to"), own_url(request), query)
                return 200, page, []
            if key == ("GET", "/_emulator/avatar.svg"):
                return 200, AVATAR_SVG, [(b"content-type", b"image/svg+xml")]
            if key == ("GET", "/_emulator/health"):
                return 200, {"status": "ok"}, []
            if key == ("GET", "/_emulator/messages"):
                return 200, self.messages(_query(request.query).get("to")), []
            if key == ("GET", "/_emulator/stats"):
                return 200, dict(self.state.stats), []
            if key == ("GET", "/_emulator/config"):
                return 200, self.state.config.public(), []
            if key == ("POST", "/_emulator/reset"):
                return self.reset(request)
            if key == ("POST", "/_emulator/config"):
                if not self.state.config.allow_config:
                    return 403, {"message": CONFIG_REFUSED}, []
                self.state.configure(_json_object(request.body))
                return 200, self.state.config.public(), []
            if key == ("POST", "/_emulator/webhook"):
                return await self.webhook(_json_object(request.body))
            if key == ("POST", "/_emulator/webhook/form"):
                return await self.webhook_form(request.body)
        except ValueError as exc:
            return _error(400, str(exc))
        return _error(404, "Not found")

    def messages(self, to: str | None) -> list[dict]:
        entries = self.state.by_recipient.get(to, []) if to else self.state.deliveries
        return [public_delivery(e) for e in entries]

    def reset(self, request: Request) -> Reply:
        options = _json_object(request.body) if request.body else {}
        self.state.reset(restore_config=bool(options.get("config")))
        return 200, {"status": "reset"}, []

    async def webhook(self, data: dict) -> Reply:
        url = data.get("url") or self.state.config.webhook_url
        events = data.get("events", [])
        destination = data.get("destination", self.state.bot_user_id)
        if not isinstance(url, str) or not isinstance(events, list):
            raise ValueError(
                "expected {'url': str, 'events': [...]} (url may be left out when the emulator "
                "runs with --webhook-url)"
            )
        if not isinstance(destination, str):
            raise ValueError("'destination' must be a string")
        secret = self.state.config.secret
        if not secret:
            raise ValueError("the emulator was started without --secret")
        filled = [self._event(e) for e in events]
        for event in filled:
            self._follow_state(event)
            self._conversation(event)
        body = json.dumps(
            {"destination": destination, "events": filled}, separators=(",", ":")
        ).encode()
        status = await _post_signed(url, body, secret)
        return 200, {"status": status}, []

    def _follow_state(self, event: dict) -> None:
        """What a follow or unfollow does at LINE: the follower list and profiles change."""
        source = event.get("source")
        user_id = source.get("userId") if isinstance(source, dict) else None
        if not isinstance(user_id, str):
            return
        if event.get("type") == "follow":
            unblocked = self.state.follow(user_id)
            follow = event.setdefault("follow", {})
            if isinstance(follow, dict):
                follow.setdefault("isUnblocked", unblocked)
        elif event.get("type") == "unfollow":
            self.state.unfollow(user_id)

    def _conversation(self, event: dict) -> None:
        """What the user said, for the chat view, and the event's reply token: a given one is
        kept, else a fresh one is added; either is accepted once, within its lifetime."""
        chat_id = event_source_id(event)
        if not isinstance(chat_id, str):
            return
        token = None
        if event.get("type") in REPLYABLE_EVENTS:
            token = event.get("replyToken")
            if isinstance(token, str) and token:
                self.state.remember_reply_token(token, chat_id)
            else:
                token = event["replyToken"] = self.state.issue_reply_token(chat_id)
        entry = {
            "event": chat.event_summary(event),
            "received_at": time.time(),
            "reply_token": token,
        }
        self.state.remember_inbound(chat_id, entry)

    async def webhook_form(self, raw: bytes) -> Reply:
        """The page's form: one event of a chosen type, then back to the page with the
        receiver's status (or the reason nothing was sent)."""
        form = _query(raw)
        try:
            event = form_event(form)
            url = form.get("url") or None
            status = (await self.webhook({"url": url, "events": [event]}))[1]["status"]
            outcome = f"webhook={status}&type={event['type']}"
        except ValueError as exc:
            outcome = f"webhook_error={quote(str(exc))}"
        back = (
            f"{outcome}&user={quote(form.get('userId', ''))}&group={quote(form.get('groupId', ''))}"
            f"&hook={quote(form.get('url', ''))}"
        )
        return 303, b"", [(b"location", f"/_emulator/?{back}".encode())]

    @staticmethod
    def _event(event: Any) -> dict:
        if not isinstance(event, dict):
            raise ValueError("each event must be an object")
        event = dict(event)
        event.setdefault("webhookEventId", _ulid())
        event.setdefault("timestamp", int(time.time() * 1000))
        event.setdefault("mode", "active")
        event.setdefault("deliveryContext", {"isRedelivery": False})
        return event


def form_event(form: dict[str, str]) -> dict:
    """A LINE webhook event from the page's form fields (type, userId, groupId, text, data);
    the reply token is added when it is sent (`Inspector._conversation`)."""
    kind = form.get("type", "")
    if kind not in WEBHOOK_FORM_TYPES:
        raise ValueError(f"type must be one of {', '.join(WEBHOOK_FORM_TYPES)}")
    if kind in ("join", "leave"):
        group_id = form.get("groupId", "").strip()
        if not GROUP_ID_RE.match(group_id):
            raise ValueError("groupId must be C followed by 32 lowercase hex characters")
        return {"type": kind, "source": {"type": "group", "groupId": group_id}}
    user_id = form.get("userId", "").strip()
    if not USER_ID_RE.match(user_id):
        raise ValueError("userId must be U followed by 32 lowercase hex characters")
    event: dict[str, Any] = {"type": kind, "source": {"type": "user", "userId": user_id}}
    if kind == "message":
        text = form.get("text", "")
        if not text:
            raise ValueError("a message event needs a text")
        message_id = str(int.from_bytes(os.urandom(7), "big"))
        event["message"] = {"type": "text", "id": message_id, "text": text,
                            "quoteToken": f"q{uuid.uuid4().hex}"}  # fmt: skip
    elif kind == "postback":
        if not form.get("data"):
            raise ValueError("a postback event needs data")
        event["postback"] = {"data": form["data"]}
    return event


async def _post_signed(url: str, body: bytes, secret: str) -> int:
    import aiohttp  # only the webhook sender needs it; keeps the emulator quick to start

    from lineapi.webhooks import sign

    headers = {"Content-Type": "application/json", "x-line-signature": sign(secret, body)}
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            return response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ValueError(f"could not post the webhook: {type(exc).__name__}") from exc


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ValueError("body is not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data
