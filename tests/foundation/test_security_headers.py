"""Every response carries a Content-Security-Policy that allows scripts and styles from this
site only, a Referrer-Policy and a Permissions-Policy; and no template needs more than that."""

import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parents[2]


def _paths(patterns, prefix: str = "") -> list[str]:
    """Every URL of the project that takes no argument."""
    found = []
    for entry in patterns:
        route = str(entry.pattern)
        if "<" in route or "(?P" in route:
            continue
        route = route.lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            found += _paths(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            found.append("/" + prefix + route)
    return sorted({p for p in found if "\\" not in p})


# /healthz is answered before any middleware (probes ignore ALLOWED_HOSTS), as JSON for machines.
PATHS = [p for p in _paths(get_resolver().url_patterns) if p != "/healthz"]


def _policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split(" ", 1)[1] for d in (p.strip() for p in header.split(";")) if d}


def _assert_headers(response) -> None:
    policy = _policy(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]


def test_the_url_walk_finds_the_pages() -> None:
    assert {"/", "/campaigns/", "/connections/", "/accounts/login/", "/api/v1/docs"} <= set(PATHS)


@pytest.mark.parametrize("path", PATHS)
def test_every_page_has_the_security_headers(admin_client, path) -> None:
    response = admin_client.get(path)
    assert response.status_code < 500, path
    _assert_headers(response)


@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/no-such-page/"])
def test_anonymous_answers_have_them_too(client, path) -> None:
    _assert_headers(client.get(path))


def test_images_may_come_from_line_and_the_allowed_emulators(client, settings) -> None:
    policy = _policy(client.get("/accounts/login/"))
    assert policy["img-src"].split() == [
        "'self'",
        "data:",
        "https:",
        *settings.LINE_API_BASE_URL_ALLOWLIST,
    ]


TEMPLATES = sorted(ROOT.glob("templates/**/*.html")) + sorted(ROOT.glob("*/templates/**/*.html"))
# What the policy refuses: inline script, inline event handlers, style attributes and <style>
# blocks, javascript: URLs, htmx's inline handlers and its trigger filters (run through eval).
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")"
    r"|\son[a-z]+=|\sstyle=|<style|javascript:|hx-on|hx-trigger=\"[^\"]*\["
)


def test_no_template_has_inline_script_or_style() -> None:
    assert len(TEMPLATES) > 50
    found = [
        f"{path.relative_to(ROOT)}: {match.group()}"
        for path in TEMPLATES
        for match in INLINE.finditer(path.read_text())
    ]
    assert not found, "\n".join(found)
