"""Cancelling a send from the browser: the page shows the final split at once (sent, failed,
not sent), never "pending" or a share done, and settles by itself what was in flight."""

from __future__ import annotations

from collections import Counter

from playwright.sync_api import Page, expect

from tests.e2e.conftest import App
from tests.e2e.flows import CONNECTION_NAME, LONG, ensure_connection, other_id, switch_to
from tests.e2e.test_roles_and_controls import _figure, _new_campaign


def _push_rate(app: App, rate: int) -> None:
    app.manage(
        "shell",
        "-c",
        "from connections.models import Connection; "
        f"Connection.objects.filter(name='{CONNECTION_NAME}').update(push_rate_limit={rate})",
    )


def test_a_cancelled_send_shows_its_final_split_at_once(page: Page, app: App):
    ensure_connection(page, app)
    switch_to(page, app, "marketer")
    ids = [other_id(2000 + n) for n in range(150)]
    _new_campaign(
        page,
        app,
        name="Stopped early",
        ids=ids,
        messages=[{"type": "text", "text": 'Hello {{ first_name | default: "friend" }}'}],
    )
    initial = app.emulator.configure()
    # Slow, but paced by our own limiter: the emulator's 429s would make the rows it refused
    # attempted (Failed), and the point here is the rows the cancel leaves untried.
    app.emulator.configure(latency_ms=300)
    _push_rate(app, 20)
    try:
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Launch now").click()
        status = page.locator("#progress .badge")
        expect(status).to_have_text("Sending", timeout=LONG)
        # Cancel once the recipients are chosen (a cancel before the snapshot has none).
        recipients = page.locator("#progress .col").filter(
            has=page.get_by_text("Recipients", exact=True)
        )
        expect(recipients.locator("dd")).to_have_text(str(len(ids)), timeout=LONG)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Cancel campaign").click()
        expect(status).to_have_text("Cancelled")

        progress = page.locator("#progress")
        expect(progress).not_to_contain_text("pending")
        expect(page.get_by_role("progressbar")).to_have_count(0)
        not_sent = progress.locator(".col").filter(
            has=page.get_by_text("Not sent (cancelled)", exact=True)
        )
        expect(not_sent.locator("dd")).not_to_have_text("0")
        # Requests in flight at the cancel settle on the page by themselves (htmx), no reload.
        expect(page.get_by_test_id("in-flight")).to_have_count(0, timeout=LONG)
    finally:
        app.emulator.configure(latency_ms=initial["latency_ms"])
        _push_rate(app, 2000)
    sent, failed = _figure(page, "Successfully sent"), _figure(page, "Failed")
    assert sent + failed + _figure(page, "Not sent (cancelled)") == len(ids)
    assert _figure(page, "Attempted") == sent + failed
    assert _figure(page, "Skipped") == 0
    received = Counter(m["to"] for m in app.emulator.messages() if m["to"] in set(ids))
    assert sum(received.values()) == sent and set(received.values()) <= {1}
