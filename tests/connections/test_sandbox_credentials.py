"""A Sandbox connection's page shows the emulator's token and secret masked, with a Reveal for
Admins that is audited; a real channel's credentials are never shown in clear."""

from urllib.parse import quote

from django.urls import reverse

from connections.models import Connection
from kit.models import AuditEntry


def test_the_sandbox_page_shows_credentials_masked_until_revealed(
    connection: Connection, admin_client, emulator
) -> None:
    assert connection.is_sandbox
    page = admin_client.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    assert connection.masked_token in page and connection.masked_secret in page
    assert emulator.token not in page and emulator.secret not in page
    assert reverse("connection_reveal", args=[connection.pk]) in page

    revealed = admin_client.post(reverse("connection_reveal", args=[connection.pk]))
    assert revealed.status_code == 200
    assert revealed["Cache-Control"] == "no-store"
    body = revealed.content.decode()
    assert f'data-testid="sandbox-token">{emulator.token}<' in body
    assert f'data-testid="sandbox-secret">{emulator.secret}<' in body
    entry = AuditEntry.objects.get(action="connection.reveal_credentials")
    assert entry.target_id == str(connection.pk) and entry.actor_name == "alice-admin"
    assert emulator.token not in str(entry.details) and emulator.secret not in str(entry.details)


def test_htmx_gets_the_credentials_card_alone(connection: Connection, admin_client, emulator):
    response = admin_client.post(
        reverse("connection_reveal", args=[connection.pk]), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="card mb-3" id="sandbox-credentials">')
    assert emulator.token in body and "<html" not in body


def test_a_real_channels_credentials_are_never_revealed(
    connection: Connection, admin_client, emulator
) -> None:
    Connection.objects.filter(pk=connection.pk).update(is_sandbox=False)
    page = admin_client.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    assert reverse("connection_reveal", args=[connection.pk]) not in page
    response = admin_client.post(reverse("connection_reveal", args=[connection.pk]))
    assert response.status_code == 404
    assert emulator.token not in response.content.decode()
    assert not AuditEntry.objects.filter(action="connection.reveal_credentials").exists()


def test_only_admins_may_reveal(connection: Connection, marketer_client, emulator) -> None:
    response = marketer_client.post(reverse("connection_reveal", args=[connection.pk]))
    assert response.status_code in (302, 403)
    assert emulator.token not in response.content.decode()


def test_reveal_takes_a_post_only(connection: Connection, admin_client) -> None:
    assert admin_client.get(reverse("connection_reveal", args=[connection.pk])).status_code == 405


def test_the_sandbox_page_links_to_the_emulators_webhook_form_with_its_webhook_url(
    connection: Connection, admin_client
) -> None:
    page = admin_client.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    hook = f"http://testserver/webhooks/line/{connection.webhook_slug}/"
    assert f"{connection.api_base_url}/_emulator/?hook={quote(hook, safe='')}" in page
