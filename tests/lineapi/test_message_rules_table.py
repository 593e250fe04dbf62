"""What LINE refuses, message type by message type: each invalid message object is refused by
the local rules and by the emulator's validate and push endpoints at the same property."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lineapi import validate_messages
from lineapi.messages import details_from_line, line_error_body
from tests.emulator_fixtures import EmulatorHandle

IMG = "https://example.com/a.png"
USER = "U" + "0" * 32
M0 = "messages[0]"
C = "messages[0].contents"


def act(**extra: Any) -> dict:
    return {"type": "message", "label": "Go", "text": "go", **extra}


def text(**extra: Any) -> dict:
    return {"type": "text", "text": "hello $", **extra}


def box(*contents: dict, layout: str = "vertical", **extra: Any) -> dict:
    return {"type": "box", "layout": layout, "contents": list(contents), **extra}


def ftext(t: str = "hi", **extra: Any) -> dict:
    return {"type": "text", "text": t, **extra}


def bubble(**blocks: Any) -> dict:
    return {"type": "bubble", "body": box(ftext()), **blocks}


def flex(contents: dict) -> dict:
    return {"type": "flex", "altText": "flex", "contents": contents}


def body_with(*components: dict, layout: str = "vertical") -> dict:
    return flex(bubble(body=box(*components, layout=layout)))


def template(kind: str, **fields: Any) -> dict:
    return {"type": "template", "altText": "t", "template": {"type": kind, **fields}}


def buttons(**extra: Any) -> dict:
    return template("buttons", **{"text": "pick", "actions": [act()], **extra})


def carousel_column(**extra: Any) -> dict:
    return {"text": "col", "actions": [act()], **extra}


def imagemap(**extra: Any) -> dict:
    area = {"x": 0, "y": 0, "width": 10, "height": 10}
    return {
        "type": "imagemap",
        "baseUrl": "https://example.com/map",
        "altText": "map",
        "baseSize": {"width": 1040, "height": 1040},
        "actions": [{"type": "uri", "linkUri": "https://example.com", "area": area}],
        **extra,
    }


def without(message: dict, *path: Any) -> dict:
    """A copy of `message` with the property at `path` removed."""
    copied = copy.deepcopy(message)
    node = copied
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return copied


def with_(message: dict, value: Any, *path: Any) -> dict:
    copied = copy.deepcopy(message)
    node = copied
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copied


VIDEO_HERO = {
    "type": "video",
    "url": "https://example.com/v.mp4",
    "previewUrl": IMG,
    "altContent": {"type": "image", "url": IMG},
    "aspectRatio": "16:9",
}
STICKER = {"type": "sticker", "packageId": "446", "stickerId": "1988"}
IMAGE = {"type": "image", "originalContentUrl": IMG, "previewImageUrl": IMG}
VIDEO = {"type": "video", "originalContentUrl": "https://example.com/v.mp4", "previewImageUrl": IMG}
AUDIO = {"type": "audio", "originalContentUrl": "https://example.com/a.m4a", "duration": 1000}
LOCATION = {"type": "location", "title": "t", "address": "a", "latitude": 35.0, "longitude": 139.0}

# (case id, message, the property LINE names, or all of them where there are several)
CASES: list[tuple[str, dict, str | list[str]]] = [
    # text
    ("text-missing", {"type": "text"}, f"{M0}.text"),
    ("text-empty", text(text=""), f"{M0}.text"),
    ("text-too-long", text(text="a" * 5001), f"{M0}.text"),
    ("text-not-string", text(text=5), f"{M0}.text"),
    (
        "text-emoji-no-product",
        text(emojis=[{"index": 6, "emojiId": "001"}]),
        f"{M0}.emojis[0].productId",
    ),
    (
        "text-emoji-not-on-dollar",
        text(emojis=[{"index": 0, "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"}]),
        f"{M0}.emojis[0].index",
    ),
    ("text-type-unknown", {"type": "txt", "text": "x"}, f"{M0}.type"),
    # sticker
    ("sticker-no-package", without(STICKER, "packageId"), f"{M0}.packageId"),
    ("sticker-no-sticker", without(STICKER, "stickerId"), f"{M0}.stickerId"),
    # image, video, audio
    (
        "image-http",
        with_(IMAGE, "http://example.com/a.png", "originalContentUrl"),
        f"{M0}.originalContentUrl",
    ),
    ("image-no-preview", without(IMAGE, "previewImageUrl"), f"{M0}.previewImageUrl"),
    (
        "image-url-2001",
        with_(IMAGE, "https://e.com/" + "a" * 1987, "previewImageUrl"),
        f"{M0}.previewImageUrl",
    ),
    ("video-no-preview", without(VIDEO, "previewImageUrl"), f"{M0}.previewImageUrl"),
    ("video-tracking-too-long", with_(VIDEO, "t" * 101, "trackingId"), f"{M0}.trackingId"),
    ("audio-no-duration", without(AUDIO, "duration"), f"{M0}.duration"),
    ("audio-duration-text", with_(AUDIO, "60", "duration"), f"{M0}.duration"),
    # location
    ("location-no-title", without(LOCATION, "title"), f"{M0}.title"),
    ("location-latitude-91", with_(LOCATION, 91, "latitude"), f"{M0}.latitude"),
    ("location-address-101", with_(LOCATION, "a" * 101, "address"), f"{M0}.address"),
    # imagemap
    (
        "imagemap-width-1000",
        with_(imagemap(), {"width": 1000, "height": 1040}, "baseSize"),
        f"{M0}.baseSize",
    ),
    ("imagemap-no-actions", with_(imagemap(), [], "actions"), f"{M0}.actions"),
    ("imagemap-action-no-area", without(imagemap(), "actions", 0, "area"), f"{M0}.actions[0].area"),
    ("imagemap-alt-text-missing", without(imagemap(), "altText"), f"{M0}.altText"),
    # templates
    ("buttons-five-actions", buttons(actions=[act()] * 5), f"{M0}.template.actions"),
    ("buttons-no-text", without(buttons(), "template", "text"), f"{M0}.template.text"),
    ("buttons-label-21", buttons(actions=[act(label="x" * 21)]), f"{M0}.template.actions[0].label"),
    ("buttons-ratio-enum", buttons(imageAspectRatio="wide"), f"{M0}.template.imageAspectRatio"),
    ("buttons-size-enum", buttons(imageSize="fill"), f"{M0}.template.imageSize"),
    ("buttons-alt-text-401", with_(buttons(), "a" * 401, "altText"), f"{M0}.altText"),
    (
        "confirm-one-action",
        template("confirm", text="ok?", actions=[act()]),
        f"{M0}.template.actions",
    ),
    (
        "carousel-eleven-columns",
        template("carousel", columns=[carousel_column()] * 11),
        f"{M0}.template.columns",
    ),
    (
        "carousel-column-no-actions",
        template("carousel", columns=[carousel_column(actions=[])]),
        f"{M0}.template.columns[0].actions",
    ),
    (
        "image-carousel-http",
        template("image_carousel", columns=[{"imageUrl": "http://e.com/a.png", "action": act()}]),
        f"{M0}.template.columns[0].imageUrl",
    ),
    ("template-unknown", template("grid"), f"{M0}.template.type"),
    (
        "postback-no-data",
        buttons(actions=[{"type": "postback", "label": "Go"}]),
        f"{M0}.template.actions[0].data",
    ),
    (
        "uri-ftp",
        buttons(actions=[{"type": "uri", "label": "Go", "uri": "ftp://e.com"}]),
        f"{M0}.template.actions[0].uri",
    ),
    # quick reply and sender, on any message
    (
        "quick-reply-14",
        text(quickReply={"items": [{"type": "action", "action": act()}] * 14}),
        f"{M0}.quickReply.items",
    ),
    (
        "quick-reply-no-label",
        text(
            quickReply={"items": [{"type": "action", "action": {"type": "message", "text": "x"}}]}
        ),
        f"{M0}.quickReply.items[0].action.label",
    ),
    ("sender-name-21", text(sender={"name": "n" * 21}), f"{M0}.sender.name"),
    ("sender-icon-http", text(sender={"iconUrl": "http://e.com/i.png"}), f"{M0}.sender.iconUrl"),
    # flex: message level
    ("flex-no-alt-text", without(flex(bubble()), "altText"), f"{M0}.altText"),
    ("flex-no-contents", without(flex(bubble()), "contents"), f"{C}"),
    # flex: containers
    ("flex-container-type", flex({"type": "box"}), f"{C}.type"),
    ("flex-carousel-13", flex({"type": "carousel", "contents": [bubble()] * 13}), f"{C}.contents"),
    ("flex-carousel-no-contents", flex({"type": "carousel"}), f"{C}.contents"),
    ("flex-bubble-size", flex(bubble(size="huge")), f"{C}.size"),
    ("flex-bubble-direction", flex(bubble(direction="ttb")), f"{C}.direction"),
    ("flex-body-not-box", flex(bubble(body=ftext())), f"{C}.body.type"),
    ("flex-hero-text", flex(bubble(hero=ftext())), f"{C}.hero.type"),
    (
        "flex-styles-color",
        flex(bubble(styles={"body": {"backgroundColor": "red"}})),
        f"{C}.styles.body.backgroundColor",
    ),
    # flex: box (the issue's own case first)
    (
        "flex-box-no-layout-no-contents",
        flex(bubble(body={"type": "box"})),
        [f"{C}.body.layout", f"{C}.body.contents"],
    ),
    (
        "flex-box-no-contents",
        flex(bubble(body={"type": "box", "layout": "vertical"})),
        f"{C}.body.contents",
    ),
    ("flex-box-layout-enum", flex(bubble(body=box(ftext(), layout="grid"))), f"{C}.body.layout"),
    ("flex-box-spacing", flex(bubble(body=box(ftext(), spacing="huge"))), f"{C}.body.spacing"),
    ("flex-box-margin", body_with(box(ftext(), margin="12")), f"{C}.body.contents[0].margin"),
    ("flex-box-flex-negative", body_with(box(ftext(), flex=-1)), f"{C}.body.contents[0].flex"),
    (
        "flex-box-position",
        body_with(box(ftext(), position="fixed")),
        f"{C}.body.contents[0].position",
    ),
    (
        "flex-box-offset",
        body_with(box(ftext(), position="absolute", offsetTop="ten")),
        f"{C}.body.contents[0].offsetTop",
    ),
    ("flex-box-padding", flex(bubble(body=box(ftext(), paddingAll="3em"))), f"{C}.body.paddingAll"),
    ("flex-box-width", flex(bubble(body=box(ftext(), width="md"))), f"{C}.body.width"),
    (
        "flex-box-justify",
        flex(bubble(body=box(ftext(), justifyContent="middle"))),
        f"{C}.body.justifyContent",
    ),
    (
        "flex-box-border-width",
        flex(bubble(body=box(ftext(), borderWidth="thick"))),
        f"{C}.body.borderWidth",
    ),
    (
        "flex-box-corner-radius",
        flex(bubble(body=box(ftext(), cornerRadius="50%"))),
        f"{C}.body.cornerRadius",
    ),
    (
        "flex-box-gradient-no-angle",
        flex(
            bubble(
                body=box(
                    ftext(),
                    background={
                        "type": "linearGradient",
                        "startColor": "#000000",
                        "endColor": "#ffffff",
                    },
                )
            )
        ),
        f"{C}.body.background.angle",
    ),
    ("flex-component-type", body_with({"type": "table"}), f"{C}.body.contents[0].type"),
    ("flex-component-no-type", body_with({"text": "x"}), f"{C}.body.contents[0].type"),
    # flex: text and span
    ("flex-text-missing", body_with({"type": "text"}), f"{C}.body.contents[0].text"),
    ("flex-text-empty", body_with(ftext("")), f"{C}.body.contents[0].text"),
    ("flex-text-size", body_with(ftext(size="huge")), f"{C}.body.contents[0].size"),
    ("flex-text-weight", body_with(ftext(weight="heavy")), f"{C}.body.contents[0].weight"),
    ("flex-text-color", body_with(ftext(color="#12345")), f"{C}.body.contents[0].color"),
    ("flex-text-max-lines", body_with(ftext(maxLines="2")), f"{C}.body.contents[0].maxLines"),
    ("flex-text-wrap", body_with(ftext(wrap="yes")), f"{C}.body.contents[0].wrap"),
    (
        "flex-text-line-spacing",
        body_with(ftext(lineSpacing="md")),
        f"{C}.body.contents[0].lineSpacing",
    ),
    (
        "flex-span-no-text",
        body_with(ftext(contents=[{"type": "span"}])),
        f"{C}.body.contents[0].contents[0].text",
    ),
    (
        "flex-span-outside-text",
        body_with({"type": "span", "text": "x"}),
        f"{C}.body.contents[0].type",
    ),
    (
        "flex-text-holds-box",
        body_with(ftext(contents=[box(ftext())])),
        f"{C}.body.contents[0].contents[0].type",
    ),
    (
        "flex-span-decoration",
        body_with(ftext(contents=[{"type": "span", "text": "x", "decoration": "blink"}])),
        f"{C}.body.contents[0].contents[0].decoration",
    ),
    # flex: image, icon, video
    ("flex-image-no-url", body_with({"type": "image"}), f"{C}.body.contents[0].url"),
    (
        "flex-image-http",
        body_with({"type": "image", "url": "http://e.com/a.png"}),
        f"{C}.body.contents[0].url",
    ),
    (
        "flex-image-ratio-format",
        body_with({"type": "image", "url": IMG, "aspectRatio": "16x9"}),
        f"{C}.body.contents[0].aspectRatio",
    ),
    (
        "flex-image-ratio-tall",
        body_with({"type": "image", "url": IMG, "aspectRatio": "1:4"}),
        f"{C}.body.contents[0].aspectRatio",
    ),
    (
        "flex-image-size",
        body_with({"type": "image", "url": IMG, "size": "huge"}),
        f"{C}.body.contents[0].size",
    ),
    (
        "flex-image-aspect-mode",
        body_with({"type": "image", "url": IMG, "aspectMode": "fill"}),
        f"{C}.body.contents[0].aspectMode",
    ),
    (
        "flex-image-in-baseline",
        body_with({"type": "image", "url": IMG}, layout="baseline"),
        f"{C}.body.contents[0].type",
    ),
    (
        "flex-baseline-child-gravity",
        body_with(ftext(gravity="top"), layout="baseline"),
        f"{C}.body.contents[0].gravity",
    ),
    (
        "flex-baseline-child-offset-bottom",
        body_with(ftext(offsetBottom="4px"), layout="baseline"),
        f"{C}.body.contents[0].offsetBottom",
    ),
    (
        "flex-icon-in-vertical",
        body_with({"type": "icon", "url": IMG}),
        f"{C}.body.contents[0].type",
    ),
    (
        "flex-icon-no-url",
        body_with({"type": "icon"}, ftext(), layout="baseline"),
        f"{C}.body.contents[0].url",
    ),
    ("flex-video-in-body", body_with(VIDEO_HERO), f"{C}.body.contents[0].type"),
    (
        "flex-video-no-alt",
        flex(bubble(hero=without(VIDEO_HERO, "altContent"))),
        f"{C}.hero.altContent",
    ),
    ("flex-video-small-bubble", flex(bubble(hero=VIDEO_HERO, size="micro")), f"{C}.size"),
    # flex: button, separator, filler, actions
    ("flex-button-no-action", body_with({"type": "button"}), f"{C}.body.contents[0].action"),
    (
        "flex-button-style",
        body_with({"type": "button", "action": act(), "style": "danger"}),
        f"{C}.body.contents[0].style",
    ),
    (
        "flex-button-height",
        body_with({"type": "button", "action": act(), "height": "lg"}),
        f"{C}.body.contents[0].height",
    ),
    (
        "flex-button-label-41",
        body_with({"type": "button", "action": act(label="x" * 41)}),
        f"{C}.body.contents[0].action.label",
    ),
    (
        "flex-separator-color",
        body_with({"type": "separator", "color": "grey"}),
        f"{C}.body.contents[0].color",
    ),
    ("flex-filler-flex", body_with({"type": "filler", "flex": 1.5}), f"{C}.body.contents[0].flex"),
    (
        "flex-action-uri",
        flex(bubble(action={"type": "uri", "uri": "javascript:x"})),
        f"{C}.action.uri",
    ),
    (
        "flex-richmenuswitch",
        body_with(
            {
                "type": "button",
                "action": {"type": "richmenuswitch", "richMenuAliasId": "a", "data": "d"},
            }
        ),
        f"{C}.body.contents[0].action.type",
    ),
    (
        "flex-carousel-bubble-layout",
        flex(
            {
                "type": "carousel",
                "contents": [bubble(), bubble(footer={"type": "box", "contents": []})],
            }
        ),
        f"{C}.contents[1].footer.layout",
    ),
]

VALID: list[dict] = [
    text(emojis=[{"index": 6, "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"}]),
    STICKER,
    IMAGE,
    VIDEO,
    AUDIO,
    LOCATION,
    imagemap(),
    buttons(imageAspectRatio="square", imageSize="contain"),
    template("confirm", text="ok?", actions=[act(), act(label="No")]),
    template("carousel", columns=[carousel_column(), carousel_column()]),
    flex(bubble(hero=VIDEO_HERO, size="kilo")),
    body_with(box(ftext(), margin="12px", flex=0, position="absolute", offsetTop="10%")),
    body_with(
        {"type": "icon", "url": IMG, "size": "sm"},
        ftext(contents=[{"type": "span", "text": "a"}]),
        layout="baseline",
    ),
    flex(
        bubble(body=box(paddingAll="5%", cornerRadius="4px", borderWidth="semi-bold", width="50%"))
    ),
    body_with(
        {"type": "image", "url": IMG, "aspectRatio": "1:3", "size": "full"}, {"type": "filler"}
    ),
]


def test_the_table_covers_every_message_type_with_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60
    assert len({case for case, _, _ in CASES}) == len(CASES)
    kinds = {message["type"] for _, message, _ in CASES}
    kinds |= {m["template"]["type"] for _, m, _ in CASES if m.get("type") == "template"}
    assert kinds >= {"text", "sticker", "image", "video", "audio", "location", "imagemap", "flex"}
    assert kinds >= {"buttons", "confirm", "carousel", "image_carousel"}


@pytest.mark.parametrize("message", VALID, ids=lambda m: m["type"])
def test_well_formed_messages_pass(message: dict) -> None:
    assert validate_messages([message]) == []


@pytest.mark.parametrize(("case", "message", "prop"), CASES, ids=[c[0] for c in CASES])
def test_refused_locally_at_lines_property(case: str, message: dict, prop: str | list) -> None:
    expected = [prop] if isinstance(prop, str) else prop
    assert [d["property"] for d in validate_messages([message])] == expected


@pytest.fixture(scope="module")
def http(line_emulator: EmulatorHandle) -> Callable[[str, dict], httpx.Response]:
    headers = {"Authorization": f"Bearer {line_emulator.token}"}
    client = httpx.Client(base_url=line_emulator.base_url, headers=headers)

    def post(path: str, body: dict) -> httpx.Response:
        return client.post(path, json=body)

    yield post
    client.close()


@pytest.mark.parametrize(("case", "message", "prop"), CASES, ids=[c[0] for c in CASES])
def test_refused_by_the_emulator_at_the_same_property(
    http: Callable[[str, dict], httpx.Response], case: str, message: dict, prop: str | list
) -> None:
    props = [prop] if isinstance(prop, str) else prop
    expected = line_error_body(validate_messages([message]))
    for path, body in (
        ("/v2/bot/message/validate/push", {"messages": [message]}),
        ("/v2/bot/message/push", {"to": USER, "messages": [message]}),
    ):
        response = http(path, body)
        assert response.status_code == 400, path
        assert response.json() == expected
        assert [d["property"] for d in details_from_line(response.json())] == props


def test_the_issues_flex_box_gets_lines_own_body(
    http: Callable[[str, dict], httpx.Response],
) -> None:
    """The box that passed every check before: no layout, no contents."""
    message = flex(bubble(body={"type": "box"}))
    response = http("/v2/bot/message/validate/push", {"messages": [text(), message]})
    assert response.status_code == 400
    assert response.json() == {
        "message": "A message (messages[1]) in the request body is invalid",
        "details": [
            {"message": "must be specified", "property": "/body/layout"},
            {"message": "must be specified", "property": "/body/contents"},
        ],
    }


def test_request_level_problems_come_before_flex_ones() -> None:
    details = validate_messages([text(text=""), flex(bubble(body={"type": "box"}))])
    assert line_error_body(details) == {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "May not be empty", "property": "messages[0].text"}],
    }
    missing = validate_messages([without(flex(bubble()), "contents")])
    assert line_error_body(missing)["message"] == "The request body has 1 error(s)"
