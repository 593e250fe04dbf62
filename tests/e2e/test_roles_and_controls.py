"""What an Analyst cannot reach or do; pausing and resuming a send from the browser; a template
the editor refuses shows why next to the field and keeps what was typed."""

from __future__ import annotations

import json
import re
from collections import Counter

from playwright.sync_api import Page, expect

from tests.e2e.conftest import App
from tests.e2e.flows import LONG, ensure_connection, other_id, switch_to


def _new_campaign(page: Page, app: App, *, name: str, ids: list[str], messages: list) -> int:
    """As the logged-in Marketer: a draft to explicit LINE ids with inline messages."""
    page.goto(f"{app.url}/campaigns/new/")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Connection", exact=True).select_option(label="Emulator OA")
    page.get_by_label("Explicit LINE ids").check()
    page.get_by_label("LINE ids", exact=True).fill("\n".join(ids))
    page.get_by_label("Write messages here (JSON)").check()
    page.get_by_label("Messages (JSON array)").fill(json.dumps(messages))
    page.get_by_label("Send when I launch it").check()
    page.get_by_role("button", name="Save draft and review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Review “{name}”")
    return int(re.search(r"/campaigns/(\d+)/review/", page.url).group(1))


def _figure(page: Page, label: str) -> int:
    cell = page.locator("#progress .col").filter(has=page.get_by_text(label, exact=True))
    return int(cell.locator("dd").inner_text().replace(",", ""))


def test_an_analyst_sees_no_secret_and_cannot_launch(page: Page, app: App, console_errors):
    ensure_connection(page, app)
    switch_to(page, app, "marketer")
    campaign_id = _new_campaign(
        page,
        app,
        name="Analyst can look",
        ids=[other_id(n) for n in range(3)],
        messages=[{"type": "text", "text": "Hello"}],
    )

    switch_to(page, app, "analyst")
    secrets = (app.emulator.token, app.emulator.secret)
    api = page.request.get(f"{app.url}/api/v1/connections")
    assert api.ok, api.status
    by_name = {c["name"]: c for c in api.json()}
    assert "Emulator OA" in by_name  # other tests of the session may add their own
    assert not any(secret in api.text() for secret in secrets)
    one = f"/connections/{by_name['Emulator OA']['id']}"
    for path in ("/connections/", "/connections/add/", f"{one}/", f"{one}/edit/"):
        assert page.goto(app.url + path).status == 403, path
        expect(page.get_by_text("You don't have access to this page")).to_be_visible()
        assert not any(secret in page.content() for secret in secrets)

    page.goto(f"{app.url}/campaigns/")
    expect(page.get_by_role("link", name="Analyst can look")).to_be_visible()
    expect(page.get_by_role("link", name="New campaign")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Copy"))).to_have_count(0)
    for path in (
        f"/campaigns/{campaign_id}/",
        f"/campaigns/{campaign_id}/review/",
        f"/analytics/campaigns/{campaign_id}/",
        "/campaigns/templates/",
        "/analytics/",
    ):
        page.goto(app.url + path)
        html = page.content()
        assert not any(secret in html for secret in secrets), path
        for control in ("Launch now", "Pause", "Resume", "Send a test", "Edit", "Copy"):
            expect(page.get_by_role("button", name=control, exact=True)).to_have_count(0)
            expect(page.get_by_role("link", name=control, exact=True)).to_have_count(0)

    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for action in ("launch", "pause", "resume", "cancel", "test-send"):
        refused = page.request.post(
            f"{app.url}/campaigns/{campaign_id}/{action}/",
            headers={"X-CSRFToken": csrf, "Referer": f"{app.url}/campaigns/"},
            form={"line_id": other_id(0)},
        )
        assert refused.status == 403, (action, refused.status)
        assert "You don't have access" in refused.text(), refused.text()[:300]
    page.goto(f"{app.url}/campaigns/{campaign_id}/")
    expect(page.locator("#progress .badge")).to_have_text("Draft")
    assert not any(m["to"] == other_id(0) for m in app.emulator.messages())
    console_errors[:] = [e for e in console_errors if "status of 403" not in e]


def test_a_marketer_pauses_and_resumes_a_send(page: Page, app: App):
    ensure_connection(page, app)
    switch_to(page, app, "marketer")
    ids = [other_id(1000 + n) for n in range(150)]
    # A placeholder makes each message personal, so they go out one push at a time.
    _new_campaign(
        page,
        app,
        name="Slow and steady",
        ids=ids,
        messages=[{"type": "text", "text": 'Hello {{ first_name | default: "friend" }}'}],
    )
    expect(page.get_by_test_id("expected-recipients")).to_have_text("150")
    initial = app.emulator.configure()
    app.emulator.configure(latency_ms=300, push_rate=20)
    try:
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Launch now").click()
        status = page.locator("#progress .badge")
        expect(status).to_have_text("Sending", timeout=LONG)
        page.get_by_role("button", name="Pause").click()
        expect(status).to_have_text("Paused")
        expect(page.get_by_role("button", name="Resume")).to_be_visible()

        # Requests already in flight may land; after that nothing more goes out.
        page.wait_for_timeout(2_000)
        page.reload()
        settled = _figure(page, "Attempted")
        page.wait_for_timeout(3_000)
        page.reload()
        expect(status).to_have_text("Paused")
        assert _figure(page, "Attempted") == settled
        assert settled < len(ids), "the send finished before it could be paused"
        sent_while_paused = [m["to"] for m in app.emulator.messages() if m["to"] in set(ids)]
        assert len(sent_while_paused) == _figure(page, "Successfully sent")

        page.get_by_role("button", name="Resume").click()
        expect(status).to_have_text("Completed", timeout=LONG)
    finally:
        app.emulator.configure(latency_ms=initial["latency_ms"], push_rate=initial["push_rate"])
    assert _figure(page, "Successfully sent") == len(ids)
    assert _figure(page, "Failed") == 0
    received = Counter(m["to"] for m in app.emulator.messages() if m["to"] in set(ids))
    assert received == Counter(ids)  # every recipient, exactly once


def test_an_invalid_template_shows_the_error_next_to_the_field(page: Page, app: App):
    switch_to(page, app, "marketer")
    page.goto(f"{app.url}/campaigns/templates/new/")
    page.get_by_label("Name", exact=True).fill("Too long")
    too_long = "😀" * 2_501  # 5,002 UTF-16 code units: one emoji is two
    text = page.get_by_label("Text", exact=True)
    text.fill(too_long)
    page.get_by_role("button", name="Save template").click()
    text = page.get_by_label("Text", exact=True)
    expect(text).to_have_attribute("aria-invalid", "true")
    error = page.locator("div.mb-2", has=text).locator(".invalid-feedback")
    expect(error).to_contain_text("5000")
    expect(text).to_have_value(too_long)
    expect(page.get_by_label("Name", exact=True)).to_have_value("Too long")
    expect(page).to_have_title(re.compile("New template"))

    page.goto(f"{app.url}/campaigns/templates/new/")
    page.get_by_label("Name", exact=True).fill("Insecure image")
    page.get_by_label("Type").select_option(label="Image")
    url = page.get_by_label("Content URL (https)")
    url.fill("http://example.com/sale.jpg")
    page.get_by_label("Preview image URL (https)").fill("https://example.com/sale-small.jpg")
    page.get_by_role("button", name="Save template").click()
    url = page.get_by_label("Content URL (https)")
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(page.locator("div.mb-2", has=url).locator(".invalid-feedback")).to_contain_text(
        re.compile("https", re.IGNORECASE)
    )
    expect(url).to_have_value("http://example.com/sale.jpg")
    page.goto(f"{app.url}/campaigns/templates/")
    expect(page.get_by_role("link", name="Too long")).to_have_count(0)
    expect(page.get_by_role("link", name="Insecure image")).to_have_count(0)
