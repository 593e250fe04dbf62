from __future__ import annotations

import json

import pytest

from lineapi import (
    LINE_ID_RE,
    MAX_FLEX_BUBBLE_BYTES,
    MAX_FLEX_CAROUSEL_BYTES,
    grapheme_len,
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


def test_template_alt_text_is_limited_to_400_units() -> None:
    message = buttons(1)
    message["altText"] = "a" * 400
    assert validate_messages([message]) == []
    message["altText"] += "a"
    assert validate_messages([message]) == [
        {"message": "Length must be between 0 and 400", "property": "messages[0].altText"}
    ]


def test_flex_and_imagemap_alt_text_is_limited_to_1500_units() -> None:
    for message in (flex(bubble()), imagemap()):
        message["altText"] = EMOJI * 750
        assert validate_messages([message]) == []
        message["altText"] += "a"
        assert validate_messages([message]) == [
            {"message": "Length must be between 0 and 1500", "property": "messages[0].altText"}
        ]


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


def imagemap(*actions: dict) -> dict:
    area = {"x": 0, "y": 0, "width": 1040, "height": 1040}
    return {
        "type": "imagemap",
        "baseUrl": "https://example.com/map",
        "altText": "map",
        "baseSize": {"width": 1040, "height": 1040},
        "actions": list(actions) or [{"type": "uri", "linkUri": IMG, "area": area}],
    }


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
    overhead = len(json.dumps(b, separators=(",", ":"))) - 1
    return bubble(size - overhead)


def test_a_flex_bubble_of_30_kb_passes_and_one_byte_more_fails() -> None:
    exact = _padded_bubble(MAX_FLEX_BUBBLE_BYTES)
    assert len(json.dumps(exact, separators=(",", ":"))) == MAX_FLEX_BUBBLE_BYTES == 30_720
    assert validate_messages([flex(exact)]) == []
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


# --- grapheme clusters: LINE's "Character counting in a text" ----------------------------------

FAMILY = "👨‍👩‍👧‍👦"  # one grapheme cluster of seven code points joined by ZWJ


def test_grapheme_length_counts_a_zwj_family_as_one() -> None:
    assert grapheme_len(FAMILY) == 1
    assert utf16_len(FAMILY) == 11
    assert grapheme_len(EMOJI * 11) == 11
    assert grapheme_len("e\u0301") == 1


def test_an_action_label_of_20_graphemes_passes_and_21_fail() -> None:
    message = buttons(3)
    message["template"]["actions"][0]["label"] = EMOJI * 11  # 22 UTF-16 units
    message["template"]["actions"][1]["label"] = FAMILY * 20
    message["template"]["actions"][2]["label"] = "x" * 20
    assert validate_messages([message]) == []
    message["template"]["actions"][1]["label"] = FAMILY * 21
    assert validate_messages([message]) == [
        {
            "message": "Length must be between 0 and 20",
            "property": "messages[0].template.actions[1].label",
        }
    ]


@pytest.mark.parametrize(
    "key", ["text", "displayText", "fillInText"], ids=["text", "displayText", "fillInText"]
)
def test_postback_texts_count_300_graphemes(key: str) -> None:
    postback = {"type": "postback", "label": "Go", "data": "a=1", key: FAMILY * 300}
    message = buttons(1)
    message["template"]["actions"] = [postback]
    assert validate_messages([message]) == []
    postback[key] += "a"
    assert props(validate_messages([message])) == [f"messages[0].template.actions[0].{key}"]


def test_a_message_action_text_counts_300_graphemes() -> None:
    message = buttons(1)
    message["template"]["actions"][0]["text"] = FAMILY * 300
    assert validate_messages([message]) == []
    message["template"]["actions"][0]["text"] += "a"
    assert props(validate_messages([message])) == ["messages[0].template.actions[0].text"]


@pytest.mark.parametrize(
    "key, limit, extra",
    [("text", 160, {}), ("text", 60, {"title": "t"}), ("title", 40, {})],
    ids=["text", "text-with-title", "title"],
)
def test_buttons_text_and_title_count_graphemes(key: str, limit: int, extra: dict) -> None:
    message = buttons(1)
    message["template"].update(extra, **{key: EMOJI * limit})
    assert validate_messages([message]) == []
    message["template"][key] += "a"
    assert validate_messages([message]) == [
        {
            "message": f"Length must be between 0 and {limit}",
            "property": f"messages[0].template.{key}",
        }
    ]


def test_confirm_text_counts_240_graphemes() -> None:
    confirm = {"type": "confirm", "text": FAMILY * 240, "actions": [action("Y"), action("N")]}
    message = {"type": "template", "altText": "confirm", "template": confirm}
    assert validate_messages([message]) == []
    confirm["text"] += "a"
    assert props(validate_messages([message])) == ["messages[0].template.text"]


def test_carousel_column_text_and_title_count_graphemes() -> None:
    message = carousel(2)
    for column in message["template"]["columns"]:
        column.update(title=EMOJI * 40, text=FAMILY * 60)
    assert validate_messages([message]) == []
    message["template"]["columns"][1]["title"] += "a"
    message["template"]["columns"][1]["text"] += "a"
    assert props(validate_messages([message])) == [
        "messages[0].template.columns[1].text",
        "messages[0].template.columns[1].title",
    ]


def test_the_text_message_still_counts_utf16_units() -> None:
    assert validate_messages([text(FAMILY * 454)]) == []  # 4,994 units
    assert props(validate_messages([text(FAMILY * 455)])) == ["messages[0].text"]


# --- textV2 and coupon -------------------------------------------------------------------------


def text_v2(t: str, substitution: dict | None = None) -> dict:
    message: dict = {"type": "textV2", "text": t}
    if substitution is not None:
        message["substitution"] = substitution
    return message


def test_text_v2_with_mentions_and_emoji_passes() -> None:
    substitution = {
        "someone": {"type": "mention", "mentionee": {"type": "user", "userId": user(1)}},
        "everyone": {"type": "mention", "mentionee": {"type": "all"}},
        "smile": {"type": "emoji", "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "002"},
    }
    assert validate_messages([text_v2("{everyone} {someone} {smile}", substitution)]) == []


def test_text_v2_counts_5000_utf16_units() -> None:
    assert validate_messages([text_v2(EMOJI * 2500)]) == []
    assert validate_messages([text_v2(EMOJI * 2500 + "a")]) == [
        {"message": "Length must be between 0 and 5000", "property": "messages[0].text"}
    ]


def test_text_v2_substitutions_are_checked_by_key() -> None:
    substitution = {
        "a": {"type": "mention", "mentionee": {"type": "user", "userId": "nobody"}},
        "b": {"type": "mention", "mentionee": {"type": "group"}},
        "c": {"type": "emoji", "productId": "p"},
        "d": {"type": "sticker"},
        "e": "text",
    }
    assert props(validate_messages([text_v2("{a}{b}{c}{d}{e}", substitution)])) == [
        "messages[0].substitution.a.mentionee.userId",
        "messages[0].substitution.b.mentionee.type",
        "messages[0].substitution.c.emojiId",
        "messages[0].substitution.d.type",
        "messages[0].substitution.e",
    ]


def test_a_coupon_needs_its_coupon_id() -> None:
    assert validate_messages([{"type": "coupon", "couponId": "01JYNW8JMQVFBNWAXFR1ABCDEF"}]) == []
    assert validate_messages([{"type": "coupon"}]) == [
        {"message": "May not be empty", "property": "messages[0].couponId"}
    ]
    tagged = {"type": "coupon", "couponId": "c1", "deliveryTag": "t" * 30}
    assert validate_messages([tagged]) == []
    tagged["deliveryTag"] += "t"
    assert props(validate_messages([tagged])) == ["messages[0].deliveryTag"]


# --- carousel columns agree on images and titles -----------------------------------------------


@pytest.mark.parametrize("key, value", [("thumbnailImageUrl", IMG), ("title", "Title")])
def test_when_one_carousel_column_has_an_image_or_title_all_must(key: str, value: str) -> None:
    message = carousel(3)
    for column in message["template"]["columns"]:
        column[key] = value
    assert validate_messages([message]) == []
    del message["template"]["columns"][1][key]
    assert validate_messages([message]) == [
        {
            "message": f"Required because another column has a {key}",
            "property": f"messages[0].template.columns[1].{key}",
        }
    ]


# --- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["https://example.com/a.png", "HTTPS://EXAMPLE.COM/a.png", "https://example.com:8443/a?b=c"],
)
def test_https_urls_pass_in_any_case(url: str) -> None:
    assert (
        validate_messages([{"type": "image", "originalContentUrl": url, "previewImageUrl": IMG}])
        == []
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://",
        "https:///a.png",
        "https:example.com/a.png",
        "https://exa mple.com/a.png",
        "https://example.com/a b.png",
        "https://example.com/a.png\n",
        " https://example.com/a.png",
        "http://example.com/a.png",
        "//example.com/a.png",
        "example.com/a.png",
        "https://[::1/a.png",
        42,
    ],
)
def test_a_media_url_must_be_a_real_https_url(url: object) -> None:
    message = {"type": "image", "originalContentUrl": url, "previewImageUrl": IMG}
    assert validate_messages([message]) == [
        {"message": "Must be a valid HTTPS URL", "property": "messages[0].originalContentUrl"}
    ]


@pytest.mark.parametrize("kind", ["image", "icon"])
def test_flex_image_and_icon_urls_must_be_https(kind: str) -> None:
    b = bubble()
    b["body"]["layout"] = "baseline"  # where an icon may sit; an image goes anywhere but there
    if kind == "image":
        b["body"]["layout"] = "vertical"
    b["body"]["contents"].append({"type": kind, "url": "https://example.com/i.png"})
    assert validate_messages([flex(b)]) == []
    b["body"]["contents"][1]["url"] = "http://example.com/i.png"
    assert props(validate_messages([flex(b)])) == ["messages[0].contents.body.contents[1].url"]
    del b["body"]["contents"][1]["url"]
    assert props(validate_messages([flex(b)])) == ["messages[0].contents.body.contents[1].url"]


def test_flex_video_urls_must_be_https() -> None:
    b = bubble()
    b["hero"] = {
        "type": "video",
        "url": "https://example.com/v.mp4",
        "previewUrl": "http://example.com/p.png",
        "altContent": {"type": "image", "url": "https://example.com/alt.png"},
    }
    assert props(validate_messages([flex(b)])) == ["messages[0].contents.hero.previewUrl"]


def test_imagemap_video_urls_must_be_https() -> None:
    message = imagemap()
    message["video"] = {
        "originalContentUrl": "https://example.com/v.mp4",
        "previewImageUrl": "https://example.com/p.png",
        "area": {"x": 0, "y": 0, "width": 1040, "height": 585},
    }
    assert validate_messages([message]) == []
    message["video"]["originalContentUrl"] = "http://example.com/v.mp4"
    message["video"]["previewImageUrl"] = "ftp://example.com/p.png"
    assert props(validate_messages([message])) == [
        "messages[0].video.originalContentUrl",
        "messages[0].video.previewImageUrl",
    ]


def test_an_imagemap_video_url_is_limited_to_2000_characters() -> None:
    message = imagemap()
    long_url = "https://example.com/" + "v" * 1980
    area = {"x": 0, "y": 0, "width": 1040, "height": 585}
    message["video"] = {"originalContentUrl": long_url, "previewImageUrl": IMG, "area": area}
    assert validate_messages([message]) == []
    message["video"]["originalContentUrl"] += "v"
    assert validate_messages([message]) == [
        {
            "message": "Length must be between 0 and 2000",
            "property": "messages[0].video.originalContentUrl",
        }
    ]


# --- image carousel labels, LINE emoji, imagemap areas, where actions may go -------------------


def image_carousel(label: str) -> dict:
    column = {"imageUrl": IMG, "action": {"type": "uri", "label": label, "uri": IMG}}
    return {
        "type": "template",
        "altText": "images",
        "template": {"type": "image_carousel", "columns": [column]},
    }


def test_an_image_carousel_label_holds_12_graphemes() -> None:
    assert validate_messages([image_carousel(EMOJI * 12)]) == []
    assert validate_messages([image_carousel("x" * 13)]) == [
        {
            "message": "Length must be between 0 and 12",
            "property": "messages[0].template.columns[0].action.label",
        }
    ]


def test_an_image_carousel_label_is_optional() -> None:
    message = image_carousel("x")
    del message["template"]["columns"][0]["action"]["label"]
    assert validate_messages([message]) == []


def line_emoji(index: int) -> dict:
    return {"index": index, "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"}


def test_a_text_message_holds_at_most_20_line_emoji() -> None:
    message = dict(text("$" * 21), emojis=[line_emoji(i) for i in range(20)])
    assert validate_messages([message]) == []
    message["emojis"].append(line_emoji(20))
    assert validate_messages([message]) == [
        {"message": "Size must be between 0 and 20", "property": "messages[0].emojis"}
    ]


def test_line_emoji_need_an_index_and_ids() -> None:
    message = dict(text("$"), emojis=[{"index": -1, "productId": "p"}])
    assert props(validate_messages([message])) == [
        "messages[0].emojis[0].index",
        "messages[0].emojis[0].emojiId",
    ]


def test_imagemap_areas_start_at_zero_and_are_at_least_one_pixel() -> None:
    area = {"x": 0, "y": 0, "width": 1, "height": 1}
    message = imagemap({"type": "message", "text": "hi", "area": area})
    assert validate_messages([message]) == []
    area.update(x=-1, y=-1, width=0, height=0)
    assert validate_messages([message]) == [
        {
            "message": f"Must be an integer of at least {lo}",
            "property": f"messages[0].actions[0].area.{k}",
        }
        for k, lo in (("x", 0), ("y", 0), ("width", 1), ("height", 1))
    ]


RICHMENU_SWITCH = {"type": "richmenuswitch", "label": "Menu", "richMenuAliasId": "a", "data": "d"}
ONLY_IN_RICH_MENUS = "A richmenuswitch action can only be used in rich menus"


def test_richmenuswitch_is_refused_in_templates_quick_replies_and_flex() -> None:
    template = buttons(1)
    template["template"]["actions"] = [dict(RICHMENU_SWITCH)]
    reply = quick_reply(1)
    reply["quickReply"]["items"][0]["action"] = dict(RICHMENU_SWITCH)
    b = bubble()
    b["footer"] = {
        "type": "box",
        "layout": "vertical",
        "contents": [{"type": "button", "action": dict(RICHMENU_SWITCH)}],
    }
    assert validate_messages([template, reply, flex(b)]) == [
        {"message": ONLY_IN_RICH_MENUS, "property": "messages[0].template.actions[0].type"},
        {"message": ONLY_IN_RICH_MENUS, "property": "messages[1].quickReply.items[0].action.type"},
        {
            "message": ONLY_IN_RICH_MENUS,
            "property": "messages[2].contents.footer.contents[0].action.type",
        },
    ]


def test_richmenuswitch_is_refused_in_imagemaps() -> None:
    area = {"x": 0, "y": 0, "width": 1, "height": 1}
    message = imagemap(dict(RICHMENU_SWITCH, area=area))
    assert props(validate_messages([message])) == ["messages[0].actions[0].type"]


def test_camera_actions_belong_to_quick_replies_only() -> None:
    camera = {"type": "camera", "label": "Camera"}
    reply = quick_reply(1)
    reply["quickReply"]["items"][0]["action"] = dict(camera)
    assert validate_messages([reply]) == []
    template = buttons(1)
    template["template"]["actions"] = [dict(camera)]
    assert validate_messages([template]) == [
        {
            "message": "A camera action can only be used in quick reply",
            "property": "messages[0].template.actions[0].type",
        }
    ]


def test_flex_actions_are_checked_like_other_actions() -> None:
    b = bubble()
    b["footer"] = {
        "type": "box",
        "layout": "vertical",
        "contents": [
            {"type": "button", "action": {"type": "uri", "label": "x" * 40, "uri": IMG}},
            {"type": "button", "action": {"type": "postback", "label": "Go"}},
        ],
    }
    assert props(validate_messages([flex(b)])) == [
        "messages[0].contents.footer.contents[1].action.data"
    ]


# --- flex sizes at the exact byte --------------------------------------------------------------


def _padded_carousel(size: int) -> dict:
    container = {"type": "carousel", "contents": [bubble(20_000), bubble(20_000), bubble(1)]}
    overhead = len(json.dumps(container, separators=(",", ":"))) - 1
    container["contents"][2] = bubble(size - overhead)
    return container


def test_a_flex_carousel_of_exactly_50_kb_passes_and_one_byte_more_fails() -> None:
    exact = _padded_carousel(MAX_FLEX_CAROUSEL_BYTES)
    assert len(json.dumps(exact, separators=(",", ":"))) == MAX_FLEX_CAROUSEL_BYTES == 51_200
    assert validate_messages([flex(exact)]) == []
    assert validate_messages([flex(_padded_carousel(MAX_FLEX_CAROUSEL_BYTES + 1))]) == [
        {
            "message": "Size of a flex carousel must be at most 51200 bytes",
            "property": "messages[0].contents",
        }
    ]


def test_flex_size_counts_utf8_bytes() -> None:
    b = bubble(1)
    overhead = len(json.dumps(b, separators=(",", ":"))) - 1
    b["body"]["contents"][0]["text"] = "あ" * ((MAX_FLEX_BUBBLE_BYTES - overhead) // 3)
    assert validate_messages([flex(b)]) == []
    b["body"]["contents"][0]["text"] += "ああ"
    assert props(validate_messages([flex(b)])) == ["messages[0].contents"]
