import re

import pytest

from audiences.models import AttributeKey, Contact
from campaigns.models import Campaign, MessageTemplate
from connections.models import Connection
from kit.models import AuditEntry

NEW = "/campaigns/templates/new/"
PREVIEW = "/campaigns/templates/preview/"
USER_ID = "U" + "a" * 32


def cards(*messages: dict, name: str = "Welcome", **extra: str) -> dict:
    """The editor's POST body for these cards (keys as the form names them)."""
    data = {"name": name, "editor_mode": "form", "message_count": str(len(messages))}
    for i, message in enumerate(messages):
        for key, value in message.items():
            data[f"m-{i}-{key}"] = value
    return {**data, **extra}


def field_html(html: str, field_id: str) -> str:
    """The block of the page from the field's input to the next field."""
    start = html.rfind("<", 0, html.index(f'id="{field_id}"'))
    return html[start : start + 1500]


@pytest.mark.django_db
def test_saving_cards_stores_line_message_objects(marketer_client, marketer):
    body = cards(
        {"type": "text", "text": 'Hi {{ first_name | default: "there" }}'},
        {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        {
            "type": "location",
            "title": "Shop",
            "address": "Tokyo",
            "latitude": "35.6",
            "longitude": "139.7",
        },
        action="save",
    )
    response = marketer_client.post(NEW, body)

    template = MessageTemplate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/templates/{template.pk}/"
    assert template.created_by == marketer
    assert template.messages == [
        {"type": "text", "text": 'Hi {{ first_name | default: "there" }}'},
        {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        {
            "type": "location",
            "title": "Shop",
            "address": "Tokyo",
            "latitude": 35.6,
            "longitude": 139.7,
        },
    ]


@pytest.mark.django_db
def test_line_rule_error_appears_next_to_the_field_it_names_and_input_is_kept(marketer_client):
    body = cards(
        {"type": "text", "text": "Hello"},
        {
            "type": "image",
            "originalContentUrl": "http://example.com/a.png",
            "previewImageUrl": "https://example.com/a-small.png",
        },
        action="save",
    )
    response = marketer_client.post(NEW, body)

    html = response.content.decode()
    assert response.status_code == 200
    assert not MessageTemplate.objects.exists()
    bad = field_html(html, "m-1-originalContentUrl")
    assert "is-invalid" in bad.split(">")[0]
    assert "Must be a valid HTTPS URL" in bad
    assert 'value="http://example.com/a.png"' in bad
    assert "is-invalid" not in field_html(html, "m-1-previewImageUrl").split(">")[0]
    assert ">Hello</textarea>" in html


@pytest.mark.django_db
def test_liquid_syntax_error_is_shown_on_the_field_that_holds_it(marketer_client):
    body = cards({"type": "text", "text": "Hi {{ first_name | default: }"}, action="save")
    response = marketer_client.post(NEW, body)

    assert response.status_code == 200
    text = field_html(response.content.decode(), "m-0-text")
    assert "is-invalid" in text.split(">")[0]
    assert "invalid-feedback" in text
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_json_view_saves_any_type_and_reports_errors_with_their_property_path(marketer_client):
    confirm = (
        '[{"type": "template", "altText": "Sure?", "template": {"type": "confirm", '
        '"text": "Come?", "actions": [{"type": "message", "label": "Yes", "text": "yes"}]}}]'
    )
    response = marketer_client.post(
        NEW, {"name": "Ask", "editor_mode": "json", "messages_json": confirm, "action": "save"}
    )
    assert response.status_code == 200
    assert "messages[0].template.actions" in response.content.decode()
    assert confirm.replace('"', "&quot;") in response.content.decode()

    fixed = confirm.replace(
        '"text": "yes"}]', '"text": "yes"}, {"type": "message", "label": "No", "text": "no"}]'
    )
    response = marketer_client.post(
        NEW, {"name": "Ask", "editor_mode": "json", "messages_json": fixed, "action": "save"}
    )
    assert response.status_code == 302
    assert MessageTemplate.objects.get().messages[0]["template"]["type"] == "confirm"


@pytest.mark.django_db
def test_switching_to_json_view_and_adding_cards_keeps_what_was_typed(marketer_client):
    body = cards({"type": "text", "text": "Keep me"}, action="add")
    response = marketer_client.post(NEW, body)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="m-1-type"' in html and ">Keep me</textarea>" in html

    response = marketer_client.post(NEW, cards({"type": "text", "text": "Keep me"}, action="json"))
    assert "&quot;Keep me&quot;" in response.content.decode()
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_editing_a_template_updates_it(marketer_client):
    template = MessageTemplate.objects.create(name="Old", messages=[{"type": "text", "text": "a"}])
    page = marketer_client.get(f"/campaigns/templates/{template.pk}/")
    assert ">a</textarea>" in page.content.decode()

    body = cards({"type": "text", "text": "b"}, name="New", action="save")
    response = marketer_client.post(f"/campaigns/templates/{template.pk}/", body)

    template.refresh_from_db()
    assert response.status_code == 302
    assert (template.name, template.messages) == ("New", [{"type": "text", "text": "b"}])


@pytest.mark.django_db
def test_analyst_sees_templates_read_only_and_cannot_save_or_delete(analyst_client):
    template = MessageTemplate.objects.create(name="T", messages=[{"type": "text", "text": "a"}])
    listing = analyst_client.get("/campaigns/templates/")
    assert listing.status_code == 200
    assert "New template" not in listing.content.decode()
    assert (
        "Save template"
        not in analyst_client.get(f"/campaigns/templates/{template.pk}/").content.decode()
    )

    assert analyst_client.post(NEW, cards({"type": "text", "text": "x"})).status_code == 403
    delete = analyst_client.post(f"/campaigns/templates/{template.pk}/delete/")
    assert delete.status_code == 403
    assert MessageTemplate.objects.count() == 1


@pytest.mark.django_db
def test_deleting_a_template_is_audited(marketer_client):
    template = MessageTemplate.objects.create(name="Gone", messages=[{"type": "text", "text": "a"}])
    response = marketer_client.post(f"/campaigns/templates/{template.pk}/delete/")
    assert response.status_code == 302
    assert not MessageTemplate.objects.exists()
    assert AuditEntry.objects.filter(action="template.delete", target_repr="Gone").exists()


@pytest.mark.django_db
def test_a_template_a_draft_still_needs_is_not_deleted(marketer_client):
    template = MessageTemplate.objects.create(name="Used", messages=[{"type": "text", "text": "a"}])
    connection = Connection.objects.create(name="OA", channel_access_token="t", channel_secret="s")
    Campaign.objects.create(name="Draft", connection=connection, template=template)

    response = marketer_client.post(f"/campaigns/templates/{template.pk}/delete/", follow=True)

    assert "Used by draft or scheduled campaigns (Draft)" in response.content.decode()
    assert MessageTemplate.objects.filter(pk=template.pk).exists()


@pytest.mark.django_db
def test_empty_list_says_what_a_template_is_and_how_to_make_one(marketer_client):
    html = marketer_client.get("/campaigns/templates/").content.decode()
    assert "empty-state" in html
    assert "Create the first template" in html


@pytest.mark.django_db
def test_variable_picker_offers_audience_attributes_and_builtins(marketer_client):
    AttributeKey.objects.create(key="first_name")
    AttributeKey.objects.create(key="tier")
    html = marketer_client.get(NEW).content.decode()
    inserts = re.findall(r'data-insert="\{\{ (\w+) \| default: &quot;&quot; \}\}"', html)
    assert set(inserts) == {"first_name", "tier", "line_id", "display_name"}


@pytest.mark.django_db
def test_preview_renders_the_chosen_contacts_data_as_chat_bubbles(marketer_client):
    Contact.objects.create(line_id=USER_ID, display_name="Hana", attributes={"first_name": "Hana"})
    body = cards(
        {"type": "text", "text": 'Hi {{ first_name | default: "there" }}!'},
        {
            "type": "image",
            "originalContentUrl": "https://x.test/a.png",
            "previewImageUrl": "https://x.test/small.png",
        },
        preview_contact=USER_ID,
    )
    html = marketer_client.post(PREVIEW, body, HTTP_HX_REQUEST="true").content.decode()
    assert '<div class="line-bubble">Hi Hana!</div>' in html
    assert 'src="https://x.test/small.png"' in html

    sample = marketer_client.post(PREVIEW, {**body, "preview_contact": ""}).content.decode()
    assert '<div class="line-bubble">Hi there!</div>' in sample


@pytest.mark.django_db
def test_preview_warns_when_a_placeholder_has_no_value_and_no_default(marketer_client):
    Contact.objects.create(line_id=USER_ID, display_name="Hana", attributes={})
    body = cards({"type": "text", "text": "Your code: {{ coupon }}"}, preview_contact=USER_ID)
    html = marketer_client.post(PREVIEW, body).content.decode()
    assert "alert-warning" in html
    assert "coupon" in html and "no default" in html


@pytest.mark.django_db
def test_validate_with_line_through_a_connection(marketer_client, emulator):
    good = Connection.objects.create(
        name="Emu",
        channel_access_token=emulator.token,
        channel_secret=emulator.secret,
        api_base_url=emulator.base_url,
        status=Connection.Status.ACTIVE,
    )
    bad = Connection.objects.create(
        name="Revoked",
        channel_access_token="revoked",
        channel_secret="s",
        api_base_url=emulator.base_url,
        status=Connection.Status.ACTIVE,
    )
    body = cards({"type": "text", "text": "Hi"}, action="save")

    refused = marketer_client.post(NEW, {**body, "validate_connection": bad.pk})
    assert refused.status_code == 200
    checked = field_html(refused.content.decode(), "id_validate_connection")
    assert "LINE could not check the messages through Revoked" in checked
    assert not MessageTemplate.objects.exists()

    accepted = marketer_client.post(NEW, {**body, "validate_connection": good.pk})
    assert accepted.status_code == 302
    assert MessageTemplate.objects.count() == 1
