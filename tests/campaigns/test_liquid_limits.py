"""Every Liquid render is bounded: loops, output, assigned values, filter results, nesting, time.

The attack from issue #11 (107 characters that doubled a string 26 times) took a worker from
117 MB to 1.1 GB; here it fails fast with a message naming the limit and memory stays small.
"""

import json
import tracemalloc

import pytest

from campaigns import personalization
from campaigns.models import Campaign, Delivery, MessageTemplate
from campaigns.personalization import TemplateSyntaxProblem, TemplateTooCostly, compile_messages
from tests.campaigns.engine_support import (
    drain,
    fast_engine,  # noqa: F401
    launch,
    line_id,
    make_contacts,
)

DOUBLING = (
    "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..26) %}{% assign s = s | append: s %}"
    "{% endfor %}{{ s | size }}"
)
# Each stays under the assigned values limit and then asks one filter for far more.
SQUARING = [
    "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..11) %}{% assign s = s | append: s %}"
    "{% endfor %}{{ s | replace: 'x', s | size }}",
    "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..11) %}{% assign s = s | append: s %}"
    "{% endfor %}{% assign a = s | split: ',' %}{% for i in (1..12) %}"
    "{% assign a = a | concat: a %}{% endfor %}{{ a | join: '' | size }}",
    "{{ (1..1000000000) | join: ',' }}",
    "{{ (1..1000000000) | sort | size }}",
    "{% assign n = 9 %}{% for i in (1..30) %}{% assign n = n | times: n %}{% endfor %}{{ n }}",
]


def text(template: str) -> list[dict]:
    return [{"type": "text", "text": template}]


def refused_with_peak_bytes(template: str) -> tuple[TemplateTooCostly, int]:
    compiled = compile_messages(text(template))
    tracemalloc.start()
    try:
        with pytest.raises(TemplateTooCostly) as refused:
            compiled.render({})
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return refused.value, peak


def test_the_doubling_attack_fails_on_the_value_size_with_little_memory():
    failure, peak = refused_with_peak_bytes(DOUBLING)
    assert peak < 5_000_000
    assert failure.property == "messages[0].text"
    assert failure.reason == "personalization_limit"
    assert "value size limit (50,000 characters" in str(failure)


@pytest.mark.parametrize("template", SQUARING)
def test_a_filter_is_refused_before_it_makes_a_value_past_the_limit(template):
    failure, peak = refused_with_peak_bytes(template)
    assert peak < 5_000_000
    assert "value size limit" in str(failure) or "assigned values limit" in str(failure)


def test_each_limit_is_named():
    cases = {
        "{% for i in (1..1001) %}x{% endfor %}": "loop iteration limit (1,000 iterations)",
        "{% for i in (1..999) %}" + "x" * 60 + "{% endfor %}": "output limit (50,000 bytes",
        "{% capture c %}{% for i in (1..999) %}" + "y" * 60 + "{% endfor %}{% endcapture %}": (
            "output limit"
        ),
    }
    for template, limit in cases.items():
        with pytest.raises(TemplateTooCostly, match=limit.replace("(", r"\(").replace(")", r"\)")):
            compile_messages(text(template)).render({})
    # A list holding one long value many times counts every copy.
    many = (
        "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..9) %}{% assign s = s | append: s %}"
        "{% endfor %}{% assign a = s | split: ',' %}{% for i in (1..7) %}"
        "{% assign a = a | concat: a %}{% endfor %}"
    )
    with pytest.raises(TemplateTooCostly, match="limit"):
        compile_messages(text(many)).render({})


def test_nesting_past_the_depth_limit_is_refused_when_parsed():
    deep = "{% if true %}" * 25 + "x" + "{% endif %}" * 25
    with pytest.raises(TemplateSyntaxProblem):
        compile_messages(text(deep))
    fine = "{% if true %}" * 5 + "x" + "{% endif %}" * 5
    assert compile_messages(text(fine)).render({})[0]["text"] == "x"


def test_a_render_past_its_time_budget_stops_with_the_time_limit(monkeypatch):
    template = "{% for i in (1..3) %}{{ i | plus: 1 }}{% endfor %}"
    assert compile_messages(text(template)).render({})[0]["text"] == "234"
    monkeypatch.setattr(personalization, "RENDER_SECONDS", -1.0)
    with pytest.raises(TemplateTooCostly, match=r"time limit \(250 ms a recipient\)"):
        compile_messages(text(template)).render({})


def test_ordinary_templates_still_render():
    template = (
        '{% assign greeting = "Hi" %}{{ greeting }} {{ first_name | default: "there" | upcase }}'
        "{% for item in items %} {{ forloop.index }}.{{ item | capitalize }}{% endfor %}"
        " {{ items | join: ', ' | replace: 'a', 'A' }}"
    )
    rendered = compile_messages(text(template)).render({"first_name": "aiko", "items": ["a", "b"]})
    assert rendered[0]["text"] == "Hi AIKO 1.A 2.B A, b"


@pytest.mark.django_db
def test_saving_through_the_api_refuses_the_attack_naming_the_limit(api_client_for, marketer):
    body = {"name": "Boom", "messages": text(DOUBLING)}
    response = api_client_for(marketer).post(
        "/api/v1/templates", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "messages[0].text"
    assert "value size limit" in error["message"]
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("tag", ["{% include 'other' %}", "{% render 'other' %}"])
def test_include_and_render_are_refused_on_save(api_client_for, marketer, tag):
    body = {"name": "Partial", "messages": text(f"Hi {tag}")}
    response = api_client_for(marketer).post(
        "/api/v1/templates", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "messages[0].text"
    assert "include and render are not supported" in error["message"]


@pytest.mark.django_db
def test_the_editor_page_refuses_the_attack_with_a_form_error(marketer_client):
    data = {"name": "Boom", "editor_mode": "form", "message_count": "1"}
    data |= {"m-0-type": "text", "m-0-text": DOUBLING, "action": "save"}
    response = marketer_client.post("/campaigns/templates/new/", data)
    assert response.status_code == 200
    assert "value size limit" in response.content.decode()
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_an_analysts_preview_of_the_attack_warns_with_the_limit(analyst_client):
    data = {"name": "Boom", "editor_mode": "form", "message_count": "1"}
    data |= {"m-0-type": "text", "m-0-text": DOUBLING}
    response = analyst_client.post("/campaigns/templates/preview/", data)
    assert response.status_code == 200
    assert "value size limit" in response.content.decode()


@pytest.mark.usefixtures("fast_engine")
def test_a_recipient_whose_data_drives_a_template_past_a_limit_fails_with_its_reason(
    emulator, connection, marketer
):
    make_contacts(2, attributes=lambda i: {"times": [3, 5000][i]})
    messages = text("{% for i in (1..times) %}x{% endfor %}")
    campaign = drain(launch(marketer, connection, messages=messages))

    failed = Delivery.objects.get(campaign=campaign, status=Delivery.Status.FAILED)
    assert failed.line_id == line_id(1)
    assert failed.reason == "personalization_limit"
    assert "loop iteration limit" in failed.error_message
    assert [e["messages"] for e in emulator.messages()] == [text("xxx")]
    assert (campaign.sent, campaign.failed) == (1, 1)


def test_a_default_still_covers_a_missing_value_before_the_bounded_filters():
    template = '{{ missing | default: "none" | replace: "n", "N" }}'
    assert compile_messages(text(template)).render({})[0]["text"] == "NoNe"


@pytest.mark.django_db
def test_a_campaign_with_its_own_messages_refuses_the_attack_on_save(
    api_client_for, marketer, connection
):
    body = {
        "name": "Boom",
        "connection": connection.pk,
        "all_following": True,
        "messages": text(DOUBLING),
    }
    response = api_client_for(marketer).post(
        "/api/v1/campaigns", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422
    assert "value size limit" in response.content.decode()
    assert not Campaign.objects.exists()
