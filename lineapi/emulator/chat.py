"""`GET /_emulator/`: each recipient's received messages as a LINE-like chat (inline HTML/CSS)."""

from __future__ import annotations

import time
from html import escape
from urllib.parse import quote

from lineapi.emulator.state import State

MAX_RECIPIENTS = 500
MAX_BUBBLES = 200

CSS = """
body{margin:0;font-family:system-ui,-apple-system,'Hiragino Sans',sans-serif;display:flex;
height:100vh;background:#fff}
nav{width:300px;overflow-y:auto;border-right:1px solid #ddd;background:#f7f7f7}
nav h1{font-size:15px;margin:0;padding:14px;background:#06c755;color:#fff}
nav a{display:block;padding:10px 14px;border-bottom:1px solid #eee;color:#222;
text-decoration:none;font-size:13px}
nav a.on{background:#e4f7ec}nav small{color:#888;float:right}
main{flex:1;display:flex;flex-direction:column}
header{padding:12px 16px;background:#273246;color:#fff;font-size:14px}
.chat{flex:1;overflow-y:auto;padding:16px;background:#8cabd9}
.row{display:flex;align-items:flex-start;margin:8px 0}
.avatar{width:34px;height:34px;border-radius:50%;background:#06c755;color:#fff;
font-size:11px;display:flex;align-items:center;justify-content:center;margin-right:8px}
.bubble{max-width:60%;background:#fff;border-radius:16px;padding:9px 13px;font-size:14px;
white-space:pre-wrap;word-break:break-word}
.bubble img{max-width:220px;border-radius:8px;display:block}
.kind{font-size:11px;color:#06c755;font-weight:600;display:block;margin-bottom:3px}
.btn{display:block;margin-top:6px;padding:6px;border-top:1px solid #eee;color:#2a6ebb;
text-align:center}
.time{font-size:10px;color:#eef;margin:0 0 2px 6px;align-self:flex-end}
.empty{color:#fff;text-align:center;margin-top:40px}
"""


def render(state: State, selected: str | None) -> str:
    recipients = list(state.by_recipient)[-MAX_RECIPIENTS:][::-1]
    if selected is None and recipients:
        selected = recipients[0]
    nav = "".join(_nav_item(state, r, r == selected) for r in recipients)
    entries = state.by_recipient.get(selected, [])[-MAX_BUBBLES:] if selected else []
    bubbles = "".join(_bubbles(e) for e in entries)
    if not bubbles:
        bubbles = '<p class="empty">No messages yet.</p>'
    title = escape(selected or "LINE emulator")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{CSS}</style></head><body><nav><h1>LINE emulator · "
        f"{state.stats['accepted_recipients']} delivered</h1>{nav}</nav><main>"
        f"<header>{title}</header><div class='chat'>{bubbles}</div></main></body></html>"
    )


def _nav_item(state: State, recipient: str, on: bool) -> str:
    count = len(state.by_recipient[recipient])
    css = " class='on'" if on else ""
    return (
        f"<a{css} href='?to={quote(recipient)}'>{escape(recipient[:12])}…<small>{count}</small></a>"
    )


def _bubbles(entry: dict) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(entry["received_at"]))
    return "".join(
        f"<div class='row'><div class='avatar'>BOT</div><div class='bubble'>{_body(m)}</div>"
        f"<span class='time'>{stamp}</span></div>"
        for m in entry["messages"]
        if isinstance(m, dict)
    )


def _body(m: dict) -> str:
    kind = m.get("type")
    if kind == "text":
        return escape(str(m.get("text", "")))
    if kind == "sticker":
        return f"<span class='kind'>sticker</span>🧸 {escape(str(m.get('packageId')))}/" + escape(
            str(m.get("stickerId"))
        )
    if kind == "image":
        src = escape(str(m.get("previewImageUrl", "")), quote=True)
        return f"<img src='{src}' alt='image'>"
    if kind in ("video", "audio"):
        url = escape(str(m.get("originalContentUrl", "")))
        return f"<span class='kind'>{kind}</span>{url}"
    if kind == "location":
        return f"<span class='kind'>location</span>📍 {escape(str(m.get('title', '')))}\n" + escape(
            str(m.get("address", ""))
        )
    return _alt_text(m)


def _alt_text(m: dict) -> str:
    kind = str(m.get("type"))
    template = m.get("template") if isinstance(m.get("template"), dict) else {}
    label = f"{kind} {template.get('type', '')}".strip()
    text = escape(str(m.get("altText", "")))
    buttons = "".join(
        f"<span class='btn'>{escape(str(a.get('label', '')))}</span>"
        for a in template.get("actions", [])
        if isinstance(a, dict)
    )
    return f"<span class='kind'>{escape(label)}</span>{text}{buttons}"
