import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from audiences.models import Contact, ImportJob, Segment
from campaigns.models import Campaign, Delivery
from connections.models import Connection, WebhookEvent
from tests.audiences.factories import contact, line_id

pytestmark = pytest.mark.django_db
A = "U" + "a" * 32


def test_contact_list_searches_and_filters(marketer_client):
    first = contact(
        display_name="Aki Tanaka", attributes={"city": "Tokyo"}, line_id="U" + "ab" * 16
    )
    contact(display_name="Ben", follow_status="following", attributes={"city": "Osaka"})
    contact(display_name="Chi", line_id=line_id("C"))
    url = reverse("contact_list")
    assert "Aki Tanaka" in marketer_client.get(url, {"q": "tanaka"}).content.decode()
    assert "Ben" in marketer_client.get(url, {"q": "osaka"}).content.decode()
    body = marketer_client.get(url, {"q": first.line_id[:20]}).content.decode()
    assert "Aki Tanaka" in body and "Ben" not in body
    body = marketer_client.get(url, {"follow_status": "following"}).content.decode()
    assert "Ben" in body and "Aki" not in body
    body = marketer_client.get(url, {"kind": "group"}).content.decode()
    assert "Chi" in body and "Ben" not in body
    assert "No contacts match" in marketer_client.get(url, {"q": "zzz"}).content.decode()


def test_contact_list_pages_with_older_links(marketer_client):
    for i in range(55):
        contact(display_name=f"person-{i:02d}")
    first = marketer_client.get(reverse("contact_list"))
    page_one = first.content.decode()
    assert "person-54" in page_one and "person-04" not in page_one
    before = first.context["next_before"]
    second = marketer_client.get(reverse("contact_list"), {"before": before})
    page_two = second.content.decode()
    assert "person-04" in page_two and "person-54" not in page_two
    assert "Newer" in page_two and "Newer" not in page_one
    back = marketer_client.get(reverse("contact_list"), {"after": second.context["prev_after"]})
    assert [c.display_name for c in back.context["contacts"]] == [
        c.display_name for c in first.context["contacts"]
    ]
    assert back.context["prev_after"] is None and back.context["next_before"] == before


def test_contact_list_newer_pages_walk_back_up_to_the_newest(marketer_client):
    people = [contact(display_name=f"p{i:03d}") for i in range(120)]
    url = reverse("contact_list")
    seen, response = [], marketer_client.get(url)
    while response.context["next_before"]:
        response = marketer_client.get(url, {"before": response.context["next_before"]})
    bottom = response.context["contacts"]
    assert bottom[-1].pk == people[0].pk
    while response.context["prev_after"]:
        seen += [c.pk for c in response.context["contacts"]]
        response = marketer_client.get(url, {"after": response.context["prev_after"]})
    seen += [c.pk for c in response.context["contacts"]]
    assert sorted(seen) == sorted(p.pk for p in people) and len(seen) == 120


def test_empty_contact_list_explains_where_contacts_come_from(analyst_client):
    body = analyst_client.get(reverse("contact_list")).content.decode()
    assert "No contacts yet" in body


def test_contact_detail_shows_attributes_events_and_campaigns(marketer_client):
    person = contact(display_name="Aki", attributes={"plan": "gold"})
    channel = Connection.objects.create(name="c", channel_access_token="t", channel_secret="s")
    campaign = Campaign.objects.create(name="Spring sale", connection=channel)
    Delivery.objects.create(
        campaign=campaign, contact=person, line_id=person.line_id, status="sent"
    )
    WebhookEvent.objects.create(
        connection=channel,
        webhook_event_id="ev1",
        type="follow",
        source_id=person.line_id,
        raw={},
        event_time=timezone.now(),
    )
    body = marketer_client.get(reverse("contact_detail", args=[person.pk])).content.decode()
    assert "plan" in body and "gold" in body
    assert "Spring sale" in body and "follow" in body


def test_marketer_edits_opts_out_and_deletes_a_contact(marketer_client):
    person = contact(attributes={"a": 1})
    url = reverse("contact_detail", args=[person.pk])
    response = marketer_client.post(url, {"display_name": "New", "attributes": '{"b": 2}'})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.display_name == "New" and person.attributes == {"b": 2}
    bad = marketer_client.post(url, {"display_name": "x", "attributes": "[1]"})
    assert bad.status_code == 200 and "JSON object" in bad.content.decode()
    marketer_client.post(reverse("contact_opt_out", args=[person.pk]), {"opted_out": "true"})
    person.refresh_from_db()
    assert person.opted_out
    marketer_client.post(reverse("contact_delete", args=[person.pk]))
    assert not Contact.objects.filter(pk=person.pk).exists()


def test_analyst_sees_no_write_controls_and_gets_403_on_posts(analyst_client):
    person = contact()
    body = analyst_client.get(reverse("contact_detail", args=[person.pk])).content.decode()
    assert "Delete" not in body and "Opt out" not in body
    assert analyst_client.post(reverse("contact_delete", args=[person.pk])).status_code == 403
    assert analyst_client.post(reverse("contact_opt_out", args=[person.pk])).status_code == 403
    detail = reverse("contact_detail", args=[person.pk])
    assert analyst_client.post(detail, {"attributes": "{}"}).status_code == 403
    assert analyst_client.post(reverse("segment_create"), {"name": "x"}).status_code == 403
    assert analyst_client.post(reverse("import_list")).status_code == 403
    assert Contact.objects.filter(pk=person.pk).exists()
    assert "Upload" not in analyst_client.get(reverse("import_list")).content.decode()


def builder_post(rows: list[tuple], match="all", **extra) -> dict:
    data = {"match": match, **extra}
    for n, (field, op, value, *group) in enumerate(rows, start=1):
        data.update(
            {
                f"r{n}-field": field,
                f"r{n}-op": op,
                f"r{n}-value": value,
                f"r{n}-group": group[0] if group else "",
            }
        )
    return data


def test_segment_builder_saves_rules_with_a_nested_group(marketer_client):
    data = builder_post(
        [
            ("attributes.plan", "eq", "gold"),
            ("attributes.age", "gte", "30", "g1"),
            ("kind", "in", "group, room", "g1"),
        ],
        name="Gold",
        **{"g1-match": "any"},
    )
    response = marketer_client.post(reverse("segment_create"), data)
    assert response.status_code == 302
    assert Segment.objects.get().rules == {
        "all": [
            {"field": "attributes.plan", "op": "eq", "value": "gold"},
            {
                "any": [
                    {"field": "attributes.age", "op": "gte", "value": 30},
                    {"field": "kind", "op": "in", "value": ["group", "room"]},
                ]
            },
        ]
    }
    edit = marketer_client.get(reverse("segment_edit", args=[Segment.objects.get().pk]))
    assert 'value="attributes.age"' in edit.content.decode()


def test_segment_builder_shows_the_rule_error(marketer_client):
    data = builder_post([("shoe", "eq", "x")], name="Bad")
    response = marketer_client.post(reverse("segment_create"), data)
    assert response.status_code == 200 and "unknown field" in response.content.decode()
    assert not Segment.objects.exists()


def test_live_preview_counts_and_samples(marketer_client):
    contact(display_name="g1", attributes={"plan": "gold"}, follow_status="following")
    contact(
        display_name="g2", attributes={"plan": "gold"}, opted_out=True, follow_status="following"
    )
    contact(display_name="s1", attributes={"plan": "silver"})
    response = marketer_client.post(
        reverse("segment_preview"), builder_post([("attributes.plan", "eq", "gold")])
    )
    assert response.context["count"] == 2 and response.context["expected_recipients"] == 1
    assert {c.display_name for c in response.context["sample"]} == {"g1", "g2"}


def test_builder_adds_and_removes_rows_and_applies_json(marketer_client):
    url = reverse("segment_builder")
    added = marketer_client.post(url, builder_post([("kind", "eq", "user")], action="add-group"))
    assert len(added.context["builder"].rows) == 3
    removed = marketer_client.post(
        url, builder_post([("kind", "eq", "user"), ("source", "eq", "api")], action="remove-1")
    )
    assert [r.field for r in removed.context["builder"].rows] == ["source"]
    rules = '{"any": [{"field": "opted_out", "op": "eq", "value": true}]}'
    applied = marketer_client.post(url, {"action": "apply-json", "rules_json": rules})
    assert applied.context["builder"].match == "any"
    assert applied.context["builder"].rows[0].value == "true"


def test_segment_list_counts_each_segment(analyst_client, marketer):
    contact(attributes={"plan": "gold"}, follow_status="following")
    segment = Segment.objects.create(
        name="Gold", rules={"all": [{"field": "attributes.plan", "op": "eq", "value": "gold"}]}
    )
    assert "Gold" in analyst_client.get(reverse("segment_list")).content.decode()
    cell = analyst_client.get(reverse("segment_count", args=[segment.pk]))
    assert cell.content.decode().count("<td>1</td>") == 2


def test_csv_upload_map_columns_run_and_download_errors(
    marketer_client, eager_celery, django_capture_on_commit_callbacks
):
    data = f"line_id,plan,age\n{A},gold,34\nbad,silver,2\n".encode()
    upload = SimpleUploadedFile("people.csv", data, content_type="text/csv")
    response = marketer_client.post(reverse("import_list"), {"file": upload})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.status == "mapping"
    page = marketer_client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "gold" in page and "people.csv" in page
    columns = {f"col_{i}": t for i, t in enumerate(["", "text", "number"])}
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(
            reverse("import_detail", args=[job.pk]),
            {"line_id": "line_id", "display_name": "", **columns},
        )
    job.refresh_from_db()
    assert (job.status, job.created, job.rejected) == ("completed", 1, 1)
    assert Contact.objects.get(line_id=A).attributes == {"plan": "gold", "age": 34}
    progress = marketer_client.get(
        reverse("import_detail", args=[job.pk]), headers={"HX-Request": "true"}
    )
    assert "100%" in progress.content.decode()
    report = marketer_client.get(reverse("import_errors", args=[job.pk]))
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert "3,bad," in text


def test_upload_over_the_size_limit_is_refused(marketer_client, settings):
    settings.CONTACT_IMPORT_MAX_MB = 0
    upload = SimpleUploadedFile("big.csv", b"line_id\n" + b"x" * 100, content_type="text/csv")
    response = marketer_client.post(reverse("import_list"), {"file": upload})
    assert response.status_code == 200 and "limit" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_search_finds_an_exact_external_id_and_an_earlier_line_id(marketer_client):
    from audiences.services import contact_upsert

    known = contact(display_name="Known", external_id="crm-77")
    contact(display_name="Other", external_id="crm-778")
    old = known.line_id
    contact_upsert(line_id=line_id(), external_id="crm-77")
    url = reverse("contact_list")
    body = marketer_client.get(url, {"q": "crm-77"}).content.decode()
    assert "Known" in body and "Other" not in body
    found = marketer_client.get(url, {"q": old}).context["contacts"]
    assert [c.pk for c in found] == [known.pk]
    page = marketer_client.get(reverse("contact_detail", args=[known.pk])).content.decode()
    assert old in page


def test_a_short_hex_looking_search_also_matches_names(marketer_client):
    contact(display_name="Cafe Tanaka")
    body = marketer_client.get(reverse("contact_list"), {"q": "Cafe"}).content.decode()
    assert "Cafe Tanaka" in body


def test_a_segment_used_by_a_campaign_is_not_deleted(marketer_client):
    segment = Segment.objects.create(name="Used", rules={"all": []})
    channel = Connection.objects.create(name="c", channel_access_token="t", channel_secret="s")
    Campaign.objects.create(name="C", connection=channel, segment=segment)
    response = marketer_client.post(reverse("segment_delete", args=[segment.pk]), follow=True)
    assert "audience of a campaign" in response.content.decode()
    assert Segment.objects.filter(pk=segment.pk).exists()
