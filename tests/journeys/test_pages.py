"""The journey pages as Marketers and Analysts use them: the list, the editor (a keyword and a
follow journey built through the form, errors that keep what was typed), the actions, the report
counted from the ledger after real signed webhooks, the run log and its CSV, read-only Analysts,
and journey sends on the analytics overview."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client

from audiences.services import contact_upsert
from campaigns.models import MessageTemplate
from journeys.models import Journey, JourneyRun, JourneySend
from journeys.services import journey_create
from kit.models import AuditEntry
from tests.connections.helpers import follower_id
from tests.journeys.support import deliver, line_event, make_journey, with_reply_token

LIST = "/journeys/"
NEW = "/journeys/new/"
PREVIEW = "/journeys/preview/"
FULL_WIDTH_COUPON = "\uff23\uff2f\uff35\uff30\uff2f\uff2e"  # COUPON typed full-width
COUPON_TEXT = "Your coupon, {{ display_name | default: 'friend' }}: SPRING-{{ tier }}"


def form_body(connection, *, steps: list[list[dict]] | None = None, **fields: str) -> dict:
    """The editor's POST body: the journey's fields, entry-condition rows (`rN-…`) and each
    send step's messages as the template editor names them (`s0-m-0-text`)."""
    steps = steps if steps is not None else [[{"type": "text", "text": "Hello!"}]]
    data = {
        "name": "Coupon",
        "connection": str(connection.pk),
        "entry": "once",
        "daily_limit": "3",
        "match": "all",
        "step_keys": " ".join(str(i) for i in range(len(steps))),
        "action": "save",
    }
    for i, messages in enumerate(steps):
        data.update({f"s{i}-source": "inline", f"s{i}-editor_mode": "form"})
        data[f"s{i}-message_count"] = str(len(messages))
        for j, message in enumerate(messages):
            for key, value in message.items():
                data[f"s{i}-m-{j}-{key}"] = value
    return {**data, **fields}


def keyword_body(connection, **fields: str) -> dict:
    return form_body(
        connection,
        steps=[[{"type": "text", "text": COUPON_TEXT}]],
        **{
            "trigger_type": "keyword",
            "keywords": "coupon\nクーポン",
            "keyword_match": "exact",
            "entry": "every_time",
            **fields,
        },
    )


def field_block(html: str, field_id: str) -> str:
    """The page from the field's input to a little after it, where its errors are."""
    start = html.rfind("<", 0, html.index(f'id="{field_id}"'))
    return html[start : start + 1500]


def message_event(emulator, receiver, n: int, user: str, text: str) -> dict:
    """A text message from `user`, with a fresh reply token the emulator will accept once."""
    event = line_event("message", user, n, message={"id": str(n), "type": "text", "text": text})
    return with_reply_token(emulator, receiver, event)


def figure(html: str, key: str) -> int:
    match = re.search(rf'id="figure-{key}"[^>]*>([\d,]+)<', html)
    assert match, f"no figure {key}"
    return int(match.group(1).replace(",", ""))


@pytest.fixture
def coupon(marketer_client, connection) -> Journey:
    """The keyword journey of the issue, built and activated through the pages."""
    response = marketer_client.post(NEW, keyword_body(connection))
    assert response.status_code == 302
    journey = Journey.objects.get()
    marketer_client.post(f"/journeys/{journey.pk}/activate/")
    journey.refresh_from_db()
    assert journey.status == Journey.Status.ACTIVE
    return journey


@pytest.fixture
def coupon_traffic(
    client, coupon, connection, emulator, receiver, eager_celery, django_capture_on_commit_callbacks
):
    """Real signed webhooks: a gold member asks twice (a fresh reply token, then one LINE no
    longer takes), a contact without a tier once (personalization fails), an opted-out one once
    (skipped)."""
    gold, plain, opted = follower_id(1), follower_id(2), follower_id(3)
    contact_upsert(line_id=gold, display_name="Gold Member", attributes={"tier": "GOLD"})
    contact_upsert(line_id=plain, display_name="=HYPERLINK(1)")
    contact_upsert(line_id=opted, display_name="Opted", attributes={"tier": "X"}, opted_out=True)
    replied = message_event(emulator, receiver, 1, gold, FULL_WIDTH_COUPON)
    pushed = line_event("message", gold, 2, message={"id": "2", "type": "text", "text": "coupon"})
    pushed["replyToken"] = "f" * 32  # a token LINE never issued: the send falls back to a push
    failed = message_event(emulator, receiver, 3, plain, "coupon")
    skipped = message_event(emulator, receiver, 4, opted, "coupon")
    for event in (replied, pushed, failed, skipped):
        deliver(client, connection, django_capture_on_commit_callbacks, event)
    return {"gold": gold, "plain": plain, "opted": opted}


# The list


def test_an_empty_list_invites_a_marketer_to_build_the_first_journey(marketer_client, connection):
    html = marketer_client.get(LIST).content.decode()
    assert "No journeys yet" in html
    assert f'href="{NEW}"' in html
    nav = r'class="nav-link active"\s+aria-current="page" href="/journeys/">Journeys<'
    assert re.search(nav, html)


def test_an_analyst_sees_the_empty_list_without_a_new_journey_button(analyst_client, connection):
    html = analyst_client.get(LIST).content.decode()
    assert "No journeys yet" in html
    assert f'href="{NEW}"' not in html
    assert "Marketers and Admins can create one." in html


def test_the_list_shows_trigger_connection_status_version_and_counts(
    coupon, coupon_traffic, marketer, connection, marketer_client
):
    draft = journey_create(
        user=marketer,
        connection=connection,
        name="Welcome",
        trigger={"type": "follow", "when": "new"},
        steps=[{"type": "send", "messages": [{"type": "text", "text": "Hi"}]}],
    )
    html = marketer_client.get(LIST).content.decode()
    row = html.split(f'data-journey="{coupon.pk}"')[1].split("</tr>")[0]
    assert "message is “coupon”, “クーポン”" in row
    assert "Main OA" in row and "Active" in row and "v1" in row
    assert re.search(r'data-figure="triggered">4<', row)
    assert re.search(r'data-figure="sent">2<', row)
    draft_row = html.split(f'data-journey="{draft.pk}"')[1].split("</tr>")[0]
    assert "new friends" in draft_row and "Draft" in draft_row

    drafts = marketer_client.get(LIST, {"status": "draft"}).content.decode()
    assert f'data-journey="{draft.pk}"' in drafts and f'data-journey="{coupon.pk}"' not in drafts
    archived = marketer_client.get(LIST, {"status": "archived"}).content.decode()
    assert "No journey has this status." in archived


def test_the_list_pages_by_fifty(marketer, connection, marketer_client):
    for n in range(51):
        journey_create(
            user=marketer,
            connection=connection,
            name=f"Journey {n}",
            trigger={"type": "join"},
            steps=[{"type": "send", "messages": [{"type": "text", "text": "Hi"}]}],
        )
    first = marketer_client.get(LIST).content.decode()
    assert first.count("data-journey=") == 50 and "Page 1 of 2" in first
    second = marketer_client.get(LIST, {"page": 2}).content.decode()
    assert second.count("data-journey=") == 1


# The editor


def test_a_marketer_builds_the_coupon_keyword_journey_and_a_coupon_gets_the_personal_reply(
    coupon,
    client,
    connection,
    emulator,
    receiver,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    keywords = ["coupon", "クーポン"]
    assert coupon.trigger == {"type": "keyword", "keywords": keywords, "match": "exact"}
    assert coupon.steps == [{"type": "send", "messages": [{"type": "text", "text": COUPON_TEXT}]}]
    assert (coupon.entry, coupon.entry_conditions, coupon.daily_limit) == ("every_time", None, 3)
    assert coupon.transactional is False

    user = follower_id(5)
    contact_upsert(line_id=user, display_name="Hana", attributes={"tier": "GOLD"})
    event = message_event(emulator, receiver, 5, user, "Coupon")
    deliver(client, connection, django_capture_on_commit_callbacks, event)

    [message] = emulator.messages(to=user)
    assert message["via"] == "reply"
    assert message["messages"] == [{"type": "text", "text": "Your coupon, Hana: SPRING-GOLD"}]


def test_a_marketer_builds_a_welcome_for_new_friends_only(marketer_client, connection):
    body = form_body(
        connection,
        name="Welcome",
        trigger_type="follow",
        follow_when="new",
        steps=[
            [{"type": "text", "text": "Welcome, {{ contact.display_name | default: 'friend' }}!"}],
            [{"type": "sticker", "packageId": "446", "stickerId": "1988"}],
        ],
    )
    response = marketer_client.post(NEW, body)

    journey = Journey.objects.get(name="Welcome")
    assert response.status_code == 302 and response["Location"] == f"/journeys/{journey.pk}/"
    assert journey.trigger == {"type": "follow", "when": "new"}
    assert [s["messages"][0]["type"] for s in journey.steps] == ["text", "sticker"]
    assert journey.status == Journey.Status.DRAFT
    detail = marketer_client.get(response["Location"]).content.decode()
    assert "saved as a draft" in detail and "new friends" in detail


@pytest.mark.parametrize(
    ("fields", "trigger", "checked"),
    [
        (
            {
                "trigger_type": "postback",
                "postback_data": "action=coupon",
                "postback_match": "prefix",
            },
            {"type": "postback", "data": "action=coupon", "match": "prefix"},
            'value="prefix" checked',
        ),
        (
            {"trigger_type": "keyword", "keywords": " sale \n\nSALE!", "keyword_match": "contains"},
            {"type": "keyword", "keywords": ["sale", "SALE!"], "match": "contains"},
            'value="contains" checked',
        ),
        (
            {"trigger_type": "follow", "follow_when": "unblocked"},
            {"type": "follow", "when": "unblocked"},
            'value="unblocked" checked',
        ),
        (
            {"trigger_type": "event", "event_name": "order_shipped"},
            {"type": "event", "name": "order_shipped"},
            'value="order_shipped"',
        ),
        ({"trigger_type": "api"}, {"type": "api"}, 'value="api" checked'),
        ({"trigger_type": "join"}, {"type": "join"}, 'value="join" checked'),
    ],
)
def test_each_trigger_is_saved_with_its_options_and_edited_as_saved(
    marketer_client, connection, fields, trigger, checked
):
    body = form_body(connection, entry="at_most_every", entry_every="30", **fields)
    assert marketer_client.post(NEW, body).status_code == 302
    journey = Journey.objects.get()
    assert journey.trigger == trigger
    assert journey.entry == {"at_most_every": "30d"}

    html = marketer_client.get(f"/journeys/{journey.pk}/edit/").content.decode()
    assert checked in html
    assert 'value="at_most_every" checked' in html
    assert 'value="30"' in field_block(html, "id_entry_every")


def test_a_step_may_send_a_saved_template(marketer_client, connection, marketer):
    template = MessageTemplate.objects.create(
        name="Shipped", messages=[{"type": "text", "text": "Order {{ event.properties.order }}"}]
    )
    body = form_body(connection, trigger_type="event", event_name="order_shipped")
    body.update({"transactional": "on", "s0-source": "template", "s0-template": str(template.pk)})
    assert marketer_client.post(NEW, body).status_code == 302

    journey = Journey.objects.get()
    assert journey.steps == [{"type": "send", "template": template.pk}]
    assert journey.trigger == {"type": "event", "name": "order_shipped"}
    assert journey.transactional is True
    assert AuditEntry.objects.filter(action="journey.create", target_id=str(journey.pk)).exists()


def test_problems_are_shown_next_to_their_fields_and_nothing_typed_is_lost(
    marketer_client, connection
):
    body = form_body(
        connection,
        name="",
        trigger_type="keyword",
        keywords="",
        entry="at_most_every",
        entry_every="soon",
        daily_limit="0",
        steps=[[{"type": "text", "text": "Broken {{ event.text"}]],
    )
    body.update({"r1-field": "attributes.age", "r1-op": "gt", "r1-value": "lots"})
    response = marketer_client.post(NEW, body)
    html = response.content.decode()

    assert response.status_code == 200 and not Journey.objects.exists()
    assert "Some answers need attention" in html
    assert "Give the journey a name." in field_block(html, "id_name")
    assert "Give at least one keyword." in field_block(html, "id_keywords")
    assert "at_most_every takes a whole number of hours or days" in field_block(
        html, "id_entry_every"
    )
    assert 'value="soon"' in field_block(html, "id_entry_every")
    assert "Between 1 and 100 sends a day." in field_block(html, "id_daily_limit")
    assert "Liquid" in field_block(html, "s0-m-0-text")
    assert "Broken {{ event.text</textarea>" in html  # as typed
    assert re.search(r'<div class="alert alert-danger" role="alert">Row 1: [^<]*age', html)
    assert 'name="r1-value" value="lots"' in html


def test_input_that_cannot_be_read_is_reported_without_saving(marketer_client, connection):
    body = form_body(connection, trigger_type="join", daily_limit="three")
    body.update({"s0-editor_mode": "json", "s0-messages_json": '[{"type": "text",'})
    html = marketer_client.post(NEW, body).content.decode()

    assert not Journey.objects.exists()
    assert "Enter a whole number." in field_block(html, "id_daily_limit")
    assert "This is not valid JSON" in html
    assert "[{&quot;type&quot;: &quot;text&quot;,</textarea>" in html


def test_transactional_cannot_stay_ticked_on_a_marketing_trigger(marketer_client, connection):
    body = form_body(connection, trigger_type="keyword", keywords="hi", transactional="on")
    assert marketer_client.post(NEW, body).status_code == 302
    assert Journey.objects.get().transactional is False  # the box was hidden for keywords


def test_steps_and_messages_are_added_and_removed_keeping_what_was_typed(
    marketer_client, connection
):
    body = form_body(connection, name="Two steps", trigger_type="join")
    body["action"] = "add-step"
    html = marketer_client.post(NEW, body).content.decode()
    assert 'name="step_keys" value="0 1"' in html and "Step 2: send" in html
    assert 'value="Two steps"' in html and ">Hello!</textarea>" in html

    body.update({"step_keys": "0 1", "s1-source": "inline", "s1-message_count": "1"})
    body.update({"s1-m-0-type": "text", "s1-m-0-text": "Second", "action": "s1-add"})
    html = marketer_client.post(NEW, body).content.decode()
    assert 'name="s1-message_count" value="2"' in html and ">Second</textarea>" in html

    body["action"] = "remove-step-0"
    html = marketer_client.post(NEW, body).content.decode()
    assert 'name="step_keys" value="1"' in html and ">Hello!</textarea>" not in html
    assert not Journey.objects.exists()

    body.update({"step_keys": "1", "s1-message_count": "1", "action": "save"})
    assert marketer_client.post(NEW, body).status_code == 302
    assert Journey.objects.get().steps == [
        {"type": "send", "messages": [{"type": "text", "text": "Second"}]}
    ]


def test_entry_conditions_are_the_segment_builders_rows(marketer_client, connection):
    body = form_body(connection, trigger_type="join")
    body.update({"r1-field": "attributes.tier", "r1-op": "eq", "r1-value": "GOLD"})
    assert marketer_client.post(NEW, body).status_code == 302
    journey = Journey.objects.get()
    assert journey.entry_conditions == {
        "all": [{"field": "attributes.tier", "op": "eq", "value": "GOLD"}]
    }
    html = marketer_client.get(f"/journeys/{journey.pk}/edit/").content.decode()
    assert 'name="r1-field" value="attributes.tier"' in html


def test_the_event_trigger_suggests_the_event_names_seen(
    marketer_client, connection, api_client_for, marketer
):
    api = api_client_for(marketer)
    body = {"line_id": follower_id(7), "name": "order_shipped", "properties": {}}
    assert api.post("/api/v1/events", body, content_type="application/json").status_code == 202
    html = marketer_client.get(NEW).content.decode()
    assert '<datalist id="event-names"><option value="order_shipped">' in html


def test_the_api_trigger_shows_its_url_and_a_curl_example(marketer_client, connection, marketer):
    html = marketer_client.get(NEW).content.decode()
    assert 'data-show-when="trigger_type=api"' in html
    assert "http://testserver/api/v1/journeys/{id}/trigger" in html

    journey = journey_create(
        user=marketer,
        connection=connection,
        name="Receipt",
        trigger={"type": "api"},
        steps=[{"type": "send", "messages": [{"type": "text", "text": "{{ data.order_id }}"}]}],
    )
    detail = marketer_client.get(f"/journeys/{journey.pk}/").content.decode()
    assert f"curl -X POST http://testserver/api/v1/journeys/{journey.pk}/trigger" in detail
    assert "idempotency_key" in detail


def test_the_preview_renders_the_trigger_and_the_contact(marketer_client, connection):
    text = "{{ display_name }} said {{ event.text }} · {{ contact.tier | default: 'none' }}"
    body = keyword_body(connection, **{"s0-m-0-text": text}, step="0")
    html = marketer_client.post(PREVIEW, body).content.decode()
    assert "Sample contact said coupon · none" in html

    contact_upsert(line_id=follower_id(8), display_name="Kenji", attributes={"tier": "GOLD"})
    html = marketer_client.post(PREVIEW, {**body, "preview_contact": follower_id(8)}).content
    assert "Kenji said coupon · GOLD" in html.decode()

    event = form_body(connection, trigger_type="event", event_name="order_shipped", step="0")
    event["s0-m-0-text"] = "Order {{ event.properties.order }} ({{ event.name }})"
    event["preview_data"] = '{"order": "A-7"}'
    assert "Order A-7 (order_shipped)" in marketer_client.post(PREVIEW, event).content.decode()


def test_editing_an_active_journey_says_it_makes_a_new_version(coupon, marketer_client):
    edit = f"/journeys/{coupon.pk}/edit/"
    html = marketer_client.get(edit).content.decode()
    assert "Saving a change makes a new version" in html
    assert "contacts already in finish with the version they entered" in html
    assert "coupon\nクーポン</textarea>" in html  # the keywords, one per line

    body = keyword_body(coupon.connection, keywords="coupon\nsale")
    response = marketer_client.post(edit, body, follow=True)
    coupon.refresh_from_db()
    assert coupon.current_version.number == 2
    assert coupon.current_version.trigger["keywords"] == ["coupon", "sale"]
    assert "Saved as version 2" in response.content.decode()


def test_step_ids_given_over_the_api_are_kept_by_the_editor(marketer_client, connection, marketer):
    journey = make_journey(
        marketer,
        connection,
        {"type": "join"},
        activate=False,
        steps=[{"type": "send", "id": "hello", "messages": [{"type": "text", "text": "Hi"}]}],
    )
    html = marketer_client.get(f"/journeys/{journey.pk}/edit/").content.decode()
    assert 'name="s0-id" value="hello"' in html
    body = form_body(connection, trigger_type="join", steps=[[{"type": "text", "text": "Hey"}]])
    body["s0-id"] = "hello"
    assert marketer_client.post(f"/journeys/{journey.pk}/edit/", body).status_code == 302
    journey.refresh_from_db()
    assert journey.steps == [
        {"type": "send", "id": "hello", "messages": [{"type": "text", "text": "Hey"}]}
    ]


def test_an_archived_journey_is_not_edited(coupon, marketer_client):
    marketer_client.post(f"/journeys/{coupon.pk}/archive/")
    response = marketer_client.get(f"/journeys/{coupon.pk}/edit/", follow=True)
    assert "An archived journey cannot be edited" in response.content.decode()


# Actions


def test_activate_pause_archive_and_delete_are_posts_that_confirm(
    marketer_client, connection, marketer
):
    journey = make_journey(marketer, connection, {"type": "join"}, activate=False)
    page = f"/journeys/{journey.pk}/"
    html = marketer_client.get(page).content.decode()
    assert 'data-confirm="Activate “join journey”?' in html
    assert 'data-confirm="Delete the journey “join journey”? This cannot be undone."' in html
    assert marketer_client.get(f"{page}activate/").status_code == 405

    response = marketer_client.post(f"{page}activate/", follow=True)
    assert "Journey activated" in response.content.decode()
    assert Journey.objects.get().status == "active"
    response = marketer_client.post(f"{page}activate/", follow=True)
    assert "An active journey cannot be activated." in response.content.decode()

    marketer_client.post(f"{page}pause/")
    assert Journey.objects.get().status == "paused"
    html = marketer_client.get(page).content.decode()
    assert 'id="journey-status">Paused<' in html

    marketer_client.post(f"{page}archive/")
    assert Journey.objects.get().status == "archived"
    response = marketer_client.post(f"{page}delete/", follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert not Journey.objects.exists()


def test_activating_a_journey_whose_template_is_gone_says_what_to_fix(
    marketer_client, connection, marketer
):
    template = MessageTemplate.objects.create(name="Gone", messages=[{"type": "text", "text": "x"}])
    journey = make_journey(
        marketer,
        connection,
        {"type": "join"},
        activate=False,
        steps=[{"type": "send", "template": template.pk}],
    )
    template_id = template.pk
    template.delete()
    response = marketer_client.post(f"/journeys/{journey.pk}/activate/", follow=True)
    html = response.content.decode()
    assert f"Not activated: No template has id {template_id}." in html
    assert "Edit the journey to fix it." in html
    journey.refresh_from_db()
    assert journey.status == Journey.Status.DRAFT


def test_a_journey_with_runs_is_archived_not_deleted(coupon, coupon_traffic, marketer_client):
    page = f"/journeys/{coupon.pk}/"
    assert f'action="/journeys/{coupon.pk}/delete/"' not in (
        marketer_client.get(page).content.decode()
    )
    response = marketer_client.post(f"{page}delete/", follow=True)
    assert "archive it instead of deleting it" in response.content.decode()
    assert Journey.objects.filter(pk=coupon.pk).exists()


# The report, the run log and its CSV


def test_the_report_counts_the_ledger_replied_free_and_pushed(
    coupon, coupon_traffic, emulator, marketer_client
):
    sends = JourneySend.objects.filter(journey=coupon)
    via = {v: sends.filter(status="sent", via=v).count() for v in ("reply", "push")}
    assert via == {"reply": 1, "push": 1}
    ledger = [m["via"] for m in emulator.messages(to=coupon_traffic["gold"])]
    assert sorted(ledger) == ["push", "reply"]
    assert emulator.messages(to=coupon_traffic["plain"]) == []

    html = marketer_client.get(f"/journeys/{coupon.pk}/").content.decode()
    assert figure(html, "triggered") == JourneyRun.objects.filter(journey=coupon).count() == 4
    assert figure(html, "entered") == 3
    assert figure(html, "in_progress") == 0
    assert figure(html, "skipped") == 1
    assert figure(html, "attempted") == 3
    assert figure(html, "sent") == sends.filter(status="sent").count() == 2
    assert figure(html, "replied") == 1 and figure(html, "pushed") == 1
    assert figure(html, "failed") == sends.filter(status="failed").count() == 1
    skips = html.split('id="skip-reasons"')[1].split("</ul>")[0]
    assert "Opted out" in skips
    failures = html.split('id="failure-reasons"')[1].split("</ul>")[0]
    assert "Personalization failed (placeholder with no value)" in failures
    step = html.split('data-step="1"')[1].split("</tr>")[0]
    assert re.search(r'data-figure="attempted">3<', step)
    assert re.search(r'data-figure="sent">2<', step)
    assert re.search(r'data-figure="failed">1<', step)
    assert "Successfully sent (accepted by LINE)" in html


def test_the_run_log_lists_each_run_and_filters_by_status(coupon, coupon_traffic, marketer_client):
    runs = f"/journeys/{coupon.pk}/runs/"
    html = marketer_client.get(runs).content.decode()
    assert html.count("data-run=") == 4
    request_ids = JourneySend.objects.filter(status="sent").values_list("request_id", flat=True)
    for request_id in request_ids:
        assert request_id and request_id in html
    assert ">Replied (free)<" in html and ">Pushed<" in html
    assert "Opted out" in html

    failed = marketer_client.get(runs, {"status": "failed"}).content.decode()
    assert failed.count("data-run=") == 1
    assert "Personalization failed" in failed and "tier" in failed
    assert "runs.csv?status=failed" in failed
    by_contact = marketer_client.get(runs, {"q": "Gold Member"}).content.decode()
    assert by_contact.count("data-run=") == 2


def test_the_run_log_csv_has_every_run_with_safe_cells(
    coupon, coupon_traffic, analyst_client, analyst
):
    response = analyst_client.get(f"/journeys/{coupon.pk}/runs.csv")
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4
    assert {r["status"] for r in rows} == {"sent", "failed", "skipped"}
    assert sorted(r["via"] for r in rows if r["status"] == "sent") == ["push", "reply"]
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["display_name"] == "'=HYPERLINK(1)"  # a spreadsheet would run it
    assert failed["reason"] == "personalization"
    assert AuditEntry.objects.filter(action="journey.export_runs", actor=analyst).exists()

    skipped = analyst_client.get(f"/journeys/{coupon.pk}/runs.csv", {"status": "skipped"})
    lines = b"".join(skipped.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 2 and "opted_out" in lines[1]
    assert analyst_client.get(f"/journeys/{coupon.pk}/runs.csv?status=bogus").status_code == 400


def test_empty_report_and_run_log(marketer_client, connection, marketer):
    journey = make_journey(marketer, connection, {"type": "join"}, activate=False)
    html = marketer_client.get(f"/journeys/{journey.pk}/").content.decode()
    assert "Nothing sent yet: activate the journey, then trigger it." in html
    assert figure(html, "triggered") == 0
    runs = marketer_client.get(f"/journeys/{journey.pk}/runs/").content.decode()
    assert "No runs yet" in runs


# Roles


def test_an_analyst_reads_everything_and_changes_nothing(
    coupon, coupon_traffic, analyst_client, connection
):
    page = f"/journeys/{coupon.pk}/"
    for url in (LIST, page, f"{page}runs/", f"{page}runs.csv"):
        assert analyst_client.get(url).status_code == 200, url
    html = analyst_client.get(page).content.decode()
    for write in ("/edit/", "/pause/", "/archive/", "/activate/", "/delete/"):
        assert f"{page.rstrip('/')}{write}" not in html
    assert analyst_client.get(NEW).status_code == 403
    assert analyst_client.get(f"{page}edit/").status_code == 403
    assert analyst_client.post(NEW, keyword_body(connection)).status_code == 403
    for action in ("activate", "pause", "archive", "delete"):
        assert analyst_client.post(f"{page}{action}/").status_code == 403
    assert analyst_client.post(PREVIEW, {"step": "0"}).status_code == 403
    coupon.refresh_from_db()
    assert coupon.status == Journey.Status.ACTIVE and Journey.objects.count() == 1


def test_only_signed_in_users_see_journeys(connection):
    response = Client().get(LIST)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# The overview


def test_the_overview_shows_journey_sends_per_day_and_free_replies_on_the_quota_line(
    coupon, coupon_traffic, analyst_client
):
    html = analyst_client.get("/analytics/").content.decode()
    daily = html.split('id="journey-daily"')[1].split("</table>")[0]
    assert re.search(r'data-figure="replied">1<', daily)
    assert re.search(r'data-figure="pushed">1<', daily)
    assert 'id="journey-daily-data"' in html
    quota = html.split('id="journey-quota"')[1].split("</p>")[0]
    assert re.search(r'data-figure="replied">1<', quota)
    assert re.search(r'data-figure="pushed">1<', quota)


def test_the_overview_says_when_no_journey_sent(analyst_client, connection):
    html = analyst_client.get("/analytics/").content.decode()
    assert "No journey message was accepted in this range." in html
