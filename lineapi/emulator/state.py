"""What the emulator remembers: accepted deliveries, retry keys, reply tokens, what users sent,
counters, rate buckets."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineapi.emulator.config import EmulatorConfig
from lineapi.messages import RATE_GROUPS

STAT_KEYS = (
    "accepted_requests",
    "accepted_recipients",
    "duplicate_retries",
    "rate_limited",
    "monthly_limited",
    "faults_injected",
    "invalid_requests",
    "quota_requests",
    "accepted_replies",
    "invalid_reply_tokens",
)
MAX_INBOUND_PER_CHAT = 200


def new_user_id() -> str:
    return "U" + uuid.uuid4().hex


def new_group_id() -> str:
    return "C" + uuid.uuid4().hex


def seeded_id(kind: str, n: int) -> str:
    return "U" + hashlib.md5(f"emulator-{kind}-{n}".encode()).hexdigest()


# LINE allows broadcast (and narrowcast) 60 requests an hour per channel.
BROADCAST_PER_HOUR = 60


class TokenBucket:
    """Up to `capacity` requests at once (by default one second's worth), refilled
    continuously at `rate` a second."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Accepted:
    request_id: str
    sent_messages: list[dict]
    accepted_at: float


@dataclass
class IssuedToken:
    chat: str  # the user, group or room id a reply goes to
    issued_at: float  # time.monotonic()


@dataclass
class State:
    config: EmulatorConfig
    initial: EmulatorConfig
    deliveries: list[dict] = field(default_factory=list)
    by_recipient: dict[str, list[dict]] = field(default_factory=dict)
    retry_keys: dict[str, Accepted] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAT_KEYS, 0))
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    reply_tokens: dict[str, IssuedToken] = field(default_factory=dict)
    # What users sent (the webhook events the emulator posted), per chat, for the chat view.
    inbound: dict[str, list[dict]] = field(default_factory=dict)
    counter: int = 0

    def __post_init__(self) -> None:
        self._prefix = os.urandom(10).hex()
        self.bot_user_id = seeded_id("bot", 0)
        self.seeded_followers = [seeded_id("follower", i) for i in range(self.config.followers)]
        self.follower_index = {uid: i for i, uid in enumerate(self.seeded_followers)}
        self._restore_followers()
        self.auth = f"Bearer {self.config.token}".encode()
        self.reset_buckets()
        self._ledger = None
        if self.config.ledger:
            self._replay(Path(self.config.ledger))
            self._ledger = open(self.config.ledger, "a", encoding="utf-8")  # noqa: SIM115

    def _replay(self, path: Path) -> None:
        """What an earlier run accepted, so the chat, quota use and retry keys survive a
        restart, as they do at LINE."""
        if not path.exists():
            return
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a line cut short when the process was killed
            # Lines written before "via" existed are push or multicast, by their recipients.
            via = item.get("via") or ("push" if len(item["to"]) == 1 else "multicast")
            self.record(item["to"], item["body"], item["retry_key"], item["request_id"],
                        item["sent"], via=via, reply_token=item.get("reply_token"),
                        received_at=item["received_at"])  # fmt: skip

    def _restore_followers(self) -> None:
        self.followers = list(self.seeded_followers)
        self.following = set(self.followers)
        self.blocked: set[str] = set()

    def follow(self, user_id: str) -> bool:
        """A follow event: the user is a follower from now on, at the end of the list. True
        when the user had blocked the account before (LINE's `follow.isUnblocked`)."""
        if user_id not in self.following:
            self.followers.append(user_id)
            self.following.add(user_id)
        unblocked = user_id in self.blocked
        self.blocked.discard(user_id)
        return unblocked

    def unfollow(self, user_id: str) -> None:
        """An unfollow (block): LINE lists the user no more and hides its profile."""
        if user_id in self.following:
            self.followers.remove(user_id)
            self.following.discard(user_id)
        self.blocked.add(user_id)

    def reset_buckets(self) -> None:
        self.buckets = {
            "push": TokenBucket(self.config.push_rate),
            "multicast": TokenBucket(self.config.multicast_rate),
            "broadcast": TokenBucket(BROADCAST_PER_HOUR / 3600, capacity=BROADCAST_PER_HOUR),
        }

    def bucket(self, kind: str) -> TokenBucket:
        return self.buckets[RATE_GROUPS[kind]]

    def issue_reply_token(self, chat: str) -> str:
        """A fresh token for an event from `chat`; see `take_reply_token`."""
        token = uuid.uuid4().hex
        self.remember_reply_token(token, chat)
        return token

    def remember_reply_token(self, token: str, chat: str) -> None:
        now = time.monotonic()
        ttl = self.config.reply_token_ttl_s
        # Tokens are issued in time order: the expired ones are at the front.
        while self.reply_tokens:
            oldest = next(iter(self.reply_tokens))
            if now - self.reply_tokens[oldest].issued_at < ttl:
                break
            del self.reply_tokens[oldest]
        self.reply_tokens.pop(token, None)
        self.reply_tokens[token] = IssuedToken(chat, now)

    def take_reply_token(self, token: str) -> str | None:
        """The chat a reply with this token goes to, once: LINE honours a reply token a single
        time, within its lifetime (`reply_token_ttl_s`, LINE: one minute)."""
        issued = self.reply_tokens.pop(token, None)
        if issued is None or time.monotonic() - issued.issued_at >= self.config.reply_token_ttl_s:
            return None
        return issued.chat

    def remember_inbound(self, chat: str, entry: dict) -> None:
        entries = self.inbound.setdefault(chat, [])
        entries.append(entry)
        del entries[:-MAX_INBOUND_PER_CHAT]

    def configure(self, changes: dict[str, Any]) -> None:
        self.config = self.config.updated(changes)
        self.auth = f"Bearer {self.config.token}".encode()
        self.reset_buckets()

    def reset(self, *, restore_config: bool = False) -> None:
        if self._ledger is not None:
            self._ledger.truncate(0)
        self.deliveries = []
        self.by_recipient = {}
        self.retry_keys = {}
        self.reply_tokens = {}
        self.inbound = {}
        self.stats = dict.fromkeys(STAT_KEYS, 0)
        self._restore_followers()
        if restore_config:
            self.config = self.initial
            self.auth = f"Bearer {self.config.token}".encode()
        self.reset_buckets()

    def retry_key_taken(self, retry_key: str, ttl_s: float) -> bool:
        """Whether a request with this key was accepted within the last `ttl_s` seconds."""
        accepted = self.retry_keys.get(retry_key)
        return accepted is not None and time.time() - accepted.accepted_at < ttl_s

    def next_request_id(self) -> str:
        self.counter += 1
        p = self._prefix
        return f"{p[:8]}-{p[8:12]}-{p[12:16]}-{p[16:20]}-{self.counter:012x}"

    def sent_messages(self, count: int) -> list[dict]:
        base = 480_000_000_000_000_000 + self.counter * 8
        return [
            {"id": str(base + i), "quoteToken": f"q{self._prefix}{base + i:x}"}
            for i in range(count)
        ]

    def record(
        self,
        recipients: list[str],
        body: dict,
        retry_key: str | None,
        rid: str,
        sent: list[dict],
        *,
        via: str,
        reply_token: str | None = None,
        received_at: float | None = None,
    ) -> None:
        """Keeps one accepted request: its deliveries, its retry key and, with --ledger, a line
        in the ledger file. `via` is the API that carried it (push, multicast, reply or
        broadcast); a reply does not count against the monthly quota."""
        if received_at is None:
            received_at = time.time()
            if self._ledger is not None:
                line = {"to": recipients, "retry_key": retry_key, "request_id": rid,
                        "sent": sent, "received_at": received_at, "via": via,
                        "reply_token": reply_token,
                        "body": {k: body[k] for k in ("messages", "customAggregationUnits")
                                 if k in body}}  # fmt: skip
                self._ledger.write(json.dumps(line, ensure_ascii=False) + "\n")
                self._ledger.flush()
        if retry_key is not None:
            self.retry_keys[retry_key] = Accepted(rid, sent, received_at)
        messages = body["messages"]
        units = body.get("customAggregationUnits") or []
        for to in recipients:
            entry = {
                "to": to,
                "messages": messages,
                "retry_key": retry_key,
                "request_id": rid,
                "received_at": received_at,
                "units": units,
                "via": via,
                "reply_token": reply_token,
            }
            self.deliveries.append(entry)
            self.by_recipient.setdefault(to, []).append(entry)
        self.stats["accepted_requests"] += 1
        if via == "reply":
            self.stats["accepted_replies"] += 1
        else:
            self.stats["accepted_recipients"] += len(recipients)


def public_delivery(entry: dict) -> dict:
    return {
        k: entry[k]
        for k in ("to", "messages", "retry_key", "request_id", "received_at", "via", "reply_token")
    }
