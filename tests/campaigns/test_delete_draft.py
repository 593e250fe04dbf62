"""Only drafts can be deleted: a launched campaign is the record of what was sent."""

import pytest

from campaigns.models import Campaign
from kit.models import AuditEntry
from tests.campaigns.engine_support import make_connection


@pytest.fixture
def drafts(db, emulator):
    connection = make_connection(emulator)
    draft = Campaign.objects.create(name="Old copy", connection=connection)
    sent = Campaign.objects.create(name="Sent one", connection=connection, status="completed")
    return draft, sent


def test_a_marketer_deletes_a_draft_after_confirming(drafts, marketer_client):
    draft, sent = drafts
    page = marketer_client.get(f"/campaigns/{draft.pk}/").content.decode()
    assert 'data-confirm="Delete the draft “Old copy”?' in page
    assert "Delete draft" not in marketer_client.get(f"/campaigns/{sent.pk}/").content.decode()

    response = marketer_client.post(f"/campaigns/{draft.pk}/delete/", follow=True)
    assert "Draft “Old copy” deleted." in response.content.decode()
    assert list(Campaign.objects.values_list("pk", flat=True)) == [sent.pk]
    assert AuditEntry.objects.get(action="campaign.delete").details == {"name": "Old copy"}


def test_a_launched_campaign_is_kept_and_analysts_delete_nothing(
    drafts, marketer_client, analyst_client, api_client_for, marketer
):
    draft, sent = drafts
    refused = marketer_client.post(f"/campaigns/{sent.pk}/delete/", follow=True)
    assert "Only a draft can be deleted" in refused.content.decode()
    assert analyst_client.post(f"/campaigns/{draft.pk}/delete/").status_code == 403
    api = api_client_for(marketer)
    assert api.delete(f"/api/v1/campaigns/{sent.pk}").status_code == 409
    assert api.delete(f"/api/v1/campaigns/{draft.pk}").status_code == 204
    assert list(Campaign.objects.values_list("pk", flat=True)) == [sent.pk]
