"""The Sandbox in a browser: an Admin reveals the emulator's credentials on the connection page,
then sends a follow from the emulator's own form; the follower arrives with the profile the
emulator made up for it."""

from __future__ import annotations

import hashlib
import re

from playwright.sync_api import Page, expect

from lineapi.emulator.inspect import generated_profile
from tests.e2e.conftest import App
from tests.e2e.flows import LONG, ensure_connection

NEWCOMER = "U" + hashlib.md5(b"e2e-webhook-newcomer").hexdigest()


def test_reveal_then_a_follow_from_the_emulator_page_makes_a_contact(page: Page, app: App):
    name = ensure_connection(page, app)
    page.goto(f"{app.url}/connections/")
    page.get_by_role("link", name=name, exact=True).click()
    token = page.get_by_test_id("sandbox-token")
    expect(token).not_to_have_text(app.emulator.token)
    page.get_by_role("button", name="Reveal").click()
    expect(token).to_have_text(app.emulator.token)
    expect(page.get_by_test_id("sandbox-secret")).to_have_text(app.emulator.secret)

    page.goto(page.get_by_test_id("emulator-webhook-form").get_attribute("href"))
    expect(page.locator("input[name=url]")).to_have_value(
        re.compile(rf"^{re.escape(app.url)}/webhooks/line/[\w-]+/$")
    )
    page.locator("select[name=type]").select_option("follow")
    page.locator("input[name=userId]").fill(NEWCOMER)
    page.get_by_role("button", name="Send signed event").click()
    expect(page.get_by_text("Sent a follow event: the webhook answered 200.")).to_be_visible()

    expected = generated_profile(NEWCOMER, app.emulator.base_url)["displayName"]
    for _ in range(30):
        page.goto(f"{app.url}/audiences/contacts/?q={NEWCOMER}")
        if page.get_by_text(expected).count():
            break
        page.wait_for_timeout(LONG // 30)
    expect(page.get_by_text(expected).first).to_be_visible()
