from playwright.sync_api import expect

from tests.e2e.conftest import login


def test_admin_logs_in_and_sees_the_home_page(page, app):
    login(page, app, "admin")
    expect(page).to_have_title("Home · linecampaigns")
    expect(page.get_by_role("heading", name="Welcome, admin")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Campaigns", "Audience", "Templates", "Analytics", "Connections", "Settings"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()


def test_analyst_sees_no_admin_pages(page, app, console_errors):
    login(page, app, "analyst")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Connections")).to_have_count(0)
    response = page.goto(f"{app.url}/connections/")
    assert response.status == 403
    expect(page.get_by_text("You don't have access to this page")).to_be_visible()
    # The browser logs the 403 of the page itself; that one is the point of this test.
    console_errors[:] = [e for e in console_errors if "status of 403" not in e]


def test_wrong_password_shows_an_error(page, app):
    page.goto(f"{app.url}/accounts/login/")
    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")


def test_navigation_collapses_on_a_phone(page, app):
    page.set_viewport_size({"width": 375, "height": 740})
    login(page, app, "marketer")
    toggle = page.get_by_role("button", name="Toggle navigation")
    expect(toggle).to_be_visible()
    toggle.click()
    expect(page.get_by_role("link", name="Campaigns", exact=True)).to_be_visible()
