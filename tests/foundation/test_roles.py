import re

import pytest

PAGES = [
    "/",
    "/campaigns/",
    "/campaigns/templates/",
    "/audiences/contacts/",
    "/analytics/",
    "/connections/",
    "/settings/users/",
    "/settings/audit/",
]
ADMIN_ONLY = {"/connections/", "/settings/users/", "/settings/audit/"}


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitor_is_sent_to_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={path}")


@pytest.mark.parametrize("path", PAGES)
def test_admin_opens_every_page(admin_client, path):
    assert admin_client.get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_marketer_is_refused_admin_pages_only(marketer_client, path):
    expected = 403 if path in ADMIN_ONLY else 200
    assert marketer_client.get(path).status_code == expected


@pytest.mark.parametrize("path", PAGES)
def test_analyst_is_refused_admin_pages_only(analyst_client, path):
    expected = 403 if path in ADMIN_ONLY else 200
    assert analyst_client.get(path).status_code == expected


def test_user_without_a_role_sees_only_home(client, django_user_model):
    user = django_user_model.objects.create_user(username="norole", password="x")
    client.force_login(user)
    assert client.get("/").status_code == 200
    assert client.get("/campaigns/").status_code == 403


def test_navigation_shows_only_what_the_role_may_open(analyst_client, admin_client):
    analyst_page = analyst_client.get("/").content.decode()
    assert 'href="/campaigns/"' in analyst_page
    assert 'href="/connections/"' not in analyst_page
    assert 'href="/settings/users/"' not in analyst_page
    admin_page = admin_client.get("/").content.decode()
    assert 'href="/connections/"' in admin_page
    assert 'href="/settings/users/"' in admin_page


def test_login_page_and_healthz_need_no_login(client, db):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)


def _active_nav_links(html: str) -> list[str]:
    main_nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'class="nav-link active"\s+aria-current="page"\s+href="([^"]+)"', main_nav)


def test_navigation_marks_only_the_current_section(marketer_client):
    templates = marketer_client.get("/campaigns/templates/").content.decode()
    assert _active_nav_links(templates) == ["/campaigns/templates/"]
    segments = marketer_client.get("/audiences/segments/").content.decode()
    assert _active_nav_links(segments) == ["/audiences/contacts/"]


CREATION_PAGES = ["/campaigns/new/", "/campaigns/templates/new/", "/audiences/segments/new/"]


@pytest.mark.parametrize("path", CREATION_PAGES)
def test_only_writers_open_the_pages_that_create_things(analyst_client, marketer_client, path):
    assert analyst_client.get(path).status_code == 403
    assert marketer_client.get(path).status_code == 200
