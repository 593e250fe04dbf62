import pytest

from campaigns.models import Campaign
from connections.models import Connection
from kit.models import AuditEntry

PAGES = ["", "add/", "{pk}/", "{pk}/edit/", "{pk}/delete/", "{pk}/backfill/progress/"]
ACTIONS = ["{pk}/check/", "{pk}/quota/", "{pk}/backfill/", "{pk}/delete/"]


@pytest.mark.parametrize("who", ["marketer_client", "analyst_client"])
def test_only_admins_open_connection_pages_and_actions(who, request, connection) -> None:
    client = request.getfixturevalue(who)
    for path in PAGES:
        assert client.get("/connections/" + path.format(pk=connection.pk)).status_code == 403
    for path in ACTIONS:
        assert client.post("/connections/" + path.format(pk=connection.pk)).status_code == 403
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_the_list_has_a_helpful_empty_state(admin_client) -> None:
    empty = admin_client.get("/connections/").content.decode()
    assert 'class="empty-state"' in empty
    assert "Add connection" in empty


def test_the_list_shows_each_connection(admin_client, connection, emulator) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        quota_type="limited", quota_limit=1000, quota_used=250
    )
    page = admin_client.get("/connections/").content.decode()
    assert "Main OA" in page
    assert "Active" in page
    assert "LINE Emulator" in page
    assert "250 of 1000 used · 750 left" in page


def test_the_detail_page_has_the_webhook_url_to_copy_and_the_sandbox_link(
    admin_client, connection
) -> None:
    page = admin_client.get(f"/connections/{connection.pk}/").content.decode()
    assert f'value="http://testserver/webhooks/line/{connection.webhook_slug}/"' in page
    assert 'data-copy="#webhook-url"' in page
    assert f'href="{connection.api_base_url}/_emulator/"' in page
    assert "Check again" in page


def test_an_invalid_connection_shows_its_last_error(admin_client, connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status="invalid", last_error="LINE rejected the channel access token (401: nope)"
    )
    page = admin_client.get("/connections/").content.decode()
    assert "Invalid" in page
    assert "LINE rejected the channel access token (401: nope)" in page


def _campaign(connection: Connection, status: str) -> Campaign:
    return Campaign.objects.create(name=f"{status} campaign", connection=connection, status=status)


def test_delete_is_refused_while_a_campaign_is_sending(admin_client, connection) -> None:
    _campaign(connection, Campaign.Status.SENDING)
    confirm = admin_client.get(f"/connections/{connection.pk}/delete/").content.decode()
    assert "is sending" in confirm
    response = admin_client.post(f"/connections/{connection.pk}/delete/", follow=True)
    assert "while 1 campaign using it is sending" in response.content.decode()
    assert Connection.objects.filter(pk=connection.pk).exists()


@pytest.mark.parametrize("status", [Campaign.Status.PAUSED, Campaign.Status.SCHEDULED])
def test_delete_is_refused_while_a_campaign_would_still_send_through_it(
    admin_client, connection, status
) -> None:
    _campaign(connection, status)
    confirm = admin_client.get(f"/connections/{connection.pk}/delete/").content.decode()
    assert "paused or scheduled and would send through it later" in confirm
    assert "Delete connection</button>" not in confirm
    response = admin_client.post(f"/connections/{connection.pk}/delete/", follow=True)
    assert "is paused or scheduled and would send through it later" in response.content.decode()
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_delete_keeps_finished_campaigns_history_without_the_secrets(
    admin_client, connection
) -> None:
    done = _campaign(connection, Campaign.Status.COMPLETED)
    _campaign(connection, Campaign.Status.DRAFT)
    confirm = admin_client.get(f"/connections/{connection.pk}/delete/").content.decode()
    assert "keeps its reports and delivery history" in confirm

    response = admin_client.post(f"/connections/{connection.pk}/delete/", follow=True)

    assert response.status_code == 200
    assert not Connection.objects.exists()  # gone from every list and picker
    assert admin_client.get("/connections/").content.decode().count(connection.name) == 0
    assert admin_client.get(f"/connections/{connection.pk}/").status_code == 404
    kept = Connection.all_objects.get(pk=connection.pk)
    assert kept.name == f"{connection.name} (deleted)" and kept.deleted_at is not None
    assert kept.channel_access_token == "" and kept.channel_secret == ""
    assert list(Campaign.objects.values_list("pk", flat=True)) == [done.pk]
    done.refresh_from_db()
    assert done.connection.name == f"{connection.name} (deleted)"
    report = admin_client.get(f"/analytics/campaigns/{done.pk}/").content.decode()
    assert f"{connection.name} (deleted)" in report
    webhook = admin_client.post(
        f"/webhooks/line/{kept.webhook_slug}/", data=b"{}", content_type="application/json"
    )
    assert webhook.status_code == 404
    # The name is free again for a new connection.
    assert Connection.objects.create(name=connection.name, channel_access_token="t").pk


def test_delete_after_confirmation_removes_the_connection_and_its_drafts(
    admin_client, connection
) -> None:
    _campaign(connection, Campaign.Status.DRAFT)
    confirm = admin_client.get(f"/connections/{connection.pk}/delete/").content.decode()
    assert "data-confirm=" in confirm
    assert "1 draft campaign is deleted with it" in confirm
    response = admin_client.post(f"/connections/{connection.pk}/delete/")
    assert response.status_code == 302
    assert not Connection.objects.exists()
    assert not Campaign.objects.exists()
    entry = AuditEntry.objects.get(action="connection.delete")
    assert entry.details == {"draft_campaigns_deleted": 1, "finished_campaigns_kept": 0}


def test_send_limits_are_set_under_advanced_and_capped_at_lines(
    admin_client, connection, emulator
) -> None:
    form = admin_client.get(f"/connections/{connection.pk}/edit/").content.decode()
    advanced = form.split("<summary>Advanced</summary>")[1].split("</details>")[0]
    assert 'name="push_rate_limit"' in advanced and 'value="2000"' in advanced
    data = {"name": "Main OA", "api_base_url": emulator.base_url, "multicast_rate_limit": 200}
    refused = admin_client.post(
        f"/connections/{connection.pk}/edit/", {**data, "push_rate_limit": 2001}
    )
    assert "less than or equal to 2000" in refused.content.decode()
    connection.refresh_from_db()
    assert connection.push_rate_limit == 2000

    saved = admin_client.post(
        f"/connections/{connection.pk}/edit/", {**data, "push_rate_limit": 300}, follow=True
    )
    connection.refresh_from_db()
    assert (connection.push_rate_limit, connection.multicast_rate_limit) == (300, 200)
    assert "Send limits: 300 push and 200 multicast" in saved.content.decode()
    entry = AuditEntry.objects.filter(action="connection.update").latest("id")
    assert entry.details == {"changed": ["push_rate_limit"]}
