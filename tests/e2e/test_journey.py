"""The marketer's journey of issue #7, clicked through in one browser session, end to end:
connection → import → segment → template → campaign (review, test, launch) → report → CSV."""

from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import App
from tests.e2e.flows import (
    LONG,
    add_connection,
    follower_id,
    import_figure,
    run_import,
    switch_to,
    upload_csv,
)

CITIES = ("Tokyo", "Osaka", "Nagoya")
PLANS = ("gold", "silver", "free")
GOOD_ROWS = 30
TEXT = 'Hi {{ first_name | default: "there" }}, spring sale in {{ city }} starts today!'


def _people() -> list[dict]:
    people = []
    for n in range(GOOD_ROWS):
        people.append(
            {
                "line_id": follower_id(n),
                # Every fifth contact has no first name: the template's default applies.
                "first_name": "" if n % 5 == 4 else f"Name{n}",
                "city": CITIES[n % 3],
                "plan": PLANS[(n // 3) % 3],
                "age": str(20 + n),
            }
        )
    return people


def _csv_text(people: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line_id", "first_name", "city", "plan", "age"])
    for p in people[:10]:
        writer.writerow(p.values())
    writer.writerow(["not-a-line-id", "Bad", "Tokyo", "gold", "40"])  # invalid LINE id
    writer.writerow([follower_id(999), "Ragged"])  # too few fields
    for p in people[10:]:
        writer.writerow(p.values())
    return out.getvalue()


def _figure(page: Page, figure_id: str) -> int:
    return int(page.locator(f"#{figure_id}").inner_text().replace(",", ""))


def test_a_marketer_runs_a_campaign_from_import_to_report(page: Page, app: App, tmp_path):
    people = _people()
    # Segment: Tokyo contacts on the gold or silver plan.
    audience = [p for p in people if p["city"] == "Tokyo" and p["plan"] in ("gold", "silver")]
    audience_ids = {p["line_id"] for p in audience}
    assert 0 < len(audience) < GOOD_ROWS

    # --- Admin adds a connection to the emulator ---------------------------------------------
    switch_to(page, app, "admin")
    # Its own connection (other tests may have connected this emulator as "Emulator OA").
    add_connection(page, app, name="Journey OA")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Active")
    expect(page.get_by_text("LINE Emulator", exact=True)).to_be_visible()
    expect(page.get_by_label("Webhook URL")).to_have_value(re.compile(r"^https?://.+/webhooks/"))
    expect(page.locator("code", has_text="••••" + app.emulator.token[-4:]).first).to_be_visible()
    assert app.emulator.token not in page.content()
    assert app.emulator.secret not in page.content()

    # --- Marketer imports a CSV --------------------------------------------------------------
    switch_to(page, app, "marketer")
    path = tmp_path / "spring-customers.csv"
    path.write_text(_csv_text(people), encoding="utf-8")
    upload_csv(page, app, path)
    expect(page.get_by_role("cell", name=people[0]["line_id"][:20])).to_be_visible()  # preview
    run_import(page, line_id="line_id", types={"age": "Number"})
    assert import_figure(page, "created") == str(GOOD_ROWS)
    assert import_figure(page, "rejected") == "2"
    report_link = page.get_by_role("link", name=re.compile("Download the error report"))
    expect(report_link).to_be_visible()
    report = page.request.get(app.url + report_link.get_attribute("href"))
    assert report.ok
    assert "not-a-line-id" in report.text()

    # --- ... builds a segment and watches the live count -------------------------------------
    page.goto(f"{app.url}/audiences/segments/new/")
    preview = page.locator("#segment-preview")
    expect(preview).to_contain_text("matching contacts")
    page.get_by_label("Name", exact=True).fill("Tokyo paying")
    expect(page.get_by_label("Field")).to_have_count(1)  # a new segment starts with one row
    page.get_by_label("Field").fill("attributes.city")
    page.get_by_label("Operator").select_option(label="equals")
    page.get_by_label("Value").press_sequentially("Tokyo")
    tokyo = sum(p["city"] == "Tokyo" for p in people)
    expect(preview.locator(".display-6").first).to_have_text(str(tokyo))
    page.get_by_role("button", name="Add a condition", exact=True).click()
    expect(page.get_by_label("Field")).to_have_count(2)
    expect(page.get_by_label("Field").first).to_have_value("attributes.city")
    page.get_by_label("Field").nth(1).fill("attributes.plan")
    page.get_by_label("Operator").nth(1).select_option(label="is one of")
    page.get_by_label("Value").nth(1).press_sequentially("gold, silver")
    expect(preview.locator(".display-6").first).to_have_text(str(len(audience)))
    expect(preview.locator(".list-group-item")).to_have_count(len(audience))
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_text("Segment “Tokyo paying” saved.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Tokyo paying")
    expect(row.get_by_role("cell").nth(1)).to_have_text(str(len(audience)))  # Contacts

    # --- ... creates a template and checks the personalized preview --------------------------
    page.goto(f"{app.url}/campaigns/templates/new/")
    page.get_by_label("Name", exact=True).fill("Spring sale")
    page.get_by_label("Text", exact=True).fill(TEXT)
    named = next(p for p in audience if p["first_name"])
    page.get_by_label("Preview as").select_option(named["line_id"])
    bubble = page.locator("#preview .line-bubble")
    expect(bubble).to_have_text(f"Hi {named['first_name']}, spring sale in Tokyo starts today!")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_text("Template “Spring sale” saved.")).to_be_visible()
    expect(page.get_by_label("Text", exact=True)).to_have_value(TEXT)

    # --- ... creates a campaign through the wizard and reviews it -----------------------------
    page.goto(f"{app.url}/campaigns/")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name", exact=True).fill("Spring sale Tokyo")
    page.get_by_label("Connection", exact=True).select_option(label="Journey OA")
    page.get_by_label("A segment").check()
    page.get_by_label("Segment", exact=True).select_option(label="Tokyo paying")
    page.get_by_label("A saved template").check()
    page.get_by_label("Template", exact=True).select_option(label="Spring sale")
    page.get_by_label("Send when I launch it").check()
    page.get_by_role("button", name="Save draft and review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review “Spring sale Tokyo”")
    expect(page.get_by_test_id("expected-recipients")).to_have_text(str(len(audience)))
    expect(page.get_by_text("Nobody is skipped.")).to_be_visible()
    campaign_id = int(re.search(r"/campaigns/(\d+)/review/", page.url).group(1))

    # --- ... sends a test: the emulator gets it, the campaign does not count it ---------------
    tester = next(p["line_id"] for p in audience if p is not named)
    before = len(app.emulator.messages(to=tester))
    page.get_by_label("Send a test to (LINE id)").fill(tester)
    page.get_by_role("button", name="Send a test").click()
    expect(page.get_by_role("status").filter(has_text="Test sent to")).to_be_visible()
    assert len(app.emulator.messages(to=tester)) == before + 1
    page.goto(f"{app.url}/campaigns/{campaign_id}/")
    for label in ("Attempted", "Successfully sent", "Failed"):
        figure = page.locator("#progress .col").filter(has=page.get_by_text(label, exact=True))
        expect(figure.locator("dd")).to_have_text("0")

    # --- ... launches with a confirmation and watches it complete ----------------------------
    page.goto(f"{app.url}/campaigns/{campaign_id}/review/")
    prompts: list[str] = []

    def accept(dialog) -> None:
        prompts.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Launch now").click()
    expect(page.get_by_text("Campaign launched.")).to_be_visible()
    assert prompts == [f"Send “Spring sale Tokyo” to {len(audience)} recipients?"]
    expect(page.locator("#progress .badge")).to_have_text("Completed", timeout=LONG)
    expect(page.get_by_role("progressbar", name="Share of recipients done")).to_have_attribute(
        "aria-valuenow", "100"
    )

    # --- ... opens the report: its figures are the emulator's ledger -------------------------
    ledger = [m for m in app.emulator.messages() if m["to"] in audience_ids]
    received = [m["to"] for m in ledger]
    received.remove(tester)  # the test send
    assert sorted(received) == sorted(audience_ids)  # everyone exactly once
    page.get_by_role("link", name="Report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Spring sale Tokyo")
    assert _figure(page, "figure-attempted") == len(received)
    assert _figure(page, "figure-sent") == len(received)
    assert _figure(page, "figure-failed") == 0
    assert _figure(page, "figure-skipped") == 0
    expect(page.get_by_role("alert").filter(has_text="disagree")).to_have_count(0)

    page.get_by_role("link", name="Delivery log").click()
    rows = page.locator("#delivery-log tbody tr")
    expect(rows).to_have_count(len(received))
    expect(rows.filter(has_text="Sent")).to_have_count(len(received))

    # --- ... exports the CSV ----------------------------------------------------------------
    page.go_back()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text("utf-8-sig"))))
    assert len(exported) == _figure(page, "figure-attempted")
    assert {r["line_id"] for r in exported if r["status"] == "sent"} == set(received)

    # --- The emulator's chat view shows the personalized text --------------------------------
    page.goto(f"{app.emulator.base_url}/_emulator/?to={named['line_id']}")
    expect(page.get_by_text(f"Hi {named['first_name']}, spring sale in Tokyo")).to_have_count(1)
    nameless = next((p for p in audience if not p["first_name"]), None)
    if nameless:
        page.goto(f"{app.emulator.base_url}/_emulator/?to={nameless['line_id']}")
        expect(page.get_by_text("Hi there, spring sale in Tokyo")).to_have_count(1)
