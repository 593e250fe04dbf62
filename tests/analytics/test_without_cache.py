"""The cache is an optimisation, never a dependency: with the cache server down, every page and
API read that uses it still answers, computing what it would have read."""

import socket

import pytest
from django.urls import reverse

from tests.analytics import factories


@pytest.fixture
def cache_down(settings) -> None:
    """A Redis cache at an address where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }


def _sending(conn):
    return factories.campaign(
        conn,
        status="sending",
        outcomes=[("sent", "", 200, "", 1, 30), ("pending", "", None, "", 0, 70)],
    )


def test_reports_of_a_sending_campaign_answer_while_the_cache_is_down(
    db, cache_down, analyst_client
):
    c = _sending(factories.connection())
    page = analyst_client.get(reverse("analytics_campaign_report", args=[c.pk]))
    assert page.status_code == 200
    assert "30 of 100 recipients done" in page.content.decode()
    progress = analyst_client.get(reverse("analytics_campaign_progress", args=[c.pk]), {"live": 1})
    assert progress.status_code == 200
    api = analyst_client.get(f"/api/v1/campaigns/{c.pk}/report")
    assert api.status_code == 200
    assert api.json()["sent"] == 30


def test_the_campaign_page_and_overview_answer_while_the_cache_is_down(
    db, cache_down, analyst_client
):
    c = _sending(factories.connection())
    assert analyst_client.get(reverse("campaign_detail", args=[c.pk])).status_code == 200
    assert analyst_client.get(reverse("analytics_overview")).status_code == 200
