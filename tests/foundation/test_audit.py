from kit.models import AuditEntry
from kit.services import audit_record


def test_audit_record_keeps_who_what_and_on_what(admin_user):
    entry = audit_record(
        actor=admin_user, action="campaign.launch", target=admin_user, details={"n": 3}
    )
    entry.refresh_from_db()
    assert entry.actor_name == "alice-admin"
    assert entry.target_type == "auth.User"
    assert entry.target_id == str(admin_user.pk)
    assert entry.details == {"n": 3}
    assert entry.created_at is not None


def test_audit_page_lists_and_filters_entries(admin_client, admin_user, marketer):
    audit_record(actor=admin_user, action="connection.create", details={})
    audit_record(actor=marketer, action="campaign.launch", details={})
    page = admin_client.get("/settings/audit/").content.decode()
    assert "connection.create" in page and "campaign.launch" in page
    filtered = admin_client.get("/settings/audit/", {"actor": "mark"}).content.decode()
    assert "<code>campaign.launch</code>" in filtered
    assert "<code>connection.create</code>" not in filtered
    by_action = admin_client.get("/settings/audit/", {"action": "connection"}).content.decode()
    assert "<code>connection.create</code>" in by_action
    assert "<code>campaign.launch</code>" not in by_action


def test_audit_entries_cannot_be_changed_from_the_ui(admin_client, admin_user):
    entry = audit_record(actor=admin_user, action="user.create")
    assert admin_client.post("/settings/audit/", {"id": entry.pk}).status_code == 405
    assert admin_client.delete("/settings/audit/").status_code == 405
    page = admin_client.get("/settings/audit/").content.decode()
    assert '<form method="post"' not in page.split("<main", 1)[1].split("</main>")[0]
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_audit_page_has_an_empty_state(admin_client):
    assert b"No audit entries" in admin_client.get("/settings/audit/").content


def test_audit_log_is_admin_only(marketer_client, analyst_client):
    assert marketer_client.get("/settings/audit/").status_code == 403
    assert analyst_client.get("/settings/audit/").status_code == 403
