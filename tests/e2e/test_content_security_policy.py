"""The main pages run under the Content-Security-Policy without one violation: no inline script
or style, no eval (htmx, Chart.js, Bootstrap and our own scripts included), and the progress bars
that used style="" get their width from app.js instead."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from tests.e2e.conftest import App
from tests.e2e.flows import ensure_connection, seed_one_of_each

# Records every violation the browser reports, from before the page's first script runs.
PROBE = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
));
"""


def _violations(page: Page, app: App, path: str) -> list[str]:
    page.goto(app.url + path)
    page.wait_for_timeout(500)  # htmx fragments, charts
    return [f"{path}: {v}" for v in page.evaluate("window.__csp")]


def _link(page: Page, app: App, list_path: str, pattern: str) -> str:
    page.goto(app.url + list_path)
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    return next(h for h in hrefs if re.match(pattern, h))


def test_the_main_pages_report_no_policy_violation(page: Page, app: App, console_errors):
    ensure_connection(page, app)
    seed_one_of_each(page, app)
    page.add_init_script(PROBE)

    # The probe works: an inline style added now is refused and reported.
    page.goto(app.url + "/")
    page.evaluate("document.body.setAttribute('style', 'outline: 1px solid red')")
    page.wait_for_timeout(100)
    assert any(v.startswith("style-src-attr") for v in page.evaluate("window.__csp"))
    console_errors.clear()  # the browser logs that refusal as an error, on purpose here

    report = _link(page, app, "/analytics/", r"^/analytics/campaigns/\d+/$")
    campaign = "/campaigns/" + report.split("/")[-2] + "/"
    paths = [
        "/",
        "/analytics/",
        report,
        campaign,
        "/campaigns/",
        "/campaigns/new/",
        "/campaigns/templates/new/",
        "/audiences/segments/new/",
        "/journeys/new/",
        _link(page, app, "/journeys/", r"^/journeys/\d+/$"),
        _link(page, app, "/audiences/imports/", r"^/audiences/imports/\d+/$"),
        _link(page, app, "/connections/", r"^/connections/\d+/$"),
        "/settings/users/",
        "/api/v1/docs",  # Swagger UI, served by django-ninja from its own static files
    ]
    violations = [v for path in paths for v in _violations(page, app, path)]
    assert not violations, "\n".join(violations)

    # A completed campaign's bar is full: its width came from data-width through app.js. (A
    # cancelled one, which other tests of the session leave, shows no bar.)
    page.goto(app.url + _link(page, app, "/campaigns/?status=completed", r"^/campaigns/\d+/$"))
    bar = page.locator("#progress .progress-bar").first
    full = bar.evaluate("b => b.getBoundingClientRect().width / b.parentElement.clientWidth")
    assert full > 0.99
