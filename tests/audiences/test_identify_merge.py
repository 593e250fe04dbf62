import pytest

from audiences.models import Contact
from audiences.services import ContactError, contact_upsert, contacts_bulk_upsert
from campaigns.models import Campaign, Delivery
from connections.models import Connection
from kit.models import AuditEntry
from tests.audiences.factories import contact, line_id

pytestmark = pytest.mark.django_db


def test_upsert_creates_then_updates_and_merges_attributes():
    lid = line_id()
    created_contact, created = contact_upsert(line_id=lid, attributes={"plan": "gold"})
    assert created and created_contact.source == "api"
    again, created = contact_upsert(line_id=lid, attributes={"city": "Tokyo"}, display_name="A")
    assert not created and again.pk == created_contact.pk
    assert again.attributes == {"plan": "gold", "city": "Tokyo"} and again.display_name == "A"
    replaced, _ = contact_upsert(line_id=lid, attributes={"x": 1}, replace_attributes=True)
    assert replaced.attributes == {"x": 1}
    removed, _ = contact_upsert(line_id=lid, attributes={"x": None})
    assert removed.attributes == {}


def test_invalid_line_id_is_refused():
    with pytest.raises(ContactError) as info:
        contact_upsert(line_id="U123")
    assert info.value.field == "line_id"


def test_identifying_an_anonymous_contact_sets_its_external_id():
    anon = contact(source="webhook", attributes={"last_msg": "hi"})
    identified, created = contact_upsert(line_id=anon.line_id, external_id="cust-1")
    assert not created and identified.pk == anon.pk and identified.external_id == "cust-1"


def test_external_id_on_an_anonymous_webhook_contact_merges_the_two_profiles():
    known = contact(
        external_id="cust-42", display_name="Known", attributes={"plan": "gold", "city": "Osaka"}
    )
    anon = contact(
        source="webhook", follow_status="following", attributes={"city": "Tokyo", "lang": "ja"}
    )
    channel = Connection.objects.create(name="c", channel_access_token="t", channel_secret="s")
    campaign_a = Campaign.objects.create(name="A", connection=channel)
    campaign_b = Campaign.objects.create(name="B", connection=channel)
    Delivery.objects.create(campaign=campaign_a, contact=anon, line_id=anon.line_id)
    Delivery.objects.create(campaign=campaign_b, contact=known, line_id=known.line_id)
    old_line_id = known.line_id

    merged, created = contact_upsert(
        line_id=anon.line_id, external_id="cust-42", attributes={"tier": 2}
    )

    assert not created and merged.pk == known.pk
    assert Contact.objects.count() == 1
    assert merged.line_id == anon.line_id
    assert merged.attributes == {"plan": "gold", "city": "Osaka", "lang": "ja", "tier": 2}
    assert merged.follow_status == "following" and merged.display_name == "Known"
    assert set(merged.deliveries.values_list("campaign__name", flat=True)) == {"A", "B"}
    assert old_line_id in merged.merged_line_ids and anon.line_id in merged.merged_line_ids
    assert AuditEntry.objects.filter(action="contact.merge").count() == 1


def test_a_line_id_identified_as_someone_else_is_not_merged():
    contact(external_id="cust-1", line_id=(lid := line_id()))
    contact(external_id="cust-2")
    with pytest.raises(ContactError) as info:
        contact_upsert(line_id=lid, external_id="cust-2")
    assert info.value.field == "external_id"
    assert Contact.objects.count() == 2


def test_bulk_upsert_rejects_bad_items_alone():
    existing = contact(attributes={"a": 1})
    result = contacts_bulk_upsert(
        contacts=[
            {"line_id": existing.line_id, "attributes": {"b": 2}},
            {"line_id": "nope"},
            {"line_id": (new := line_id()), "display_name": "New"},
            {"line_id": line_id(), "attributes": ["not", "an", "object"]},
            {"line_id": (ident := line_id()), "external_id": "ext-9"},
        ]
    )
    assert (result["created"], result["updated"]) == (2, 1)
    assert [r["index"] for r in result["rejected"]] == [1, 3]
    assert Contact.objects.get(pk=existing.pk).attributes == {"a": 1, "b": 2}
    assert Contact.objects.get(line_id=new).display_name == "New"
    assert Contact.objects.get(line_id=ident).external_id == "ext-9"
