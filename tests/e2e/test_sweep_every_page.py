"""Every page, as an Admin on a 375 px wide phone: it answers 200 with the security headers, has
a title and a visible <h1>, does not scroll sideways, and logs no console error (a
Content-Security-Policy violation is one). One test collects every problem so a
run lists them all at once."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from tests.e2e.conftest import App
from tests.e2e.flows import ensure_connection, seed_one_of_each, switch_to

WIDTH = 375

TOP_LEVEL = (
    "/",
    "/campaigns/",
    "/campaigns/new/",
    "/campaigns/templates/",
    "/campaigns/templates/new/",
    "/campaigns/settings/frequency-cap/",
    "/journeys/",
    "/journeys/new/",
    "/audiences/contacts/",
    "/audiences/segments/",
    "/audiences/segments/new/",
    "/audiences/imports/",
    "/analytics/",
    "/connections/",
    "/connections/add/",
    "/settings/users/",
    "/settings/audit/",
    "/accounts/tokens/",
    "/accounts/profile/",
    "/accounts/password_change/",
)

# (list page, pattern of a detail link on it, pages derived from the detail's path)
DETAILS = (
    ("/connections/", r"^/connections/\d+/$", ("", "edit/", "delete/")),
    ("/audiences/contacts/", r"^/audiences/contacts/\d+/$", ("",)),
    ("/audiences/segments/", r"^/audiences/segments/\d+/$", ("",)),
    ("/audiences/imports/", r"^/audiences/imports/\d+/$", ("",)),
    ("/campaigns/templates/", r"^/campaigns/templates/\d+/$", ("",)),
    ("/campaigns/", r"^/campaigns/\d+/$", ("", "review/")),
    ("/analytics/", r"^/analytics/campaigns/\d+/$", ("", "deliveries/")),
    ("/journeys/", r"^/journeys/\d+/$", ("", "edit/", "runs/")),
)


# Visible form controls and buttons a screen reader could not name.
UNLABELLED_CONTROLS = """() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, textarea, button, a[href]')]
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .filter(e => {
        if (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')) return false;
        if (e.matches('button, a')) return !(e.textContent.trim() || e.querySelector('img[alt]'));
        return !((e.labels && e.labels.length) || e.getAttribute('title'));
    })
    .map(e => e.outerHTML.slice(0, 80))"""


def _first_link(page: Page, app: App, list_path: str, pattern: str) -> str | None:
    page.goto(app.url + list_path)
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    return next((h for h in hrefs if re.match(pattern, h)), None)


def _problems(page: Page, app: App, path: str, console_errors: list[str]) -> list[str]:
    seen = len(console_errors)
    response = page.goto(app.url + path)
    page.wait_for_timeout(300)  # htmx fragments loaded on "load"
    found = []
    if response is None or response.status != 200:
        found.append(f"answers {response and response.status}")
    headers = response.headers if response else {}
    for name in ("content-security-policy", "referrer-policy", "permissions-policy"):
        if name not in headers:
            found.append(f"has no {name} header")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > WIDTH + 1:
        wide = page.evaluate(
            """w => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > w + 1)
                .filter(e => !e.closest('.table-responsive')
                    || ['absolute', 'fixed'].includes(getComputedStyle(e).position))
                .slice(-3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                    + (typeof e.className === 'string' && e.className.trim()
                       ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
                    + ' "' + e.textContent.trim().slice(0, 30) + '"')""",
            WIDTH,
        )
        found.append(f"scrolls sideways: {width}px wide ({', '.join(wide)})")
    title = page.title()
    if not title.strip() or title.strip().startswith("·"):
        found.append(f"has no title ({title!r})")
    if not page.locator("h1").first.is_visible():
        found.append("has no visible <h1>")
    unlabelled = page.evaluate(UNLABELLED_CONTROLS)
    if unlabelled:
        found.append(f"has controls without an accessible name: {', '.join(unlabelled)}")
    found += [f"console: {e}" for e in console_errors[seen:]]
    return [f"{path} {p}" for p in found]


def test_every_page_works_at_375_px_without_console_errors(page: Page, app: App, console_errors):
    ensure_connection(page, app)
    seed_one_of_each(page, app)
    page.set_viewport_size({"width": WIDTH, "height": 800})

    paths = list(TOP_LEVEL)
    for list_path, pattern, suffixes in DETAILS:
        detail = _first_link(page, app, list_path, pattern)
        assert detail, f"no detail link on {list_path}"
        paths += [detail + suffix for suffix in suffixes]

    problems: list[str] = []
    for path in paths:
        problems += _problems(page, app, path, console_errors)
    console_errors.clear()  # each one is listed with its page below
    assert not problems, "\n".join(problems)


def test_the_top_navigation_fits_at_every_common_width(page: Page, app: App):
    """Between phone and wide desktop the Admin's full menu must not push the user menu out."""
    switch_to(page, app, "admin")
    for width in (768, 820, 1024, 1280, 1440):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(app.url + "/")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width + 1, f"at {width}px the page is {scroll}px wide"
        nav = page.get_by_role("navigation", name="Main")
        box = nav.bounding_box()
        inner = nav.evaluate("n => n.scrollWidth")
        assert box and inner <= box["width"] + 1, f"at {width}px the menu overflows ({inner}px)"
