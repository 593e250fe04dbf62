"""The journeys REST API: build a journey, move it through its states, read its report and run
log, and trigger an `api` journey for one person (the send lands in the LINE emulator)."""

import pytest
from django.test import Client
from jsonschema import Draft202012Validator

from audiences.models import Contact
from campaigns.models import MessageTemplate
from journeys.entry import retry_key
from journeys.models import Journey, JourneyRun, JourneySend
from kit.models import AuditEntry
from tests.connections.helpers import follower_id

URL = "/api/v1/journeys"
RECEIPT = [
    {
        "type": "text",
        "text": "Hi {{ contact.display_name | default: 'there' }}, order {{ data.order_id }} "
        "has shipped.",
    }
]


@pytest.fixture
def api(marketer, api_client_for) -> Client:
    return api_client_for(marketer)


def post(client: Client, url: str, body: dict | None = None):
    return client.post(url, body or {}, content_type="application/json")


def patch(client: Client, url: str, body: dict):
    return client.patch(url, body, content_type="application/json")


def body(connection, /, **changes) -> dict:
    return {
        "name": "Order shipped",
        "connection": connection.pk,
        "trigger": {"type": "api"},
        "transactional": True,
        "steps": [{"type": "send", "messages": RECEIPT}],
        **changes,
    }


def create(client: Client, connection, **changes) -> int:
    response = post(client, URL, body(connection, **changes))
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def active_journey(client: Client, connection, **changes) -> int:
    journey_id = create(client, connection, **changes)
    assert post(client, f"{URL}/{journey_id}/activate").status_code == 200
    return journey_id


def trigger(client: Client, journey_id: int, capture, **fields):
    """Triggers the journey and runs the send it queues (eager Celery, after commit)."""
    with capture(execute=True):
        return post(client, f"{URL}/{journey_id}/trigger", fields)


def test_a_marketer_creates_lists_reads_edits_and_deletes_a_draft(api, connection):
    created = post(api, URL, body(connection, connection=connection.name))
    assert created.status_code == 201, created.json()
    journey_id = created.json()["id"]
    journey = Journey.objects.get(pk=journey_id)
    assert (journey.status, journey.connection, journey.entry) == ("draft", connection, "once")
    assert journey.daily_limit == 3
    assert journey.steps == [{"type": "send", "messages": RECEIPT}]

    got = api.get(f"{URL}/{journey_id}").json()
    assert got["status"] == "draft" and got["version"] is None
    assert (got["trigger_type"], got["trigger_summary"]) == ("api", "API call")
    assert (got["connection"], got["connection_name"]) == (connection.pk, "Main OA")
    assert got["steps"] == [{"type": "send", "messages": RECEIPT}]

    drafts = api.get(URL, {"status": "draft"}).json()
    assert [j["id"] for j in drafts["items"]] == [journey_id]
    assert (drafts["page"], drafts["page_size"], drafts["has_next"]) == (1, 100, False)
    assert api.get(URL, {"status": "active"}).json()["items"] == []

    edited = patch(
        api,
        f"{URL}/{journey_id}",
        {"name": "Receipt", "entry": {"at_most_every": "1d"}, "daily_limit": 5},
    )
    assert edited.status_code == 200, edited.json()
    assert (edited.json()["name"], edited.json()["entry"]) == ("Receipt", {"at_most_every": "1d"})
    journey.refresh_from_db()
    # What the PATCH did not name is kept.
    assert journey.trigger == {"type": "api"} and journey.transactional is True
    assert journey.daily_limit == 5

    assert api.delete(f"{URL}/{journey_id}").status_code == 204
    assert api.get(f"{URL}/{journey_id}").status_code == 404
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"journey.create", "journey.update", "journey.delete"} <= actions


def test_a_step_may_send_a_template(api, connection, marketer):
    template = MessageTemplate.objects.create(name="Receipt", messages=RECEIPT)
    journey_id = create(api, connection, steps=[{"type": "send", "template": template.pk}])
    assert Journey.objects.get(pk=journey_id).steps == [{"type": "send", "template": template.pk}]
    activated = post(api, f"{URL}/{journey_id}/activate").json()
    journey = Journey.objects.get(pk=journey_id)
    assert activated["version"] == 1
    assert journey.current_version.steps[0]["messages"] == RECEIPT


KEYWORD = {"type": "keyword", "keywords": ["coupon"]}
INVALID = [
    ({"name": "   "}, "name"),
    ({"connection": "No such OA"}, "connection"),
    ({"trigger": {"type": "nope"}}, "trigger.type"),
    ({"trigger": {"type": "keyword", "keywords": ["coupon", " "]}}, "trigger.keywords[1]"),
    ({"trigger": {"type": "keyword", "keywords": []}}, "trigger.keywords"),
    ({"trigger": {"type": "keyword", "keywords": ["x"], "match": "fuzzy"}}, "trigger.match"),
    ({"trigger": {"type": "follow", "when": "sometimes"}}, "trigger.when"),
    ({"trigger": {"type": "postback"}}, "trigger.data"),
    ({"trigger": {"type": "event", "name": ""}}, "trigger.name"),
    ({"trigger": {"type": "api", "name": "x"}}, "trigger.name"),
    ({"trigger": KEYWORD, "transactional": True}, "transactional"),
    ({"entry": "sometimes"}, "entry"),
    ({"entry": {"at_most_every": "soon"}}, "entry.at_most_every"),
    ({"entry_conditions": {"all": [{"field": "nope", "op": "eq", "value": 1}]}}, None),
    ({"steps": []}, "steps"),
    ({"steps": [{"type": "send"}]}, "steps[0]"),
    ({"steps": [{"type": "send", "template": 999999}]}, "steps[0].template"),
    (
        {
            "steps": [
                {"type": "send", "messages": RECEIPT},
                {"type": "send", "messages": [{"type": "text", "text": ""}]},
            ]
        },
        "steps[1].messages[0].text",
    ),
    (
        {"steps": [{"type": "send", "messages": [{"type": "text", "text": "{{ oops"}]}]},
        "steps[0].messages[0].text",
    ),
]


@pytest.mark.parametrize(("changes", "field"), INVALID)
def test_an_invalid_journey_is_a_422_naming_the_field(api, connection, changes, field):
    response = post(api, URL, body(connection, **changes))
    assert response.status_code == 422, response.json()
    answer = response.json()
    assert answer["detail"] == "The journey is not valid."
    fields = [e["field"] for e in answer["errors"]]
    if field is None:  # entry conditions: the path inside the rule tree
        assert fields == ["entry_conditions.all[0].field"], fields
    else:
        assert field in fields, answer
    assert all(e["message"] for e in answer["errors"])
    assert not Journey.objects.exists()


def test_an_invalid_edit_is_a_422_and_changes_nothing(api, connection):
    journey_id = create(api, connection)
    response = patch(
        api,
        f"{URL}/{journey_id}",
        {"name": "Renamed", "trigger": {"type": "keyword"}, "transactional": False},
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["trigger.keywords"]
    assert Journey.objects.get(pk=journey_id).name == "Order shipped"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"steps": [{"type": "wait", "messages": RECEIPT}]}, "steps.0.type"),
        ({"steps": [{"type": "send", "messages": RECEIPT, "delay": "1h"}]}, "steps.0.delay"),
        ({"entry_condition": {"all": []}}, "entry_condition"),
        ({"daily_limit": 0}, "daily_limit"),
        ({"transactional": "yes"}, "transactional"),
        ({"trigger": "api"}, "trigger"),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_400_naming_the_field(api, connection, changes, field):
    response = post(api, URL, body(connection, **changes))
    assert response.status_code == 400, response.json()
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not Journey.objects.exists()


def test_activate_pause_archive_and_the_states_that_refuse_them(api, connection):
    journey_id = create(api, connection)
    at = f"{URL}/{journey_id}"
    assert post(api, f"{at}/pause").status_code == 409

    active = post(api, f"{at}/activate")
    assert active.status_code == 200
    assert (active.json()["status"], active.json()["version"]) == ("active", 1)
    again = post(api, f"{at}/activate")
    assert again.status_code == 409
    assert again.json()["detail"] == "An active journey cannot be activated."

    # Editing an active journey freezes a new version at once.
    assert patch(api, at, {"daily_limit": 4}).json()["version"] == 2

    paused = post(api, f"{at}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert post(api, f"{at}/pause").json()["detail"] == "A paused journey cannot be paused."
    assert post(api, f"{at}/activate").json()["status"] == "active"

    archived = post(api, f"{at}/archive")
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    for action in ("activate", "pause", "archive"):
        refused = post(api, f"{at}/{action}")
        assert refused.status_code == 409, action
        assert refused.json()["detail"] == f"An archived journey cannot be {action}d."
    edit = patch(api, at, {"name": "Again"})
    assert edit.status_code == 409
    assert edit.json()["detail"] == "An archived journey cannot be edited; copy it into a new one."
    assert Journey.objects.get(pk=journey_id).name == "Order shipped"


def test_activation_checks_the_definition_again(api, connection):
    template = MessageTemplate.objects.create(name="Receipt", messages=RECEIPT)
    journey_id = create(api, connection, steps=[{"type": "send", "template": template.pk}])
    template.delete()
    response = post(api, f"{URL}/{journey_id}/activate")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "steps[0].template"
    assert Journey.objects.get(pk=journey_id).status == "draft"


def test_unknown_ids_are_404(api, db):
    for method, path in [
        ("get", f"{URL}/999"),
        ("get", f"{URL}/999/report"),
        ("get", f"{URL}/999/runs"),
        ("get", f"{URL}/runs/999"),
        ("post", f"{URL}/999/activate"),
        ("delete", f"{URL}/999"),
    ]:
        response = getattr(api, method)(path)
        assert response.status_code == 404, path
        assert response.json()["detail"].startswith("No journey"), path


def test_analysts_read_but_do_not_write(api, connection, analyst, api_client_for):
    journey_id = create(api, connection)
    reader = api_client_for(analyst)
    for path in (URL, f"{URL}/{journey_id}", f"{URL}/{journey_id}/report"):
        assert reader.get(path).status_code == 200, path
    assert reader.get(f"{URL}/{journey_id}/runs").status_code == 200
    assert post(reader, URL, body(connection)).status_code == 403
    assert patch(reader, f"{URL}/{journey_id}", {"name": "x"}).status_code == 403
    assert reader.delete(f"{URL}/{journey_id}").status_code == 403
    for action in ("activate", "pause", "archive"):
        assert post(reader, f"{URL}/{journey_id}/{action}").status_code == 403
    trigger = post(reader, f"{URL}/{journey_id}/trigger", {"line_id": follower_id(0)})
    assert trigger.status_code == 403
    assert trigger.json()["detail"] == "Your role does not allow this action."
    assert Journey.objects.get(pk=journey_id).status == "draft"


def test_admins_write(connection, admin_user, api_client_for):
    assert post(api_client_for(admin_user), URL, body(connection)).status_code == 201


def test_no_credentials_is_a_401(connection, api):
    journey_id = create(api, connection)
    anonymous = Client()
    for response in (
        anonymous.get(URL),
        anonymous.get(f"{URL}/{journey_id}"),
        anonymous.get(f"{URL}/runs/1"),
        post(anonymous, URL, body(connection)),
        post(anonymous, f"{URL}/{journey_id}/trigger", {"line_id": follower_id(0)}),
    ):
        assert response.status_code == 401


def test_a_trigger_sends_the_personalized_message_once_per_idempotency_key(
    api, connection, emulator, eager_celery, django_capture_on_commit_callbacks
):
    journey_id = active_journey(api, connection)
    to = "U" + "ab" * 16  # not a contact yet
    fields = {"line_id": to, "data": {"order_id": "A-17"}, "idempotency_key": "ship-A-17"}
    first = trigger(api, journey_id, django_capture_on_commit_callbacks, **fields)
    assert first.status_code == 202, first.json()
    run_id = first.json()["run"]

    [message] = emulator.messages(to=to)
    assert message["messages"] == [{"type": "text", "text": "Hi there, order A-17 has shipped."}]
    assert message["via"] == "push"
    assert message["retry_key"] == str(retry_key(journey_id, "api:ship-A-17", 0))
    contact = Contact.objects.get(line_id=to)
    assert contact.source == Contact.Source.API

    again = trigger(api, journey_id, django_capture_on_commit_callbacks, **fields)
    assert (again.status_code, again.json()) == (202, {"run": run_id})
    assert len(emulator.messages(to=to)) == 1
    assert JourneyRun.objects.count() == 1 and JourneySend.objects.count() == 1
    # A client retrying after a lost answer learns what its call did, even after a pause.
    assert post(api, f"{URL}/{journey_id}/pause").status_code == 200
    paused = trigger(api, journey_id, django_capture_on_commit_callbacks, **fields)
    assert (paused.status_code, paused.json()) == (202, {"run": run_id})
    other_key = {**fields, "idempotency_key": "ship-A-18"}
    assert (
        trigger(api, journey_id, django_capture_on_commit_callbacks, **other_key).status_code == 409
    )
    assert len(emulator.messages(to=to)) == 1

    outcome = api.get(f"{URL}/runs/{run_id}").json()
    assert (outcome["id"], outcome["journey"]) == (run_id, journey_id)
    assert (outcome["status"], outcome["via"], outcome["error"]) == ("sent", "push", "")
    assert outcome["line_request_id"] == message["request_id"]
    assert outcome["finished_at"]

    log = api.get(f"{URL}/{journey_id}/runs", {"status": "sent"}).json()
    [run] = log["items"]
    assert (run["id"], run["line_id"], run["trigger_type"]) == (run_id, to, "api")
    [send] = run["sends"]
    assert (send["step"], send["status"], send["via"]) == (0, "sent", "push")
    assert (send["http_status"], send["attempts"]) == (200, 1)
    assert send["request_id"] == message["request_id"]
    assert api.get(f"{URL}/{journey_id}/runs", {"status": "failed"}).json()["items"] == []

    report = api.get(f"{URL}/{journey_id}/report").json()
    assert {k: report[k] for k in ("triggered", "entered", "sent", "pushed", "replied")} == {
        "triggered": 1,
        "entered": 1,
        "sent": 1,
        "pushed": 1,
        "replied": 0,
    }
    assert report["steps"][0]["attempted"] == 1

    # A journey with runs keeps its report: it is archived, not deleted.
    refused = api.delete(f"{URL}/{journey_id}")
    assert refused.status_code == 409
    assert "archive it instead" in refused.json()["detail"]


def test_a_trigger_by_external_id_uses_the_contacts_attributes(
    api, connection, emulator, eager_celery, django_capture_on_commit_callbacks
):
    journey_id = active_journey(api, connection)
    Contact.objects.create(line_id=follower_id(2), display_name="Aki", external_id="crm-7")
    response = trigger(
        api,
        journey_id,
        django_capture_on_commit_callbacks,
        external_id="crm-7",
        data={"order_id": "B-2"},
    )
    assert response.status_code == 202
    [message] = emulator.messages(to=follower_id(2))
    assert message["messages"][0]["text"] == "Hi Aki, order B-2 has shipped."


def test_a_missing_value_without_default_fails_the_run_with_the_reason(
    api, connection, emulator, eager_celery, django_capture_on_commit_callbacks
):
    journey_id = active_journey(api, connection)
    response = trigger(
        api,
        journey_id,
        django_capture_on_commit_callbacks,
        line_id=follower_id(1),
        data={"order": "A-17"},  # not order_id
    )
    assert response.status_code == 202
    outcome = api.get(f"{URL}/runs/{response.json()['run']}").json()
    assert (outcome["status"], outcome["reason"], outcome["via"]) == (
        "failed",
        "personalization",
        "",
    )
    assert outcome["error"] == "messages[0].text: no value for 'data.order_id' and no default"
    assert emulator.messages(to=follower_id(1)) == []
    [send] = api.get(f"{URL}/{journey_id}/runs").json()["items"][0]["sends"]
    assert (send["status"], send["reason"], send["attempts"]) == ("failed", "personalization", 0)
    assert send["error_message"] == outcome["error"]


def test_a_trigger_for_an_unknown_external_id_is_a_404(
    api, connection, emulator, django_capture_on_commit_callbacks
):
    journey_id = active_journey(api, connection)
    response = trigger(
        api, journey_id, django_capture_on_commit_callbacks, external_id="nobody", data={}
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "No contact has this external_id."
    assert not JourneyRun.objects.exists() and not Contact.objects.exists()


def test_only_an_active_api_journey_can_be_triggered(api, connection, emulator):
    draft = create(api, connection)
    keyword = active_journey(
        api, connection, trigger={"type": "keyword", "keywords": ["hi"]}, transactional=False
    )
    paused = active_journey(api, connection)
    post(api, f"{URL}/{paused}/pause")
    person = {"line_id": follower_id(0)}
    for journey_id, detail in [
        (draft, "The journey is not active: activate it before triggering it."),
        (paused, "The journey is not active: activate it before triggering it."),
        (keyword, "This journey starts on its keyword trigger, not on API calls."),
    ]:
        response = post(api, f"{URL}/{journey_id}/trigger", person)
        assert response.status_code == 409
        assert response.json()["detail"] == detail
    assert not JourneyRun.objects.exists()
    assert emulator.messages() == []


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({}, 400, "body"),
        ({"line_id": follower_id(0), "external_id": "crm-1"}, 400, "body"),
        ({"line_id": "U123"}, 400, "line_id"),
        ({"line_id": follower_id(0), "data": []}, 400, "data"),
        ({"line_id": follower_id(0), "idempotency_key": ""}, 400, "idempotency_key"),
        ({"line_id": follower_id(0), "idempotency_key": "k" * 256}, 400, "idempotency_key"),
        ({"line_id": follower_id(0), "idempotency_key": "tab\there"}, 400, "idempotency_key"),
        ({"line_id": follower_id(0), "idempotency": "typo"}, 400, "idempotency"),
        ({"line_id": follower_id(0), "data": {"note": "x" * 17_000}}, 422, "data"),
    ],
)
def test_a_bad_trigger_is_refused_naming_the_field(
    api, connection, emulator, fields, status, field
):
    journey_id = active_journey(api, connection)
    response = post(api, f"{URL}/{journey_id}/trigger", fields)
    assert response.status_code == status, response.json()
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not JourneyRun.objects.exists()


def assert_documented(document: dict, path: str, method: str, response) -> None:
    """The answer has the shape the document declares for its operation and status."""
    declared = document["paths"][f"/api/v1{path}"][method]["responses"][str(response.status_code)]
    schema = declared["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": document["components"]})
    validator.validate(response.json())


def test_every_answer_has_the_documented_shape(
    api, connection, emulator, eager_celery, django_capture_on_commit_callbacks
):
    """Schemathesis meets only unknown ids here; these are the answers about real journeys."""
    document = api.get("/api/v1/openapi.json").json()
    journey_id = active_journey(api, connection, entry_conditions={"all": []})
    Contact.objects.create(line_id=follower_id(3), follow_status=Contact.FollowStatus.UNFOLLOWED)
    runs = []
    for person, data in [
        (follower_id(0), {"order_id": "A-1"}),  # sent
        (follower_id(1), {}),  # failed: personalization
        (follower_id(3), {"order_id": "A-3"}),  # skipped: unfollowed
    ]:
        answer = trigger(
            api, journey_id, django_capture_on_commit_callbacks, line_id=person, data=data
        )
        assert_documented(document, "/journeys/{journey_id}/trigger", "post", answer)
        runs.append(answer.json()["run"])
    assert [JourneyRun.objects.get(pk=pk).status for pk in runs] == ["sent", "failed", "skipped"]

    reads = [
        ("/journeys", "get", URL),
        ("/journeys/{journey_id}", "get", f"{URL}/{journey_id}"),
        ("/journeys/{journey_id}/report", "get", f"{URL}/{journey_id}/report"),
        ("/journeys/{journey_id}/runs", "get", f"{URL}/{journey_id}/runs"),
        *(("/journeys/runs/{run_id}", "get", f"{URL}/runs/{pk}") for pk in runs),
    ]
    for path, method, url in reads:
        response = api.get(url)
        assert response.status_code == 200, url
        assert_documented(document, path, method, response)
    report = api.get(f"{URL}/{journey_id}/report").json()
    assert report["skipped_by_reason"][0]["reason"] == "unfollowed"
    label = "Personalization failed (placeholder with no value)"
    assert report["failed_by_reason"] == [{"reason": "personalization", "label": label, "count": 1}]

    edited = patch(api, f"{URL}/{journey_id}", {"entry_conditions": None})
    assert_documented(document, "/journeys/{journey_id}", "patch", edited)
    assert edited.json()["entry_conditions"] is None
    for action in ("pause", "archive"):
        response = post(api, f"{URL}/{journey_id}/{action}")
        assert_documented(document, f"/journeys/{{journey_id}}/{action}", "post", response)
    refused = post(api, f"{URL}/{journey_id}/pause")
    assert_documented(document, "/journeys/{journey_id}/pause", "post", refused)
    assert set(document["paths"]["/api/v1/journeys/{journey_id}"]) == {"get", "patch", "delete"}
