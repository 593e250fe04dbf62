"""Steps the browser tests share: switching users, and the set-up a marketer clicks through."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import App, login

CONNECTION_NAME = "Emulator OA"
LONG = 60_000  # ms: a worker picking up a job, a campaign finishing


def follower_id(n: int) -> str:
    """The emulator's n-th seeded follower (lineapi/emulator/state.py `seeded_id`)."""
    return "U" + hashlib.md5(f"emulator-follower-{n}".encode()).hexdigest()


def other_id(n: int) -> str:
    """A well-formed LINE user id that is not one of the emulator's followers."""
    return "U" + hashlib.md5(f"e2e-contact-{n}".encode()).hexdigest()


def switch_to(page: Page, app: App, username: str) -> None:
    page.context.clear_cookies()
    login(page, app, username)


def ensure_connection(page: Page, app: App) -> str:
    """As Admin, add the emulator connection unless it is listed already. Leaves Admin logged in."""
    switch_to(page, app, "admin")
    page.goto(f"{app.url}/connections/")
    if page.get_by_role("link", name=CONNECTION_NAME, exact=True).count() == 0:
        add_connection(page, app)
    return CONNECTION_NAME


def add_connection(page: Page, app: App, name: str = CONNECTION_NAME) -> None:
    page.goto(f"{app.url}/connections/")
    page.get_by_role("link", name="Add connection").first.click()
    expect(page).to_have_title(re.compile("^Add connection"))
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Channel access token").fill(app.emulator.token)
    page.get_by_label("Channel secret").fill(app.emulator.secret)
    page.get_by_text("Advanced").click()
    page.get_by_label("API base URL").fill(app.emulator.base_url)
    page.get_by_role("button", name="Verify and save").click()
    anyway = page.get_by_label("Add it anyway, as a second connection to this channel")
    heading = page.get_by_role("heading", level=1)
    saved = page.get_by_role("heading", level=1, name=re.compile(re.escape(name)))
    expect(saved.or_(anyway)).to_be_visible()
    if anyway.is_visible():  # an earlier test connected this emulator already: say yes
        page.get_by_label("Channel access token").fill(app.emulator.token)
        page.get_by_label("Channel secret").fill(app.emulator.secret)
        anyway.check()
        page.get_by_role("button", name="Verify and save").click()
    expect(heading).to_contain_text(name)


def upload_csv(page: Page, app: App, path: Path) -> None:
    """Upload a CSV on the Imports tab; lands on the column-mapping page."""
    page.goto(f"{app.url}/audiences/imports/")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_label("Column holding the LINE id")).to_be_visible()


def run_import(page: Page, *, line_id: str, types: dict[str, str]) -> None:
    """Choose the LINE id column and each attribute's type, import, wait for the end."""
    page.get_by_label("Column holding the LINE id").select_option(line_id)
    for column, kind in types.items():
        page.get_by_label(column, exact=True).select_option(label=kind)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-progress")).to_contain_text("Completed", timeout=LONG)


def import_figure(page: Page, label: str) -> str:
    """The number above `label` ("created", "rejected"…) in the import summary."""
    cell = page.locator("#import-progress .col").filter(has=page.get_by_text(label, exact=True))
    return cell.locator(".display-6").inner_text().strip()


def _has_link(page: Page, app: App, list_path: str, pattern: str) -> bool:
    page.goto(app.url + list_path)
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    return any(re.match(pattern, h) for h in hrefs)


def seed_one_of_each(page: Page, app: App) -> None:
    """When a test runs alone: one import, segment, template, completed campaign and journey,
    through the UI as the Marketer. Skips whatever exists already. Leaves the Admin logged in."""
    switch_to(page, app, "marketer")
    if not _has_link(page, app, "/audiences/imports/", r"^/audiences/imports/\d+/$"):
        path = app.var_dir / "seed.csv"
        path.write_text(f"line_id,city\n{follower_id(100)},Kyoto\n{follower_id(101)},Kyoto\n")
        upload_csv(page, app, path)
        run_import(page, line_id="line_id", types={})
    if not _has_link(page, app, "/audiences/segments/", r"^/audiences/segments/\d+/$"):
        page.goto(f"{app.url}/audiences/segments/new/")
        page.get_by_label("Name", exact=True).fill("Kyoto")
        page.get_by_label("Field").fill("attributes.city")
        page.get_by_label("Value").fill("Kyoto")
        page.get_by_role("button", name="Save segment").click()
        expect(page.get_by_text("Segment “Kyoto” saved.")).to_be_visible()
    if not _has_link(page, app, "/campaigns/templates/", r"^/campaigns/templates/\d+/$"):
        page.goto(f"{app.url}/campaigns/templates/new/")
        page.get_by_label("Name", exact=True).fill("Hello")
        page.get_by_label("Text", exact=True).fill("Hello!")
        page.get_by_role("button", name="Save template").click()
        expect(page.get_by_text("Template “Hello” saved.")).to_be_visible()
    if not _has_link(page, app, "/campaigns/?status=completed", r"^/campaigns/\d+/$"):
        page.goto(f"{app.url}/campaigns/new/")
        page.get_by_label("Name", exact=True).fill("Seeded")
        page.get_by_label("Connection", exact=True).select_option(label=CONNECTION_NAME)
        page.get_by_label("Explicit LINE ids").check()
        page.get_by_label("LINE ids", exact=True).fill(follower_id(100))
        page.get_by_label("A saved template").check()
        page.get_by_label("Template", exact=True).select_option(index=1)
        page.get_by_label("Send when I launch it").check()
        page.get_by_role("button", name="Save draft and review").click()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Launch now").click()
        expect(page.locator("#progress .badge")).to_have_text("Completed", timeout=LONG)
    if not _has_link(page, app, "/journeys/", r"^/journeys/\d+/$"):
        page.goto(f"{app.url}/journeys/new/")
        page.get_by_label("Name", exact=True).fill("Seeded journey")
        page.get_by_label("Connection", exact=True).select_option(label=CONNECTION_NAME)
        page.get_by_label("The bot joins a group or room").check()
        page.get_by_label("Text", exact=True).fill("Hello, group!")
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_text("saved as a draft")).to_be_visible()
    switch_to(page, app, "admin")
