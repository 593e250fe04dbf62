"""LINE ids pasted in upper case reach LINE as LINE writes them: a campaign's explicit
recipients and a test send's recipient."""

import pytest

from audiences.models import Contact
from campaigns.models import Campaign
from tests.campaigns.engine_support import fast_engine, ledger  # noqa: F401

USER = "U" + "ab12" * 8
GROUP = "C" + "cd34" * 8
HELLO = [{"type": "text", "text": "Hello"}]

pytestmark = pytest.mark.usefixtures("fast_engine")


@pytest.fixture
def api(marketer, api_client_for):
    return api_client_for(marketer)


def test_explicit_recipients_in_upper_case_are_stored_as_lines(connection, api):
    created = api.post(
        "/api/v1/campaigns",
        {
            "name": "Pasted",
            "connection": connection.pk,
            "line_ids": [USER.upper(), GROUP.upper(), USER],
            "messages": HELLO,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    assert Campaign.objects.get().explicit_ids == [USER, GROUP]


def test_the_campaign_form_takes_upper_case_ids_too(connection, marketer_client):
    response = marketer_client.post(
        "/campaigns/new/",
        {
            "name": "Pasted",
            "connection": connection.pk,
            "audience_type": "explicit",
            "explicit_ids": f"{USER.upper()}\n{GROUP.upper()}",
            "message_source": "inline",
            "messages_json": '[{"type": "text", "text": "Hello"}]',
            "send_mode": "now",
            "schedule_timezone": "UTC",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Campaign.objects.get().explicit_ids == [USER, GROUP]


def test_a_test_send_to_an_upper_case_id_goes_to_lines_id(emulator, connection, api):
    Contact.objects.create(line_id=USER, follow_status=Contact.FollowStatus.FOLLOWING)
    campaign = Campaign.objects.create(
        name="Hi", connection=connection, audience_type="all", messages=HELLO
    )
    response = api.post(
        f"/api/v1/campaigns/{campaign.pk}/test",
        {"line_id": USER.upper()},  # the API takes the id as its pattern says: no spaces
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert ledger(emulator) == {USER: 1}


def test_the_test_send_form_finds_the_contact_by_an_upper_case_id(
    emulator, connection, marketer_client
):
    Contact.objects.create(line_id=USER, follow_status=Contact.FollowStatus.FOLLOWING)
    campaign = Campaign.objects.create(
        name="Hi", connection=connection, audience_type="all", messages=HELLO
    )
    response = marketer_client.post(
        f"/campaigns/{campaign.pk}/test-send/", {"line_id": USER.upper()}
    )
    assert "Test sent to" in response.content.decode()
    assert ledger(emulator) == {USER: 1}
