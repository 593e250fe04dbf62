"""The Add a user form: password-rule errors sit under the Password field, and a new user is
a Marketer unless the Admin picks another role."""

import re

URL = "/settings/users/"


def _add_user_form(html: str) -> str:
    return html.split('<h2 class="h5">Add a user</h2>', 1)[1].split("</form>", 1)[0]


def _errors_under(form: str, field_id: str) -> list[str]:
    """The error messages rendered in the field's block, between its input and the next field."""
    block = form.split(f'id="{field_id}"', 1)[1].split('<div class="mb-3">', 1)[0]
    return re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', block, re.S)


def test_password_rule_errors_are_shown_under_the_password_field(admin_client, django_user_model):
    response = admin_client.post(
        URL, {"username": "newbie", "email": "", "role": "Analyst", "password": "123"}
    )
    form = _add_user_form(response.content.decode())
    assert 'class="alert alert-danger"' not in form
    errors = _errors_under(form, "id_password")
    assert any("too short" in e for e in errors)
    assert any("entirely numeric" in e for e in errors)
    assert 'aria-invalid="true"' in form.split('id="id_password"')[0].rsplit("<input", 1)[1]
    assert not django_user_model.objects.filter(username="newbie").exists()


def test_a_password_like_the_username_is_refused_under_the_password_field(admin_client):
    response = admin_client.post(
        URL, {"username": "harukisato", "role": "Analyst", "password": "harukisato1"}
    )
    errors = _errors_under(_add_user_form(response.content.decode()), "id_password")
    assert any("too similar to the username" in e for e in errors)


def test_the_role_defaults_to_marketer(admin_client):
    form = _add_user_form(admin_client.get(URL).content.decode())
    select = form.split('id="id_role"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\w+)"[^>]*selected', select) == ["Marketer"]
