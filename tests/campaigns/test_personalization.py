"""Liquid personalization: parsed once, strict about missing values unless a default is given."""

import pytest

from audiences.models import Contact
from campaigns.personalization import (
    PersonalizationError,
    TemplateSyntaxProblem,
    compile_messages,
    contact_context,
)

FLEX = {
    "type": "flex",
    "altText": "Hi {{ first_name | default: 'there' }}",
    "contents": {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": "Your plan: {{ plan }}", "size": "md"}],
        },
    },
}


def test_every_string_field_is_rendered_and_everything_else_is_kept():
    compiled = compile_messages([FLEX, {"type": "sticker", "packageId": "1", "stickerId": "2"}])
    assert compiled.is_personalized
    assert compiled.variables == {"first_name", "plan"}
    rendered = compiled.render({"first_name": "Aiko", "plan": "gold"})
    assert rendered[0]["altText"] == "Hi Aiko"
    assert rendered[0]["contents"]["body"]["contents"][0] == {
        "type": "text",
        "text": "Your plan: gold",
        "size": "md",
    }
    assert rendered[1] == {"type": "sticker", "packageId": "1", "stickerId": "2"}
    assert FLEX["altText"].startswith("Hi {{")  # the source is never modified


def test_a_default_covers_a_missing_value_but_a_bare_placeholder_fails_with_its_path():
    compiled = compile_messages([FLEX])
    assert compiled.render({"plan": "free"})[0]["altText"] == "Hi there"
    with pytest.raises(PersonalizationError) as missing:
        compiled.render({"first_name": "Aiko"})
    assert missing.value.variable == "plan"
    assert missing.value.property == "messages[0].contents.body.contents[0].text"
    assert compiled.required_variables() == {"plan"}


def test_syntax_errors_name_the_property():
    with pytest.raises(TemplateSyntaxProblem) as problem:
        compile_messages([{"type": "text", "text": "ok"}, {"type": "text", "text": "{% if x %}"}])
    assert problem.value.property == "messages[1].text"


def test_unpersonalized_messages_are_returned_as_they_are():
    messages = [{"type": "text", "text": "Same for all"}]
    compiled = compile_messages(messages)
    assert not compiled.is_personalized
    assert compiled.render({}) is messages


def test_the_context_holds_attributes_line_id_and_display_name_without_empty_values():
    contact = Contact(
        line_id="U" + "a" * 32,
        display_name="Aiko",
        attributes={"first_name": "Aiko", "city": "", "vip": None, "points": 12},
    )
    assert contact_context(contact) == {
        "first_name": "Aiko",
        "points": 12,
        "line_id": "U" + "a" * 32,
        "display_name": "Aiko",
    }
    compiled = compile_messages([{"type": "text", "text": '{{ city | default: "Tokyo" }}'}])
    assert compiled.render(contact_context(contact))[0]["text"] == "Tokyo"


def test_a_runaway_loop_is_refused_when_saved_and_stopped_by_the_limit_when_rendered():
    from campaigns.personalization import TemplateTooCostly
    from campaigns.template_services import template_problems

    messages = [{"type": "text", "text": "{% for i in (1..100000000) %}x{% endfor %}"}]
    [problem] = template_problems(messages=messages)
    assert problem["field"] == "messages[0].text"
    assert "hits the loop iteration limit" in problem["message"]
    with pytest.raises(TemplateTooCostly, match="loop iteration limit"):
        compile_messages(messages).render({"line_id": "U" + "0" * 32})
    fine = [{"type": "text", "text": "{% for i in (1..3) %}{{ i }}{% endfor %}"}]
    assert template_problems(messages=fine) == []
