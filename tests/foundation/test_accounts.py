import pytest
from django.contrib.auth.models import Group

from kit.models import AuditEntry
from tests.conftest import PASSWORD


def test_login_with_valid_credentials_reaches_home(client, marketer):
    response = client.post(
        "/accounts/login/", {"username": marketer.username, "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.wsgi_request.user == marketer
    assert b"Welcome, mark-marketer" in response.content


def test_wrong_password_shows_an_error_and_no_session(client, marketer):
    response = client.post("/accounts/login/", {"username": marketer.username, "password": "no"})
    assert response.status_code == 200
    assert b"enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


def test_repeated_failed_logins_lock_the_account_even_for_the_right_password(
    client, marketer, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": marketer.username, "password": "wrong"})
    response = client.post(
        "/accounts/login/", {"username": marketer.username, "password": PASSWORD}
    )
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


def test_logout_ends_the_session(marketer_client):
    response = marketer_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert marketer_client.get("/").status_code == 302


def test_password_change(client, marketer):
    client.force_login(marketer)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-passphrase-77",
            "new_password2": "another-long-passphrase-77",
        },
    )
    assert response.status_code == 302
    marketer.refresh_from_db()
    assert marketer.check_password("another-long-passphrase-77")


def test_admin_creates_a_user_with_a_role(admin_client, django_user_model):
    response = admin_client.post(
        "/settings/users/",
        {"username": "newbie", "email": "", "role": "Analyst", "password": "a-strong-pass-9182"},
    )
    assert response.status_code == 302
    user = django_user_model.objects.get(username="newbie")
    assert list(user.groups.values_list("name", flat=True)) == ["Analyst"]
    assert AuditEntry.objects.filter(action="user.create", target_id=str(user.pk)).exists()


def test_user_creation_errors_are_shown_and_nothing_is_created(admin_client, django_user_model):
    response = admin_client.post(
        "/settings/users/",
        {"username": "weak", "email": "not-an-email", "role": "Analyst", "password": "123"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter a valid email address" in page
    assert 'value="weak"' in page
    assert not django_user_model.objects.filter(username="weak").exists()


def test_admin_changes_a_role_and_it_is_audited(admin_client, marketer):
    response = admin_client.post(
        f"/settings/users/{marketer.pk}/", {"action": "role", "role": "Analyst"}
    )
    assert response.status_code == 302
    assert set(marketer.groups.values_list("name", flat=True)) == {"Analyst"}
    entry = AuditEntry.objects.get(action="user.role_change")
    assert entry.details == {"from": ["Marketer"], "to": "Analyst"}
    assert entry.actor_name == "alice-admin"


def test_deactivated_user_cannot_log_in(admin_client, client, marketer):
    admin_client.post(f"/settings/users/{marketer.pk}/", {"action": "deactivate"})
    marketer.refresh_from_db()
    assert not marketer.is_active
    client.post("/accounts/login/", {"username": marketer.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_admin_cannot_deactivate_themselves(admin_client, admin_user):
    response = admin_client.post(
        f"/settings/users/{admin_user.pk}/", {"action": "deactivate"}, follow=True
    )
    admin_user.refresh_from_db()
    assert admin_user.is_active
    assert b"cannot deactivate your own account" in response.content


@pytest.mark.parametrize("role", ["Marketer", "Analyst"])
def test_only_admins_manage_users(client, django_user_model, role):
    user = django_user_model.objects.create_user(username="u", password="x")
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    assert client.post("/settings/users/", {"username": "x"}).status_code == 403
    assert client.post(f"/settings/users/{user.pk}/", {"action": "role"}).status_code == 403


def test_roles_exist_after_migrations(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"Admin", "Marketer", "Analyst"}


def test_an_admin_cannot_demote_themselves_nor_the_last_admin(
    admin_client, admin_user, django_user_model
):
    response = admin_client.post(
        f"/settings/users/{admin_user.pk}/", {"action": "role", "role": "Analyst"}, follow=True
    )
    assert set(admin_user.groups.values_list("name", flat=True)) == {"Admin"}
    assert "cannot take away your own Admin role" in response.content.decode()

    from django.contrib.auth.models import Group

    other = django_user_model.objects.create_user(username="bob-admin", password="x")
    other.groups.add(Group.objects.get(name="Admin"))
    admin_user.is_active = False  # bob is now the only active Admin
    admin_user.save()
    from kit.services import user_set_role

    with pytest.raises(ValueError, match="last active Admin"):
        user_set_role(actor=admin_user, user=other, role="Marketer")
    assert not AuditEntry.objects.filter(action="user.role_change").exists()
