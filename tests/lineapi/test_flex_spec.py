"""The message rules follow LINE's OpenAPI document: every required property of the message
schemas, and every required property and enum of the Flex* schemas, with the same values."""

from __future__ import annotations

import functools

import pytest
import yaml

from lineapi.messages import FLEX_BUBBLE_SIZES, FLEX_COMPONENTS, validate_messages
from tests.lineapi.contract import SPECS

SCHEMAS = {
    "box": "FlexBox",
    "button": "FlexButton",
    "image": "FlexImage",
    "video": "FlexVideo",
    "icon": "FlexIcon",
    "text": "FlexText",
    "span": "FlexSpan",
    "separator": "FlexSeparator",
    "filler": "FlexFiller",
}


@functools.cache
def schemas() -> dict:
    return yaml.safe_load((SPECS / "messaging-api.yml").read_text())["components"]["schemas"]


def own_properties(name: str) -> tuple[set[str], dict[str, dict]]:
    schema = schemas()[name]
    properties: dict[str, dict] = {}
    for part in schema.get("allOf", [schema]):
        properties.update(part.get("properties", {}))
    return set(schema.get("required", [])) - {"type"}, properties


def test_every_flex_component_type_of_the_spec_is_known() -> None:
    mapping = schemas()["FlexComponent"]["discriminator"]["mapping"]
    assert set(mapping) == set(FLEX_COMPONENTS)


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_required_properties_and_enums_match_the_spec(kind: str) -> None:
    required, properties = own_properties(SCHEMAS[kind])
    ours_required, checked = FLEX_COMPONENTS[kind]
    assert required <= set(ours_required)
    for key, schema in properties.items():
        if "enum" in schema:
            assert set(checked[key]) == set(schema["enum"]), key


def test_bubble_sizes_match_the_spec() -> None:
    _, properties = own_properties("FlexBubble")
    assert set(FLEX_BUBBLE_SIZES) == set(properties["size"]["enum"])


ACT = {"type": "message", "label": "Go", "text": "go"}
IMG = "https://example.com/a.png"
WELL_FORMED = {
    "TextMessage": {"type": "text", "text": "hi"},
    "StickerMessage": {"type": "sticker", "packageId": "446", "stickerId": "1988"},
    "ImageMessage": {"type": "image", "originalContentUrl": IMG, "previewImageUrl": IMG},
    "VideoMessage": {"type": "video", "originalContentUrl": IMG, "previewImageUrl": IMG},
    "AudioMessage": {"type": "audio", "originalContentUrl": IMG, "duration": 1000},
    "LocationMessage": {
        "type": "location",
        "title": "t",
        "address": "a",
        "latitude": 1.0,
        "longitude": 2.0,
    },
    "ImagemapMessage": {
        "type": "imagemap",
        "baseUrl": IMG,
        "altText": "map",
        "baseSize": {"width": 1040, "height": 1040},
        "actions": [
            {"type": "message", "text": "x", "area": {"x": 0, "y": 0, "width": 1, "height": 1}}
        ],
    },
    "TemplateMessage": {
        "type": "template",
        "altText": "t",
        "template": {"type": "confirm", "text": "ok?", "actions": [ACT, ACT]},
    },
    "FlexMessage": {
        "type": "flex",
        "altText": "f",
        "contents": {
            "type": "bubble",
            "body": {"type": "box", "layout": "vertical", "contents": []},
        },
    },
}


@pytest.mark.parametrize("name", sorted(WELL_FORMED))
def test_every_required_property_of_a_message_schema_is_enforced(name: str) -> None:
    message = WELL_FORMED[name]
    assert validate_messages([message]) == []
    required, _ = own_properties(name)
    assert required, name
    for key in required:
        partial = {k: v for k, v in message.items() if k != key}
        problems = [d["property"] for d in validate_messages([partial])]
        assert problems and problems[0].startswith(f"messages[0].{key}"), (name, key, problems)
