from django.core.cache import cache

from linecampaigns.celery import app as celery_app
from linecampaigns.health import HEARTBEAT_KEY, heartbeat_record


def test_healthz_is_ok_when_database_broker_and_worker_are_up(client, db):
    heartbeat_record()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "worker": "ok"}


def test_healthz_names_a_missing_worker(client, db):
    cache.delete(HEARTBEAT_KEY)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["worker"].startswith("down")


def test_healthz_names_an_unreachable_broker(client, db, monkeypatch):
    heartbeat_record()
    # broker_write_url first: read after broker_url is patched it would return the patched URL.
    for setting in ("broker_write_url", "broker_url"):
        monkeypatch.setattr(celery_app.conf, setting, "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("down")
    assert response.json()["worker"] == "ok"


def test_heartbeat_task_records_a_heartbeat(db):
    from linecampaigns.tasks import heartbeat

    cache.delete(HEARTBEAT_KEY)
    heartbeat.apply()
    assert cache.get(HEARTBEAT_KEY) is not None


def test_a_container_probe_gets_the_health_whatever_the_allowed_hosts(client, db, settings):
    """docker-compose's healthcheck calls http://127.0.0.1:8000/healthz inside the container,
    where ALLOWED_HOSTS names the public host and HTTPS redirects are on."""
    settings.ALLOWED_HOSTS = ["example.com"]
    settings.SECURE_SSL_REDIRECT = True
    heartbeat_record()
    probe = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert probe.status_code == 200
    assert probe.json() == {"database": "ok", "broker": "ok", "worker": "ok"}
    assert client.get("/accounts/login/", HTTP_HOST="127.0.0.1:8000").status_code == 400
