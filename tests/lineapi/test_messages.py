from __future__ import annotations

import pytest

from lineapi import (
    LINE_ID_RE,
    MAX_FLEX_BUBBLE_BYTES,
    MAX_FLEX_CAROUSEL_BYTES,
    utf16_len,
    validate_messages,
    validate_multicast_ids,
)

EMOJI = "😀"  # outside the BMP: two UTF-16 code units
IMG = "https://example.com/a.jpg"


def props(details: list[dict]) -> list[str]:
    return [d["property"] for d in details]


def text(t: str) -> dict:
    return {"type": "text", "text": t}


def action(label: str = "Go") -> dict:
    return {"type": "message", "label": label, "text": label}


def test_utf16_length_counts_surrogate_pairs_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len(EMOJI) == 2
    assert utf16_len("あ") == 1


def test_text_of_5000_utf16_units_passes_and_5001_fails() -> None:
    exact = EMOJI * 2500
    assert len(exact) == 2500 and utf16_len(exact) == 5000
    assert validate_messages([text(exact)]) == []
    details = validate_messages([text("ok"), text(exact + "a")])
    assert details == [
        {"message": "Length must be between 0 and 5000", "property": "messages[1].text"}
    ]


def test_an_empty_text_fails() -> None:
    assert props(validate_messages([text("")])) == ["messages[0].text"]


def test_five_messages_pass_and_six_fail() -> None:
    assert validate_messages([text("x")] * 5) == []
    assert validate_messages([text("x")] * 6) == [
        {"message": "Size must be between 1 and 5", "property": "messages"}
    ]
    assert props(validate_messages([])) == ["messages"]


def test_an_unknown_message_type_fails_with_its_path() -> None:
    details = validate_messages([text("x"), {"type": "hologram"}])
    assert props(details) == ["messages[1].type"]
    assert details[0]["message"].startswith("Must be one of the following values")


def user(n: int) -> str:
    return f"U{n:032x}"


def test_500_multicast_ids_pass_and_501_fail() -> None:
    assert validate_multicast_ids([user(i) for i in range(500)]) == []
    assert validate_multicast_ids([user(i) for i in range(501)]) == [
        {"message": "Size must be between 1 and 500", "property": "to"}
    ]


def test_multicast_takes_only_user_ids() -> None:
    details = validate_multicast_ids([user(1), "C" + "0" * 32, "U123"])
    assert props(details) == ["to[1]", "to[2]"]


def test_line_id_pattern() -> None:
    assert LINE_ID_RE.match("U" + "0123456789abcdef" * 2)
    assert LINE_ID_RE.match("R" + "f" * 32)
    assert not LINE_ID_RE.match("U" + "F" * 32)
    assert not LINE_ID_RE.match("X" + "0" * 32)


def carousel(columns: int, actions: int = 1) -> dict:
    cols = [{"text": "col", "actions": [action() for _ in range(actions)]} for _ in range(columns)]
    return {
        "type": "template",
        "altText": "carousel",
        "template": {"type": "carousel", "columns": cols},
    }


def test_ten_carousel_columns_pass_and_eleven_fail() -> None:
    assert validate_messages([carousel(10)]) == []
    assert props(validate_messages([carousel(11)])) == ["messages[0].template.columns"]


def test_carousel_columns_need_the_same_number_of_actions() -> None:
    message = carousel(2)
    message["template"]["columns"][1]["actions"].append(action("Other"))
    assert props(validate_messages([message])) == ["messages[0].template.columns"]


def buttons(actions: int) -> dict:
    template = {"type": "buttons", "text": "pick", "actions": [action() for _ in range(actions)]}
    return {"type": "template", "altText": "buttons", "template": template}


def test_four_button_actions_pass_and_five_fail() -> None:
    assert validate_messages([buttons(4)]) == []
    details = validate_messages([buttons(5)])
    assert details == [
        {"message": "Size must be between 1 and 4", "property": "messages[0].template.actions"}
    ]


def test_confirm_takes_exactly_two_actions() -> None:
    confirm = {"type": "confirm", "text": "sure?", "actions": [action("Yes"), action("No")]}
    message = {"type": "template", "altText": "confirm", "template": confirm}
    assert validate_messages([message]) == []
    confirm["actions"].append(action("Maybe"))
    assert props(validate_messages([message])) == ["messages[0].template.actions"]


def test_action_labels_and_types_are_checked() -> None:
    message = buttons(2)
    message["template"]["actions"][0]["label"] = "x" * 21
    message["template"]["actions"][1] = {"type": "teleport", "label": "Go"}
    assert props(validate_messages([message])) == [
        "messages[0].template.actions[0].label",
        "messages[0].template.actions[1].type",
    ]


def test_image_carousel_columns_need_https_images() -> None:
    column = {"imageUrl": "http://example.com/a.jpg", "action": action()}
    template = {"type": "image_carousel", "columns": [column]}
    message = {"type": "template", "altText": "images", "template": template}
    assert props(validate_messages([message])) == ["messages[0].template.columns[0].imageUrl"]


def test_alt_text_is_limited_to_1500_units() -> None:
    message = buttons(1)
    message["altText"] = "a" * 1500
    assert validate_messages([message]) == []
    message["altText"] += "a"
    assert props(validate_messages([message])) == ["messages[0].altText"]


@pytest.mark.parametrize(
    "message, prop",
    [
        (
            {"type": "image", "originalContentUrl": "http://x.com/a.jpg", "previewImageUrl": IMG},
            "messages[0].originalContentUrl",
        ),
        (
            {"type": "video", "originalContentUrl": IMG, "previewImageUrl": "ftp://x.com/p.jpg"},
            "messages[0].previewImageUrl",
        ),
        (
            {"type": "audio", "originalContentUrl": "http://x.com/a.m4a", "duration": 1000},
            "messages[0].originalContentUrl",
        ),
        (
            {
                "type": "imagemap",
                "baseUrl": "http://x.com/i",
                "altText": "map",
                "baseSize": {"width": 1040, "height": 1040},
                "actions": [
                    {
                        "type": "uri",
                        "linkUri": IMG,
                        "area": {"x": 0, "y": 0, "width": 1, "height": 1},
                    }
                ],
            },
            "messages[0].baseUrl",
        ),
    ],
)
def test_media_urls_must_be_https(message: dict, prop: str) -> None:
    assert props(validate_messages([message])) == [prop]


def test_media_urls_are_limited_to_2000_characters() -> None:
    long_url = "https://example.com/" + "a" * 1980
    assert len(long_url) == 2000
    ok = {"type": "image", "originalContentUrl": long_url, "previewImageUrl": IMG}
    assert validate_messages([ok]) == []
    too_long = dict(ok, originalContentUrl=long_url + "a")
    assert props(validate_messages([too_long])) == ["messages[0].originalContentUrl"]


def test_every_simple_message_type_passes_when_well_formed() -> None:
    messages = [
        {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        {"type": "image", "originalContentUrl": IMG, "previewImageUrl": IMG},
        {"type": "video", "originalContentUrl": "https://x.com/v.mp4", "previewImageUrl": IMG},
        {"type": "audio", "originalContentUrl": "https://x.com/a.m4a", "duration": 60000},
        {
            "type": "location",
            "title": "Office",
            "address": "Tokyo",
            "latitude": 35.6,
            "longitude": 139.7,
        },
    ]
    assert validate_messages(messages) == []


def test_missing_required_fields_are_reported() -> None:
    details = validate_messages(
        [{"type": "sticker"}, {"type": "audio", "originalContentUrl": "https://x.com/a.m4a"}]
    )
    assert props(details) == [
        "messages[0].packageId",
        "messages[0].stickerId",
        "messages[1].duration",
    ]


def bubble(padding: int = 0) -> dict:
    return {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": "x" * max(padding, 1)}],
        },
    }


def flex(contents: dict) -> dict:
    return {"type": "flex", "altText": "flex", "contents": contents}


def _padded_bubble(size: int) -> dict:
    b = bubble(1)
    overhead = len(__import__("json").dumps(b, separators=(",", ":"))) - 1
    return bubble(size - overhead)


def test_a_flex_bubble_of_30_kb_passes_and_one_byte_more_fails() -> None:
    assert validate_messages([flex(_padded_bubble(MAX_FLEX_BUBBLE_BYTES))]) == []
    details = validate_messages([flex(_padded_bubble(MAX_FLEX_BUBBLE_BYTES + 1))])
    assert props(details) == ["messages[0].contents"]


def test_a_flex_carousel_holds_at_most_12_bubbles() -> None:
    assert validate_messages([flex({"type": "carousel", "contents": [bubble()] * 12})]) == []
    details = validate_messages([flex({"type": "carousel", "contents": [bubble()] * 13})])
    assert props(details) == ["messages[0].contents.contents"]


def test_a_flex_carousel_is_limited_to_50_kb() -> None:
    third = MAX_FLEX_CAROUSEL_BYTES // 3
    details = validate_messages([flex({"type": "carousel", "contents": [bubble(third)] * 3})])
    assert props(details) == ["messages[0].contents"]
    assert (
        validate_messages([flex({"type": "carousel", "contents": [bubble(third - 300)] * 3})]) == []
    )


def test_flex_images_must_be_https() -> None:
    b = bubble()
    b["hero"] = {"type": "image", "url": "http://example.com/hero.png"}
    assert props(validate_messages([flex(b)])) == ["messages[0].contents.hero.url"]


def test_flex_needs_alt_text_and_a_known_container() -> None:
    details = validate_messages([{"type": "flex", "contents": {"type": "box"}}])
    assert props(details) == ["messages[0].altText", "messages[0].contents.type"]


def quick_reply(items: int) -> dict:
    item = {"type": "action", "action": action()}
    return dict(text("pick"), quickReply={"items": [dict(item) for _ in range(items)]})


def test_thirteen_quick_reply_items_pass_and_fourteen_fail() -> None:
    assert validate_messages([quick_reply(13)]) == []
    assert props(validate_messages([quick_reply(14)])) == ["messages[0].quickReply.items"]


def test_quick_reply_icons_must_be_https() -> None:
    message = quick_reply(1)
    message["quickReply"]["items"][0]["imageUrl"] = "http://example.com/i.png"
    assert props(validate_messages([message])) == ["messages[0].quickReply.items[0].imageUrl"]
