"""The emulator's own page and options tell how to use it, and webhook followers are real
followers: listed, with a generated profile, as LINE would answer for them."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from linebot.v3.messaging.exceptions import NotFoundException

from lineapi import parse_webhook, verify_signature
from lineapi.emulator.config import build_parser
from tests.emulator_fixtures import ROOT, EmulatorHandle
from tests.lineapi.conftest import line_sdk

NEW_USER = "U" + "5e" * 16


def follower_ids(handle: EmulatorHandle) -> list[str]:
    headers = {"Authorization": f"Bearer {handle.token}"}
    ids: list[str] = []
    start: str | None = None
    while True:
        params = {"limit": 1000, **({"start": start} if start else {})}
        page = httpx.get(f"{handle.base_url}/v2/bot/followers/ids", headers=headers, params=params)
        ids += page.json()["userIds"]
        start = page.json().get("next")
        if not start:
            return ids


def post_form(handle: EmulatorHandle, **fields: str) -> httpx.Response:
    return httpx.post(f"{handle.base_url}/_emulator/webhook/form", data=fields)


def test_the_page_shows_the_instances_token_secret_and_how_to_send_webhooks(
    emulator: EmulatorHandle,
) -> None:
    page = httpx.get(f"{emulator.base_url}/_emulator/").text
    assert f"<dd id='token'>{emulator.token}</dd>" in page
    assert f"<dd id='secret'>{emulator.secret}</dd>" in page
    assert "action='/_emulator/webhook/form'" in page
    for kind in ("follow", "unfollow", "message", "postback"):
        assert f"<option>{kind}</option>" in page
    assert f"curl -X POST {emulator.base_url}/v2/bot/message/push" in page
    assert f"curl -X POST {emulator.base_url}/_emulator/webhook" in page


def test_help_documents_every_option() -> None:
    parser = build_parser()
    out = subprocess.run(
        [sys.executable, "-m", "lineapi.emulator", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for action in parser._actions:
        assert action.help, action.option_strings
        assert action.option_strings[-1] in out
    assert "--webhook-url" in out


def test_the_form_sends_signed_follow_message_and_postback_events(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    url, received = receiver
    for kind, extra in (("follow", {}), ("message", {"text": "hi"}), ("postback", {"data": "a=1"})):
        sent = post_form(emulator, url=url, type=kind, userId=NEW_USER, **extra)
        assert sent.status_code == 303
        assert sent.headers["location"].startswith(f"/_emulator/?webhook=200&type={kind}")
    follow, message, postback = (parse_webhook(body).events[0] for body, _ in received)
    assert all(verify_signature(emulator.secret, body, sig) for body, sig in received)
    assert follow.type == "follow" and follow.user_id == NEW_USER
    assert json.loads(received[0][0])["events"][0]["follow"] == {"isUnblocked": False}
    assert json.loads(received[1][0])["events"][0]["message"]["text"] == "hi"
    assert json.loads(received[2][0])["events"][0]["postback"] == {"data": "a=1"}
    assert message.reply_token and postback.reply_token


def test_the_form_explains_what_it_cannot_send(emulator: EmulatorHandle) -> None:
    sent = post_form(emulator, url="http://127.0.0.1:9/x", type="follow", userId="nobody")
    assert sent.status_code == 303 and "webhook_error=" in sent.headers["location"]
    page = httpx.get(emulator.base_url + sent.headers["location"]).text
    assert "Not sent: userId must be U followed by 32 lowercase hex characters" in page


def test_a_follower_made_by_webhook_gets_a_generated_profile(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    url, _ = receiver
    api = line_sdk(emulator)
    with pytest.raises(NotFoundException):
        api.get_profile(NEW_USER)
    assert emulator.send_webhook(url, [follow_event(NEW_USER)]) == 200
    profile = api.get_profile(NEW_USER)
    assert profile.user_id == NEW_USER
    assert profile.display_name and " " in profile.display_name
    assert profile.picture_url == f"{emulator.base_url}/_emulator/avatar.svg?u={NEW_USER}"
    assert httpx.get(profile.picture_url).status_code == 200
    assert NEW_USER in follower_ids(emulator)

    other = "U" + "6f" * 16
    emulator.send_webhook(url, [follow_event(other)])
    assert api.get_profile(other).user_id == other
    emulator.reset()
    emulator.send_webhook(url, [follow_event(NEW_USER)])
    assert api.get_profile(NEW_USER).display_name == profile.display_name  # same id, same name


def test_an_unfollow_removes_the_follower_and_a_return_is_unblocked(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    url, received = receiver
    api = line_sdk(emulator)
    emulator.send_webhook(url, [follow_event(NEW_USER)])
    unfollow = {"type": "unfollow", "source": {"type": "user", "userId": NEW_USER}}
    emulator.send_webhook(url, [unfollow])
    assert NEW_USER not in follower_ids(emulator)
    with pytest.raises(NotFoundException):
        api.get_profile(NEW_USER)
    emulator.send_webhook(url, [follow_event(NEW_USER)])
    assert json.loads(received[-1][0])["events"][0]["follow"] == {"isUnblocked": True}
    assert follower_ids(emulator)[-1] == NEW_USER


def test_webhooks_go_to_the_configured_url_when_none_is_given(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    url, received = receiver
    emulator.configure(webhook_url=url)
    response = httpx.post(
        f"{emulator.base_url}/_emulator/webhook", json={"events": [follow_event(NEW_USER)]}
    )
    assert response.json() == {"status": 200}
    assert post_form(emulator, type="unfollow", userId=NEW_USER).status_code == 303
    assert [parse_webhook(body).events[0].type for body, _ in received] == ["follow", "unfollow"]
    assert f"value='{url}'" in httpx.get(f"{emulator.base_url}/_emulator/").text


def follow_event(user_id: str) -> dict:
    return {"type": "follow", "source": {"type": "user", "userId": user_id}, "replyToken": "r"}


def test_a_connection_page_can_hand_its_webhook_url_to_the_form(emulator: EmulatorHandle) -> None:
    hook = "http://127.0.0.1:8000/webhooks/line/abc123/"
    page = httpx.get(f"{emulator.base_url}/_emulator/", params={"hook": hook}).text
    assert f"<input name='url' value='{hook}'" in page
    sent = post_form(emulator, url=hook, type="follow", userId="bad")
    assert "hook=http%3A//127.0.0.1%3A8000/webhooks/line/abc123/" in sent.headers["location"]
