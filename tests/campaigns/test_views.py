import pytest

from audiences.models import Contact
from campaigns.models import Campaign, Delivery, FrequencyCap
from connections.models import Connection
from kit.models import AuditEntry

A, B, C, D = ("U" + ch * 32 for ch in "abcd")


@pytest.fixture
def connection(db, emulator) -> Connection:
    return Connection.objects.create(
        name="Main OA",
        channel_access_token=emulator.token,
        channel_secret=emulator.secret,
        api_base_url=emulator.base_url,
        status=Connection.Status.ACTIVE,
    )


@pytest.fixture
def audience(db) -> None:
    following = Contact.FollowStatus.FOLLOWING
    Contact.objects.create(line_id=A, follow_status=following, attributes={"coupon": "X1"})
    Contact.objects.create(line_id=B, follow_status=following, attributes={})
    Contact.objects.create(line_id=C, follow_status=following, opted_out=True)
    Contact.objects.create(line_id=D, follow_status=Contact.FollowStatus.UNFOLLOWED)


def make_campaign(connection: Connection, **fields) -> Campaign:
    values = {
        "name": "Coupons",
        "connection": connection,
        "audience_type": Campaign.Audience.EXPLICIT,
        "explicit_ids": [A, B, C, D],
        "messages": [{"type": "text", "text": "Your code: {{ coupon }}"}],
        **fields,
    }
    return Campaign.objects.create(**values)


def reasons(html: str) -> dict[str, str]:
    import re

    found = re.findall(r'data-reason="(\w+)"><span[^>]*>(\d+)</span>', html)
    return {reason: int(count) for reason, count in found}


# Review


def test_review_shows_expected_recipients_and_who_is_skipped_and_why(
    marketer_client, connection, audience, emulator
):
    emulator.configure(monthly_quota=100)
    campaign = make_campaign(connection)
    html = marketer_client.get(f"/campaigns/{campaign.pk}/review/").content.decode()

    # B lacks `coupon`: attempted and failed, as the report will count it.
    assert 'data-testid="expected-recipients">2<' in html
    assert reasons(html) == {"opted_out": 1, "unfollowed": 1, "will_fail": 1}
    assert "will fail: missing attributes that have no default (counted as Failed)" in html
    assert "<code>coupon</code>" in html
    assert "100</span> left this month; this campaign needs 1." in html
    assert "Enough quota." in html


def test_launch_is_blocked_when_the_monthly_quota_is_short(
    marketer_client, connection, audience, emulator
):
    emulator.configure(monthly_quota=0)
    campaign = make_campaign(connection)

    review = marketer_client.get(f"/campaigns/{campaign.pk}/review/").content.decode()
    assert "Not enough quota: launch is blocked." in review

    response = marketer_client.post(f"/campaigns/{campaign.pk}/launch/")
    campaign.refresh_from_db()
    assert response.status_code == 200
    assert "Not enough monthly quota" in response.content.decode()
    assert campaign.status == Campaign.Status.DRAFT
    assert emulator.messages() == []


def test_launch_starts_a_draft_and_is_confirmed_first(marketer_client, connection, audience):
    campaign = make_campaign(
        connection, messages=[{"type": "text", "text": 'Code {{ coupon | default: "none" }}'}]
    )
    review = marketer_client.get(f"/campaigns/{campaign.pk}/review/").content.decode()
    assert 'data-confirm="Send “Coupons” to 2 recipients?"' in review
    assert '<div class="line-bubble">Code none</div>' in review

    response = marketer_client.post(f"/campaigns/{campaign.pk}/launch/")

    campaign.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.pk}/"
    assert campaign.status == Campaign.Status.SENDING
    assert AuditEntry.objects.filter(action="campaign.launch").count() == 1


def test_test_send_is_a_real_send_that_is_never_counted(
    marketer_client, marketer, connection, audience, emulator
):
    campaign = make_campaign(connection)
    response = marketer_client.post(f"/campaigns/{campaign.pk}/test-send/", {"line_id": A})

    assert response.status_code == 200
    assert "Test sent to" in response.content.decode()
    received = emulator.messages(to=A)
    assert [m["messages"][0]["text"] for m in received] == ["Your code: X1"]
    campaign.refresh_from_db()
    assert (campaign.attempted, campaign.sent, campaign.status) == (0, 0, Campaign.Status.DRAFT)
    assert not Delivery.objects.exists()
    assert AuditEntry.objects.filter(action="campaign.test_send", actor=marketer).exists()


def test_test_send_problem_is_shown_next_to_the_contact_field(
    marketer_client, connection, audience, emulator
):
    campaign = make_campaign(connection)
    response = marketer_client.post(f"/campaigns/{campaign.pk}/test-send/", {"line_id": B})
    assert response.status_code == 200
    assert "The test was not sent" in response.content.decode()
    assert "coupon" in response.content.decode()
    unknown = marketer_client.post(
        f"/campaigns/{campaign.pk}/test-send/", {"line_id": "U" + "f" * 32}
    )
    assert "No contact has this LINE id." in unknown.content.decode()
    assert emulator.messages() == []


# Detail and controls


def test_detail_polls_progress_while_sending_and_stops_when_finished(analyst_client, connection):
    campaign = make_campaign(
        connection,
        status=Campaign.Status.SENDING,
        recipients_total=4,
        attempted=2,
        sent=1,
        failed=1,
    )
    page = analyst_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert "Successfully sent" in page and "Attempted" in page

    partial = analyst_client.get(f"/campaigns/{campaign.pk}/", HTTP_HX_REQUEST="true")
    assert partial.content.decode().lstrip().startswith('<section id="progress"')

    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)
    finished = analyst_client.get(f"/campaigns/{campaign.pk}/", HTTP_HX_REQUEST="true")
    assert "every 2s" not in finished.content.decode()


def test_pause_resume_and_cancel_buttons_call_the_services(marketer_client, marketer, connection):
    campaign = make_campaign(connection, status=Campaign.Status.SENDING)
    url = f"/campaigns/{campaign.pk}"
    assert "Pause</button>" in marketer_client.get(f"{url}/").content.decode()

    marketer_client.post(f"{url}/pause/")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    page = marketer_client.get(f"{url}/").content.decode()
    assert f"Paused: {campaign.pause_reason}" in page
    assert "Resume</button>" in page

    marketer_client.post(f"{url}/resume/")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING

    page = marketer_client.get(f"{url}/").content.decode()
    assert 'data-confirm="Cancel “Coupons”?' in page
    marketer_client.post(f"{url}/cancel/")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"campaign.pause", "campaign.resume", "campaign.cancel"} <= actions


def test_a_control_that_does_not_apply_says_why(marketer_client, connection):
    campaign = make_campaign(connection, status=Campaign.Status.COMPLETED)
    response = marketer_client.post(f"/campaigns/{campaign.pk}/pause/", follow=True)
    assert "Only a sending campaign can be paused." in response.content.decode()


def test_analysts_see_campaigns_without_actions_and_get_403_on_every_action(
    analyst_client, connection
):
    campaign = make_campaign(connection, status=Campaign.Status.SENDING)
    page = analyst_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Pause</button>" not in page and "Copy</button>" not in page
    listing = analyst_client.get("/campaigns/").content.decode()
    assert "Coupons" in listing and "New campaign" not in listing and "Copy" not in listing
    for action in ("pause", "resume", "cancel", "copy", "launch", "test-send", "edit"):
        assert analyst_client.post(f"/campaigns/{campaign.pk}/{action}/").status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert Campaign.objects.count() == 1


def test_copy_makes_a_new_draft_to_edit(marketer_client, connection):
    campaign = make_campaign(connection, status=Campaign.Status.COMPLETED)
    response = marketer_client.post(f"/campaigns/{campaign.pk}/copy/")
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response["Location"] == f"/campaigns/{copy.pk}/edit/"
    assert (copy.status, copy.explicit_ids) == (Campaign.Status.DRAFT, campaign.explicit_ids)


def test_only_drafts_and_scheduled_campaigns_can_be_edited(marketer_client, connection):
    campaign = make_campaign(connection, status=Campaign.Status.SENDING)
    response = marketer_client.get(f"/campaigns/{campaign.pk}/edit/")
    assert response["Location"] == f"/campaigns/{campaign.pk}/"


# List


def test_list_searches_by_name_and_filters_by_status(marketer_client, connection):
    make_campaign(
        connection,
        name="Spring sale",
        status=Campaign.Status.COMPLETED,
        sent=7,
        attempted=8,
        recipients_total=9,
    )
    make_campaign(connection, name="Autumn sale")
    make_campaign(connection, name="Newsletter")

    html = marketer_client.get("/campaigns/", {"search": "sale"}).content.decode()
    assert "Spring sale" in html and "Autumn sale" in html and "Newsletter" not in html
    assert "7 of 8 attempted" in html

    html = marketer_client.get("/campaigns/", {"status": "draft"}).content.decode()
    assert "Autumn sale" in html and "Newsletter" in html and "Spring sale" not in html

    partial = marketer_client.get("/campaigns/", {"search": "zzz"}, HTTP_HX_REQUEST="true")
    assert "No campaign matches these filters." in partial.content.decode()
    assert "<nav" not in partial.content.decode()


def test_empty_list_says_what_to_do_first(marketer_client, admin_client, db):
    assert (
        "Ask an Admin to add a LINE connection"
        in marketer_client.get("/campaigns/").content.decode()
    )
    Connection.objects.create(name="OA", channel_access_token="t", channel_secret="s")
    assert "Import contacts" in marketer_client.get("/campaigns/").content.decode()
    Contact.objects.create(line_id=A)
    assert "Create your first campaign" in marketer_client.get("/campaigns/").content.decode()
    assert "/campaigns/settings/frequency-cap/" in admin_client.get("/campaigns/").content.decode()
    assert (
        "/campaigns/settings/frequency-cap/"
        not in marketer_client.get("/campaigns/").content.decode()
    )


# Frequency cap


def test_frequency_cap_is_an_admin_setting(admin_client, marketer_client):
    assert marketer_client.get("/campaigns/settings/frequency-cap/").status_code == 403
    response = admin_client.post(
        "/campaigns/settings/frequency-cap/", {"max_messages": "3", "days": "7"}
    )
    assert response.status_code == 302
    cap = FrequencyCap.objects.get()
    assert (cap.max_messages, cap.days) == (3, 7)
    page = admin_client.get("/campaigns/settings/frequency-cap/").content.decode()
    assert "at most 3 campaign messages per contact in 7 days" in page

    bad = admin_client.post("/campaigns/settings/frequency-cap/", {"max_messages": "0", "days": ""})
    assert bad.status_code == 200
    assert "invalid-feedback" in bad.content.decode()


def test_review_counts_frequency_capped_contacts_only_when_the_cap_is_on(
    marketer_client, connection, audience
):
    from django.utils import timezone

    FrequencyCap.objects.create(max_messages=1, days=7)
    earlier = make_campaign(connection, name="Earlier", status=Campaign.Status.COMPLETED)
    Delivery.objects.create(
        campaign=earlier,
        contact=Contact.objects.get(line_id=A),
        line_id=A,
        status=Delivery.Status.SENT,
        finished_at=timezone.now(),
    )
    capped = make_campaign(connection, messages=[{"type": "text", "text": "Hi"}])
    html = marketer_client.get(f"/campaigns/{capped.pk}/review/").content.decode()
    assert reasons(html)["frequency_cap"] == 1
    assert "frequency-capped" in html

    uncapped = make_campaign(
        connection, messages=[{"type": "text", "text": "Hi"}], frequency_cap_enabled=False
    )
    html = marketer_client.get(f"/campaigns/{uncapped.pk}/review/").content.decode()
    assert "frequency_cap" not in reasons(html)
