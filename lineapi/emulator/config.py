"""Emulator settings: the command line and what `POST /_emulator/config` may change."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass
class EmulatorConfig:
    token: str
    port: int = 8765
    host: str = "127.0.0.1"
    secret: str | None = None
    latency_ms: float = 20.0
    push_rate: float = 2000.0
    multicast_rate: float = 200.0
    fault_rate: float = 0.0
    fault_hold_s: float = 30.0
    monthly_quota: int | None = None
    followers: int = 20
    unverified: bool = False
    ledger: str | None = None
    webhook_url: str | None = None
    reply_token_ttl_s: float = 60.0
    allow_config: bool = False  # POST /_emulator/config is refused without it

    def updated(self, changes: dict[str, Any]) -> EmulatorConfig:
        """A copy with run-time changes applied; unknown keys raise ValueError."""
        unknown = set(changes) - RUNTIME_KEYS
        if unknown:
            raise ValueError(f"unknown or fixed settings: {', '.join(sorted(unknown))}")
        types = {f.name: f.type for f in fields(self)}
        coerced = {k: _coerce(types[k], v) for k, v in changes.items()}
        return replace(self, **coerced)

    def public(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.pop("token")
        data["secret"] = bool(self.secret)
        return data


RUNTIME_KEYS = {
    "monthly_quota",
    "fault_rate",
    "fault_hold_s",
    "latency_ms",
    "push_rate",
    "multicast_rate",
    "unverified",
    "token",
    "webhook_url",
    "reply_token_ttl_s",
}


def _coerce(type_name: str, value: Any) -> Any:
    if value is None:
        if "None" in type_name:
            return None
        raise ValueError("null is not allowed here")
    if type_name.startswith("bool"):
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if type_name.startswith("int"):
        return int(value)
    if type_name.startswith("float"):
        return float(value)
    return str(value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lineapi.emulator",
        description=(
            "A LINE Messaging API emulator for development and tests. It answers push, "
            "reply, multicast, broadcast, the validate endpoints, bot info, quota, follower ids, "
            "profiles and insight as LINE does, refuses what LINE refuses with LINE's error "
            "bodies, and shows what it accepted at http://HOST:PORT/_emulator/ (a chat view, "
            "the token and secret, and a form that sends signed webhook events)."
        ),
    )
    p.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    p.add_argument(
        "--token",
        required=True,
        help="the only channel access token accepted (Authorization: Bearer TOKEN)",
    )
    p.add_argument(
        "--secret",
        help="channel secret that signs webhook events (x-line-signature); without it the "
        "emulator sends no webhooks",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    p.add_argument(
        "--latency-ms",
        type=float,
        default=20.0,
        help="milliseconds added to every LINE API answer (default: %(default)s)",
    )
    p.add_argument(
        "--push-rate",
        type=float,
        default=2000.0,
        help="push requests per second before a 429 (LINE: 2,000) (default: %(default)s)",
    )
    p.add_argument(
        "--multicast-rate",
        type=float,
        default=200.0,
        help="multicast requests per second before a 429 (LINE: 200) (default: %(default)s)",
    )
    p.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="fraction of sends (0 to 1) that fail: half answer 500, half hang and drop "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--fault-hold-s",
        type=float,
        default=30.0,
        help="seconds a hanging fault holds the connection before dropping it "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--monthly-quota",
        type=int,
        default=None,
        help="recipients a month before 'You have reached your monthly limit.' (none: no limit)",
    )
    p.add_argument(
        "--followers",
        type=int,
        default=20,
        help="number of generated followers listed by GET /v2/bot/followers/ids "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--unverified",
        action="store_true",
        help="act as an unverified account: follower ids answer 403",
    )
    p.add_argument(
        "--allow-config",
        action="store_true",
        help="let POST /_emulator/config change settings while running (test harnesses)",
    )
    p.add_argument(
        "--ledger",
        help="a JSON-lines file that keeps accepted messages and retry keys across restarts",
    )
    p.add_argument(
        "--webhook-url",
        help="where POST /_emulator/webhook and the page's webhook form send events when no "
        "url is given (e.g. a connection's webhook URL)",
    )
    p.add_argument(
        "--reply-token-ttl-s",
        type=float,
        default=60.0,
        help="seconds a webhook event's reply token stays usable (LINE: one minute) "
        "(default: %(default)s)",
    )
    return p


def parse_args(argv: list[str] | None = None) -> EmulatorConfig:
    p = build_parser()
    a = p.parse_args(argv)
    if not 0.0 <= a.fault_rate <= 1.0:
        p.error("--fault-rate must be between 0 and 1")
    return EmulatorConfig(
        token=a.token,
        port=a.port,
        host=a.host,
        secret=a.secret,
        latency_ms=a.latency_ms,
        push_rate=a.push_rate,
        multicast_rate=a.multicast_rate,
        fault_rate=a.fault_rate,
        fault_hold_s=a.fault_hold_s,
        monthly_quota=a.monthly_quota,
        followers=a.followers,
        unverified=a.unverified,
        ledger=a.ledger,
        webhook_url=a.webhook_url,
        reply_token_ttl_s=a.reply_token_ttl_s,
        allow_config=a.allow_config,
    )
