"""`GET /_emulator/`: each recipient's received messages as a LINE-like chat (inline HTML/CSS)."""

from __future__ import annotations

import json
import time
from html import escape
from urllib.parse import quote

from lineapi.emulator.state import State, new_group_id, new_user_id

MAX_RECIPIENTS = 500
MAX_BUBBLES = 200

CSS = """
body{margin:0;font-family:system-ui,-apple-system,'Hiragino Sans',sans-serif;display:flex;
height:100vh;background:#fff}
nav{width:360px;overflow-y:auto;border-right:1px solid #ddd;background:#f7f7f7}
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
.row.user{justify-content:flex-end}.row.user .bubble{background:#8de055}
.row.user .time{order:-1;margin:0 6px 2px 0}
.empty{color:#fff;text-align:center;margin-top:40px}
details{border-bottom:1px solid #ddd;font-size:13px;padding:8px 14px}
summary{cursor:pointer;font-weight:600}
dl{margin:6px 0}dt{color:#666;font-size:11px}dd{margin:0 0 6px;font-family:monospace;
word-break:break-all}
form label{display:block;font-size:11px;color:#666;margin-top:6px}
form input,form select{width:100%;box-sizing:border-box;padding:4px;font-size:13px}
form button{margin-top:8px;padding:5px 12px;background:#06c755;color:#fff;border:0;
border-radius:4px;cursor:pointer}
pre{white-space:pre-wrap;word-break:break-all;font-size:11px;background:#fff;padding:6px;
border:1px solid #ddd}
.note{padding:6px;margin:6px 0;border-radius:4px;background:#e4f7ec}
.note.bad{background:#fde8e8}
"""


def render(
    state: State, selected: str | None, base_url: str, query: dict[str, str] | None = None
) -> str:
    chats = list(dict.fromkeys([*state.by_recipient, *state.inbound]))
    recipients = chats[-MAX_RECIPIENTS:][::-1]
    if selected is None and recipients:
        selected = recipients[0]
    nav = "".join(_nav_item(state, r, r == selected) for r in recipients)
    bubbles = _timeline(state, selected) if selected else ""
    if not bubbles:
        bubbles = '<p class="empty">No messages yet.</p>'
    title = escape(selected or "LINE emulator")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{CSS}</style></head><body><nav><h1>LINE emulator · "
        f"{len(state.deliveries)} delivered</h1>"
        f"{usage(state, base_url, query or {})}{nav}</nav><main>"
        f"<header>{title}</header><div class='chat'>{bubbles}</div></main></body></html>"
    )


def usage(state: State, base_url: str, query: dict[str, str]) -> str:
    """How to use this instance: its credentials, a webhook form and the same from a shell."""
    config = state.config
    secret = config.secret or "(none: start with --secret to send webhooks)"
    # ?hook= comes from a connection's page: its own webhook URL, so the form needs no typing.
    target = query.get("hook") or config.webhook_url or ""
    user = query.get("user") or new_user_id()
    group = query.get("group") or new_group_id()
    note = ""
    if "webhook" in query:
        kind, status = escape(query.get("type", "event")), escape(query["webhook"])
        note = f"<p class='note'>Sent a {kind} event: the webhook answered {status}.</p>"
    elif "webhook_error" in query:
        note = f"<p class='note bad'>Not sent: {escape(query['webhook_error'])}</p>"
    options = "".join(f"<option>{t}</option>" for t in WEBHOOK_FORM_TYPES)
    q = escape
    push = {"to": user, "messages": [{"type": "text", "text": "Hi"}]}
    hook = {
        "url": target or "http://127.0.0.1:8000/webhooks/line/SLUG",
        "events": [{"type": "follow", "source": {"type": "user", "userId": user}}],
    }
    curl_push = _curl(
        f"{base_url}/v2/bot/message/push", push, f"Authorization: Bearer {config.token}"
    )
    curl_hook = _curl(f"{base_url}/_emulator/webhook", hook)
    return (
        f"<details open><summary>Use this emulator</summary>{note}<dl>"
        f"<dt>API base URL</dt><dd>{q(base_url)}</dd>"
        f"<dt>Channel access token</dt><dd id='token'>{q(config.token)}</dd>"
        f"<dt>Channel secret</dt><dd id='secret'>{q(secret)}</dd>"
        f"<dt>Bot user id</dt><dd>{q(state.bot_user_id)}</dd></dl></details>"
        "<details open><summary>Send a webhook event</summary>"
        "<form method='post' action='/_emulator/webhook/form'>"
        f"<label>Webhook URL</label><input name='url' value='{q(target, quote=True)}' "
        "placeholder='http://127.0.0.1:8000/webhooks/line/SLUG'>"
        f"<label>Event</label><select name='type'>{options}</select>"
        f"<label>User id</label><input name='userId' value='{q(user, quote=True)}'>"
        f"<label>Group id (join, leave)</label><input name='groupId' "
        f"value='{q(group, quote=True)}'>"
        "<label>Text (message)</label><input name='text' value='Hello'>"
        "<label>Data (postback)</label><input name='data' value='action=buy&amp;item=1'>"
        "<button type='submit'>Send signed event</button></form>"
        "<p>A follow from a new user id makes a follower with a generated profile; an "
        "unfollow removes it. Follow, message, postback and join events carry a reply token "
        f"that POST /v2/bot/message/reply accepts once within {config.reply_token_ttl_s:g} s; "
        "replies show under the event.</p></details>"
        "<details><summary>From a shell</summary>"
        f"<pre>{q(curl_push)}</pre><pre>{q(curl_hook)}</pre>"
        "<p>JSON views: /_emulator/messages?to=ID, /_emulator/stats, /_emulator/config; "
        "POST /_emulator/reset. Options: python -m lineapi.emulator --help.</p></details>"
    )


WEBHOOK_FORM_TYPES = ("follow", "unfollow", "message", "postback", "join", "leave")


def _curl(url: str, body: dict, *headers: str) -> str:
    lines = [f"curl -X POST {url}", *(f"-H '{h}'" for h in headers)]
    lines += ["-H 'Content-Type: application/json'", f"-d '{json.dumps(body)}'"]
    return " \\\n  ".join(lines)


def _nav_item(state: State, recipient: str, on: bool) -> str:
    count = len(state.by_recipient.get(recipient, []))
    css = " class='on'" if on else ""
    return (
        f"<a{css} href='?to={quote(recipient)}'>{escape(recipient[:12])}…<small>{count}</small></a>"
    )


def _timeline(state: State, chat_id: str) -> str:
    """What the user sent and what the bot sent, in time order; each reply right under the
    event whose token it used."""
    inbound = state.inbound.get(chat_id, [])[-MAX_BUBBLES:]
    deliveries = state.by_recipient.get(chat_id, [])[-MAX_BUBBLES:]
    tokens = {e["reply_token"] for e in inbound if e["reply_token"]}
    replies: dict[str, list[dict]] = {}
    items: list[tuple[float, int, int, dict]] = []
    for i, entry in enumerate(deliveries):
        if entry["via"] == "reply" and entry["reply_token"] in tokens:
            replies.setdefault(entry["reply_token"], []).append(entry)
        else:
            items.append((entry["received_at"], 1, i, entry))
    items += [(e["received_at"], 0, i, e) for i, e in enumerate(inbound)]
    out: list[str] = []
    for _, is_delivery, _, entry in sorted(items, key=lambda item: item[:3]):
        if is_delivery:
            out.append(_bubbles(entry))
            continue
        out.append(_user_bubble(entry))
        out += [_bubbles(r) for r in replies.get(entry["reply_token"], [])]
    return "".join(out)


def event_summary(event: dict) -> str:
    """A webhook event as a line of the chat: a text as typed, anything else in brackets."""
    kind = str(event.get("type"))
    if kind == "message":
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        if message.get("type") == "text":
            return str(message.get("text", ""))
        return f"[{message.get('type', 'message')}]"
    if kind == "postback":
        postback = event.get("postback") if isinstance(event.get("postback"), dict) else {}
        return f"[postback] {postback.get('data', '')}"
    return f"[{kind}]"


def _user_bubble(entry: dict) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(entry["received_at"]))
    return (
        f"<div class='row user'><span class='time'>{stamp}</span>"
        f"<div class='bubble'>{escape(entry['event'])}</div></div>"
    )


def _bubbles(entry: dict) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(entry["received_at"]))
    if entry["via"] == "reply":
        stamp = f"reply · {stamp}"
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
