"""The polish a user expects: times in their own time zone, a question before anything is
deleted, and lists that say why they are empty."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import _CREATE_USERS, PASSWORD, App
from tests.e2e.flows import ensure_connection, seed_one_of_each, switch_to, upload_csv


@pytest.mark.browser_context_args(timezone_id="Asia/Tokyo")
def test_times_are_shown_in_the_zone_a_user_first_logged_in_from(page: Page, app: App):
    ensure_connection(page, app)
    seed_one_of_each(page, app)
    app.manage(
        "shell",
        "-v",
        "0",
        "-c",
        _CREATE_USERS.format(users={"tokyo": "Analyst"}, password=PASSWORD),
    )
    switch_to(page, app, "tokyo")
    page.goto(f"{app.url}/accounts/profile/")
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
    page.goto(f"{app.url}/analytics/")
    report = page.locator("a[href^='/analytics/campaigns/']").first.get_attribute("href")
    campaign_id = int(re.search(r"/analytics/campaigns/(\d+)/", report).group(1))
    started = datetime.fromisoformat(
        page.request.get(f"{app.url}/api/v1/campaigns/{campaign_id}").json()["started_at"]
    )
    in_tokyo = started.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    page.goto(f"{app.url}/campaigns/{campaign_id}/")
    started_row = page.locator("dt", has_text="Started").locator("xpath=following-sibling::dd[1]")
    expect(started_row).to_have_text(in_tokyo.strftime("%Y-%m-%d %H:%M:%S JST"))


def test_deleting_a_segment_asks_first(page: Page, app: App):
    switch_to(page, app, "marketer")
    page.goto(f"{app.url}/audiences/segments/new/")
    page.get_by_label("Name", exact=True).fill("Throwaway")
    page.get_by_label("Field").fill("follow_status")
    page.get_by_label("Value").fill("following")
    page.get_by_role("button", name="Save segment").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Throwaway"))
    expect(row).to_have_count(1)

    prompts: list[str] = []

    def answer(accept: bool):
        def handle(dialog) -> None:
            prompts.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(False))
    row.get_by_role("button", name="Delete").click()
    page.wait_for_timeout(300)
    page.reload()
    expect(row).to_have_count(1)
    page.once("dialog", answer(True))
    row.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Deleted segment “Throwaway”.")).to_be_visible()
    expect(row).to_have_count(0)
    assert prompts == ["Delete segment “Throwaway”?"] * 2


def test_lists_say_why_they_are_empty(page: Page, app: App):
    switch_to(page, app, "marketer")
    page.goto(f"{app.url}/campaigns/")
    page.get_by_label("Search by name").fill("no campaign has this name")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".empty-state")).to_contain_text("No campaign matches these filters")
    page.goto(f"{app.url}/audiences/contacts/")
    page.get_by_label("Search", exact=True).fill("nobody-by-this-name")
    page.get_by_label("Search", exact=True).press("Enter")
    expect(page.locator(".empty-state")).to_contain_text("No contacts match")


@pytest.mark.browser_context_args(viewport={"width": 375, "height": 800})
def test_users_page_fits_a_phone_with_every_role_readable(page: Page, app: App):
    switch_to(page, app, "admin")
    page.goto(f"{app.url}/settings/users/")
    table = page.locator(".table-responsive").first
    assert table.evaluate("e => e.scrollWidth <= e.clientWidth"), "the table scrolls sideways"
    for name in ("admin", "marketer", "analyst"):
        select = page.get_by_label(f"Role of {name}")
        expect(select).to_be_visible()
        # The whole selected role shows, not just the arrow.
        assert select.evaluate(
            "s => { const c = document.createElement('canvas').getContext('2d');"
            " c.font = getComputedStyle(s).font;"
            " return s.clientWidth > c.measureText(s.selectedOptions[0].text).width + 20; }"
        ), f"the role of {name} is cut"
    rows = page.locator("tbody tr")
    for i in range(rows.count()):
        expect(rows.nth(i).get_by_text("Last login")).to_be_visible()


def test_the_line_id_column_is_not_offered_as_an_attribute(page: Page, app: App, tmp_path):
    csv = tmp_path / "people.csv"
    csv.write_text("member,plan\nU" + "c" * 32 + ",gold\n")
    switch_to(page, app, "marketer")
    upload_csv(page, app, csv)
    page.get_by_label("Column holding the LINE id").select_option("member")
    member, plan = (page.locator(f"[data-column='{c}']") for c in ("member", "plan"))
    expect(member).to_contain_text("LINE id column")
    expect(member.get_by_role("combobox")).to_be_hidden()
    expect(plan.get_by_role("combobox")).to_be_visible()

    page.get_by_label("Column holding the LINE id").select_option("plan")
    expect(plan).to_contain_text("LINE id column")
    expect(plan.get_by_role("combobox")).to_be_hidden()
    expect(member.get_by_role("combobox")).to_be_visible()


@pytest.mark.browser_context_args(viewport={"width": 1280, "height": 900})
def test_segment_remove_buttons_fit_their_rows(page: Page, app: App):
    switch_to(page, app, "marketer")
    page.goto(f"{app.url}/audiences/segments/new/")
    page.get_by_role("button", name="Add a group (any of…)").click()
    buttons = page.get_by_role("button", name=re.compile(r"^Remove condition"))
    expect(buttons).to_have_count(3)  # the first condition and the group's two
    for button in buttons.all():
        assert button.evaluate(
            "b => b.scrollWidth <= b.clientWidth"
            " && b.getBoundingClientRect().right <= b.closest('.row').getBoundingClientRect().right"
        ), "the Remove button overflows"
