"""A keyword journey built in the browser (#13): a Marketer writes the coupon reply with the
template editor, its variable picker and live preview, adds an entry condition with the segment
builder, saves and activates it; a user types COUPON in LINE (the emulator's webhook form); the
reply goes out free and the journey's report shows it."""

from __future__ import annotations

import hashlib
import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import App
from tests.e2e.flows import CONNECTION_NAME, LONG, ensure_connection, switch_to

CUSTOMER = "U" + hashlib.md5(b"e2e-journey-coupon").hexdigest()
TEXT = "Here is your coupon, {{ display_name | default: 'friend' }}: SPRING24 (you typed "


def _figure(page: Page, key: str) -> str:
    return page.locator(f"#figure-{key}").inner_text().strip()


def test_a_marketer_builds_and_activates_a_keyword_journey_that_replies(page: Page, app: App):
    ensure_connection(page, app)
    page.goto(f"{app.url}/connections/")
    page.get_by_role("link", name=CONNECTION_NAME, exact=True).click()
    webhook_form = page.get_by_test_id("emulator-webhook-form").get_attribute("href")

    switch_to(page, app, "marketer")
    page.get_by_role("link", name="Journeys", exact=True).click()
    page.get_by_role("link", name="New journey").first.click()
    expect(page).to_have_title(re.compile("^New journey"))
    page.get_by_label("Name", exact=True).fill("Spring coupon")
    page.get_by_label("Connection", exact=True).select_option(label=CONNECTION_NAME)
    keywords = page.get_by_label("Keywords (one per line)")
    expect(keywords).to_be_hidden()  # options show for the trigger chosen
    page.get_by_label("A keyword in a message").check()
    keywords.fill("coupon")
    page.get_by_label("Every time the trigger fires").check()
    page.get_by_role("button", name="Add a condition").click()
    page.get_by_label("Field").fill("opted_out")
    page.get_by_label("Operator").select_option("eq")
    page.get_by_label("Value").fill("false")
    text = page.get_by_label("Text", exact=True)
    text.fill(TEXT)
    page.get_by_role("button", name="event.text").click()  # inserted at the cursor
    text.press("End")
    text.press_sequentially(")")
    preview = page.locator("#preview-0")
    expect(preview).to_contain_text(
        "Here is your coupon, Sample contact: SPRING24 (you typed coupon)"
    )
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_text("saved as a draft")).to_be_visible()
    expect(page.locator("#journey-status")).to_have_text("Draft")
    expect(page.locator("#trigger-summary")).to_contain_text("message is “coupon”")
    expect(page.locator("#definition")).to_contain_text('"field": "opted_out"')
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#journey-status")).to_have_text("Active")
    journey_page = page.url

    page.goto(webhook_form)
    page.locator("select[name=type]").select_option("message")
    page.locator("input[name=userId]").fill(CUSTOMER)
    page.locator("input[name=text]").fill("COUPON")
    page.get_by_role("button", name="Send signed event").click()
    expect(page.get_by_text("Sent a message event: the webhook answered 200.")).to_be_visible()

    for _ in range(30):
        page.goto(journey_page)
        if _figure(page, "replied") == "1":
            break
        page.wait_for_timeout(LONG // 30)
    assert (_figure(page, "triggered"), _figure(page, "sent")) == ("1", "1")
    assert (_figure(page, "replied"), _figure(page, "pushed"), _figure(page, "failed")) == (
        "1",
        "0",
        "0",
    )
    [reply] = app.emulator.messages(to=CUSTOMER)
    assert reply["via"] == "reply"
    assert reply["messages"] == [
        {"type": "text", "text": "Here is your coupon, friend: SPRING24 (you typed COUPON)"}
    ]

    page.get_by_role("link", name="Run log").click()
    row = page.locator("#run-log tbody tr").first
    expect(row).to_contain_text(CUSTOMER)
    expect(row).to_contain_text("Replied (free)")
