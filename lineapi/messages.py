"""LINE's message-object rules, checked locally and reported as LINE reports them.

Each check appends ``{"message": ..., "property": "messages[1].text"}`` to a list; an empty
list means LINE would accept the messages as far as we know. Lengths are in UTF-16 code units
because that is how LINE counts them (an emoji outside the BMP counts as two), except for the
properties LINE's "Character counting in a text" lists as counted in grapheme clusters (action
labels and texts, buttons / confirm / carousel texts and titles), where a family emoji is one.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import regex

LINE_ID_RE = re.compile(r"^[UCR][0-9a-f]{32}\Z")  # \Z: "$" would take a final newline
USER_ID_RE = re.compile(r"^U[0-9a-f]{32}\Z")
_LINE_ID_ANY_CASE_RE = re.compile(r"^[UCR][0-9a-f]{32}$", re.IGNORECASE)
AGGREGATION_UNIT_RE = re.compile(r"^[A-Za-z0-9_]{1,30}$")

MAX_MESSAGES = 5
TOO_MANY_MESSAGES = f"LINE allows at most {MAX_MESSAGES} messages per send."
MAX_MULTICAST_IDS = 500
# The rate-limit budget each send API draws on: reply counts with push, 2,000 requests a second
# per channel (docs/design.md §6).
RATE_GROUPS = {"push": "push", "reply": "push", "multicast": "multicast", "broadcast": "broadcast"}
MAX_TEXT = 5000
MAX_TEXT_EMOJIS = 20
MAX_ALT_TEXT = 1500  # flex and imagemap
MAX_TEMPLATE_ALT_TEXT = 400
MAX_URL = 2000
MAX_URI_ACTION = 1000
MAX_BUTTON_ACTIONS = 4
CONFIRM_ACTIONS = 2
MAX_CAROUSEL_COLUMNS = 10
MAX_CAROUSEL_COLUMN_ACTIONS = 3
MAX_QUICK_REPLY_ITEMS = 13
MAX_IMAGEMAP_ACTIONS = 50
# LINE says "30 KB" / "50 KB" and defines KB nowhere (the OpenAPI spec gives no byte figure);
# 1 KB = 1,024 bytes, the looser reading, so we never refuse a bubble LINE would take.
MAX_FLEX_BUBBLE_BYTES = 30 * 1024
MAX_FLEX_CAROUSEL_BYTES = 50 * 1024
MAX_FLEX_CAROUSEL_BUBBLES = 12
MAX_ACTION_LABEL = 20
MAX_IMAGE_CAROUSEL_LABEL = 12
MAX_FLEX_ACTION_LABEL = 40
MAX_ACTION_TEXT = 300
MAX_POSTBACK_DATA = 300
MAX_COUPON_DELIVERY_TAG = 30

MESSAGE_TYPES = (
    "text",
    "sticker",
    "image",
    "video",
    "audio",
    "location",
    "imagemap",
    "template",
    "flex",
    "textV2",
    "coupon",
)
ACTION_TYPES = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "richmenuswitch",
    "clipboard",
)
# Where LINE allows an action type only in some places; every other type goes anywhere.
ACTION_PLACES = {
    "richmenuswitch": ("rich menus",),
    "camera": ("quick reply",),
    "cameraRoll": ("quick reply",),
    "location": ("quick reply",),
}
URI_SCHEMES = ("http", "https", "line", "tel")
GRAPHEME_RE = regex.compile(r"\X")

Details = list[dict]


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def grapheme_len(s: str) -> int:
    return len(GRAPHEME_RE.findall(s))


def _err(out: Details, prop: str, message: str) -> None:
    out.append({"message": message, "property": prop})


def _one_of(choices: tuple[str, ...]) -> str:
    return f"Must be one of the following values: [{', '.join(choices)}]"


def _size(out: Details, prop: str, value: Any, lo: int, hi: int) -> bool:
    if not isinstance(value, list):
        _err(out, prop, "Must be an array")
        return False
    if not lo <= len(value) <= hi:
        _err(out, prop, f"Size must be between {lo} and {hi}")
        return False
    return True


def _text(
    out: Details,
    obj: dict,
    key: str,
    prop: str,
    hi: int,
    *,
    required: bool,
    graphemes: bool = False,
) -> None:
    value = obj.get(key)
    if value is None:
        if required:
            _err(out, f"{prop}.{key}", "May not be empty")
        return
    if not isinstance(value, str):
        _err(out, f"{prop}.{key}", "Must be a string")
    elif required and not value:
        _err(out, f"{prop}.{key}", "May not be empty")
    elif (grapheme_len(value) if graphemes else utf16_len(value)) > hi:
        _err(out, f"{prop}.{key}", f"Length must be between 0 and {hi}")


def _url_scheme(value: Any) -> str | None:
    """The lower-cased scheme of a usable absolute URL, or None."""
    if not isinstance(value, str) or regex.search(r"\s", value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and not parts.hostname:
        return None
    return scheme if (parts.netloc or parts.path) else None


def _https(out: Details, obj: dict, key: str, prop: str, *, required: bool = True) -> None:
    value = obj.get(key)
    if value is None:
        if required:
            _err(out, f"{prop}.{key}", "May not be empty")
        return
    if _url_scheme(value) != "https":
        _err(out, f"{prop}.{key}", "Must be a valid HTTPS URL")
    elif len(value) > MAX_URL:
        _err(out, f"{prop}.{key}", f"Length must be between 0 and {MAX_URL}")


def _object(out: Details, value: Any, prop: str) -> bool:
    if not isinstance(value, dict):
        _err(out, prop, "Must be an object")
        return False
    return True


def validate_messages(messages: list) -> Details:
    out: Details = []
    if not _size(out, "messages", messages, 1, MAX_MESSAGES):
        return out
    for i, message in enumerate(messages):
        _message(out, message, f"messages[{i}]")
    return out


def validate_multicast_ids(ids: list) -> Details:
    out: Details = []
    if not _size(out, "to", ids, 1, MAX_MULTICAST_IDS):
        return out
    for i, user_id in enumerate(ids):
        if not isinstance(user_id, str) or not USER_ID_RE.match(user_id):
            _err(out, f"to[{i}]", "Must be a valid user ID")
    return out


def normalize_line_id(value: str) -> str:
    """A LINE id pasted in another case, as LINE writes it. LINE's ids are always an upper-case
    U, C or R and 32 lower-case hex digits, so "UAB12…" can only mean "Uab12…". Anything else
    is returned unchanged, for the caller's check to refuse."""
    if _LINE_ID_ANY_CASE_RE.fullmatch(value):
        return value[0].upper() + value[1:].lower()
    return value


def validate_push_target(to: Any) -> Details:
    if isinstance(to, str) and LINE_ID_RE.match(to):
        return []
    return [{"message": "Must be a valid user, group or room ID", "property": "to"}]


def validate_reply_token(token: Any) -> Details:
    """Only the token's shape: whether LINE still honours it is the server's answer."""
    if isinstance(token, str) and token:
        return []
    return [{"message": "May not be empty", "property": "replyToken"}]


def validate_aggregation_units(units: Any) -> Details:
    if units is None:
        return []
    out: Details = []
    if not _size(out, "customAggregationUnits", units, 1, 1):
        return out
    if not isinstance(units[0], str) or not AGGREGATION_UNIT_RE.match(units[0]):
        _err(out, "customAggregationUnits[0]", "Must match [A-Za-z0-9_]{1,30}")
    return out


def _message(out: Details, message: Any, prop: str) -> None:
    if not _object(out, message, prop):
        return
    kind = message.get("type")
    check = _CHECKS.get(kind) if isinstance(kind, str) else None
    if check is None:
        _err(out, f"{prop}.type", _one_of(MESSAGE_TYPES))
        return
    check(out, message, prop)
    if "quickReply" in message:
        _quick_reply(out, message["quickReply"], f"{prop}.quickReply")
    if "sender" in message and _object(out, message["sender"], f"{prop}.sender"):
        _text(out, message["sender"], "name", f"{prop}.sender", 20, required=False)
        _https(out, message["sender"], "iconUrl", f"{prop}.sender", required=False)


def _check_text(out: Details, m: dict, prop: str) -> None:
    _text(out, m, "text", prop, MAX_TEXT, required=True)
    emojis = m.get("emojis")
    if emojis is None or not _size(out, f"{prop}.emojis", emojis, 0, MAX_TEXT_EMOJIS):
        return
    for i, emoji in enumerate(emojis):
        eprop = f"{prop}.emojis[{i}]"
        if not _object(out, emoji, eprop):
            continue
        index = emoji.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            _err(out, f"{eprop}.index", "Must be an integer of at least 0")
        elif isinstance(m.get("text"), str) and _utf16_char(m["text"], index) != "$":
            _err(out, f"{eprop}.index", "Must be the position of a $ in the text")
        _ids(out, emoji, eprop, "productId", "emojiId")


def _utf16_char(text: str, index: int) -> str:
    """The character at a UTF-16 position, as LINE counts positions in a text."""
    units = text.encode("utf-16-le")
    return units[2 * index : 2 * index + 2].decode("utf-16-le", errors="replace")


def _ids(out: Details, obj: dict, prop: str, *keys: str) -> None:
    for key in keys:
        if not isinstance(obj.get(key), str) or not obj[key]:
            _err(out, f"{prop}.{key}", "May not be empty")


def _check_text_v2(out: Details, m: dict, prop: str) -> None:
    _text(out, m, "text", prop, MAX_TEXT, required=True)
    substitution = m.get("substitution")
    sprop = f"{prop}.substitution"
    if substitution is None or not _object(out, substitution, sprop):
        return
    for key, value in substitution.items():
        vprop = f"{sprop}.{key}"
        if not _object(out, value, vprop):
            continue
        kind = value.get("type")
        if kind == "emoji":
            _ids(out, value, vprop, "productId", "emojiId")
        elif kind == "mention":
            _mentionee(out, value.get("mentionee"), f"{vprop}.mentionee")
        else:
            _err(out, f"{vprop}.type", _one_of(("mention", "emoji")))


def _mentionee(out: Details, mentionee: Any, prop: str) -> None:
    if not _object(out, mentionee, prop):
        return
    kind = mentionee.get("type")
    if kind == "user":
        if not isinstance(mentionee.get("userId"), str) or not USER_ID_RE.match(
            mentionee["userId"]
        ):
            _err(out, f"{prop}.userId", "Must be a valid user ID")
    elif kind != "all":
        _err(out, f"{prop}.type", _one_of(("user", "all")))


def _check_coupon(out: Details, m: dict, prop: str) -> None:
    _ids(out, m, prop, "couponId")
    _text(out, m, "deliveryTag", prop, MAX_COUPON_DELIVERY_TAG, required=False)


def _check_sticker(out: Details, m: dict, prop: str) -> None:
    _ids(out, m, prop, "packageId", "stickerId")


def _check_image(out: Details, m: dict, prop: str) -> None:
    _https(out, m, "originalContentUrl", prop)
    _https(out, m, "previewImageUrl", prop)


def _check_video(out: Details, m: dict, prop: str) -> None:
    _check_image(out, m, prop)
    _text(out, m, "trackingId", prop, 100, required=False)


def _check_audio(out: Details, m: dict, prop: str) -> None:
    _https(out, m, "originalContentUrl", prop)
    duration = m.get("duration")
    if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
        _err(out, f"{prop}.duration", "Must be a positive integer (milliseconds)")


def _check_location(out: Details, m: dict, prop: str) -> None:
    _text(out, m, "title", prop, 100, required=True)
    _text(out, m, "address", prop, 100, required=True)
    for key, bound in (("latitude", 90), ("longitude", 180)):
        value = m.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or abs(value) > bound:
            _err(out, f"{prop}.{key}", f"Must be a number between -{bound} and {bound}")


def _check_imagemap(out: Details, m: dict, prop: str) -> None:
    _https(out, m, "baseUrl", prop)
    _text(out, m, "altText", prop, MAX_ALT_TEXT, required=True)
    size = m.get("baseSize")
    if (
        not isinstance(size, dict)
        or size.get("width") != 1040
        or not isinstance(size.get("height"), int)
    ):
        _err(out, f"{prop}.baseSize", "width must be 1040 and height an integer")
    if "video" in m:
        _imagemap_video(out, m["video"], f"{prop}.video")
    actions = m.get("actions")
    if _size(out, f"{prop}.actions", actions, 1, MAX_IMAGEMAP_ACTIONS):
        for i, action in enumerate(actions):
            _imagemap_action(out, action, f"{prop}.actions[{i}]")


def _imagemap_video(out: Details, video: Any, prop: str) -> None:
    if not _object(out, video, prop):
        return
    _https(out, video, "originalContentUrl", prop)
    _https(out, video, "previewImageUrl", prop)
    _area(out, video.get("area"), f"{prop}.area")
    link = video.get("externalLink")
    if link is not None and _object(out, link, f"{prop}.externalLink"):
        _uri(out, link, "linkUri", f"{prop}.externalLink")
        _text(out, link, "label", f"{prop}.externalLink", 30, required=True)


def _imagemap_action(out: Details, action: Any, prop: str) -> None:
    if not _object(out, action, prop):
        return
    kind = action.get("type")
    if kind == "uri":
        _uri(out, action, "linkUri", prop)
    elif kind == "message":
        _text(out, action, "text", prop, 400, required=True)
    elif kind == "clipboard":
        _text(out, action, "clipboardText", prop, 1000, required=True)
    else:
        _err(out, f"{prop}.type", "Must be one of the following values: [uri, message, clipboard]")
    _area(out, action.get("area"), f"{prop}.area")


def _area(out: Details, area: Any, prop: str) -> None:
    if not _object(out, area, prop):
        return
    for key, lo in (("x", 0), ("y", 0), ("width", 1), ("height", 1)):
        value = area.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < lo:
            _err(out, f"{prop}.{key}", f"Must be an integer of at least {lo}")


def _uri(out: Details, obj: dict, key: str, prop: str) -> None:
    value = obj.get(key)
    if _url_scheme(value) not in URI_SCHEMES:
        _err(out, f"{prop}.{key}", "Must be a valid URI (http, https, line or tel)")
    elif len(value) > MAX_URI_ACTION:
        _err(out, f"{prop}.{key}", f"Length must be between 0 and {MAX_URI_ACTION}")


def _action(
    out: Details,
    action: Any,
    prop: str,
    *,
    place: str,
    label_required: bool = True,
    label_max: int = MAX_ACTION_LABEL,
) -> None:
    """`place` names where the action sits (template, quick reply, flex) for LINE's
    restrictions on where some action types may be used."""
    if not _object(out, action, prop):
        return
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        _err(out, f"{prop}.type", _one_of(ACTION_TYPES))
        return
    places = ACTION_PLACES.get(kind)
    if places is not None and place not in places:
        _err(out, f"{prop}.type", f"A {kind} action can only be used in {' or '.join(places)}")
        return
    _text(out, action, "label", prop, label_max, required=label_required, graphemes=True)
    if kind == "uri":
        _uri(out, action, "uri", prop)
    elif kind == "message":
        _text(out, action, "text", prop, MAX_ACTION_TEXT, required=True, graphemes=True)
    elif kind == "postback":
        _text(out, action, "data", prop, MAX_POSTBACK_DATA, required=True)
        for key in ("displayText", "text", "fillInText"):
            _text(out, action, key, prop, MAX_ACTION_TEXT, required=False, graphemes=True)
    elif kind == "datetimepicker":
        _text(out, action, "data", prop, MAX_POSTBACK_DATA, required=True)
        if action.get("mode") not in ("date", "time", "datetime"):
            _err(out, f"{prop}.mode", _one_of(("date", "time", "datetime")))
    elif kind == "clipboard":
        _text(out, action, "clipboardText", prop, 1000, required=True)


def _actions(out: Details, actions: Any, prop: str, lo: int, hi: int) -> None:
    if _size(out, prop, actions, lo, hi):
        for i, action in enumerate(actions):
            _action(out, action, f"{prop}[{i}]", place="template")


def _check_template(out: Details, m: dict, prop: str) -> None:
    _text(out, m, "altText", prop, MAX_TEMPLATE_ALT_TEXT, required=True)
    template = m.get("template")
    if not _object(out, template, f"{prop}.template"):
        return
    check = _TEMPLATE_CHECKS.get(template.get("type"))
    if check is None:
        choices = ", ".join(_TEMPLATE_CHECKS)
        _err(out, f"{prop}.template.type", f"Must be one of the following values: [{choices}]")
        return
    check(out, template, f"{prop}.template")


def _default_action(out: Details, obj: dict, prop: str) -> None:
    if "defaultAction" in obj:
        _action(
            out,
            obj["defaultAction"],
            f"{prop}.defaultAction",
            place="template",
            label_required=False,
        )


def _check_buttons(out: Details, t: dict, prop: str) -> None:
    short = "thumbnailImageUrl" in t or "title" in t
    _text(out, t, "text", prop, 60 if short else 160, required=True, graphemes=True)
    _text(out, t, "title", prop, 40, required=False, graphemes=True)
    _https(out, t, "thumbnailImageUrl", prop, required=False)
    _template_image(out, t, prop)
    _actions(out, t.get("actions"), f"{prop}.actions", 1, MAX_BUTTON_ACTIONS)
    _default_action(out, t, prop)


TEMPLATE_IMAGE_ENUMS = {
    "imageAspectRatio": ("rectangle", "square"),
    "imageSize": ("cover", "contain"),
}


def _template_image(out: Details, t: dict, prop: str) -> None:
    for key, choices in TEMPLATE_IMAGE_ENUMS.items():
        if key in t and t[key] not in choices:
            _err(out, f"{prop}.{key}", _one_of(choices))
    color = t.get("imageBackgroundColor")
    if color is not None and not (
        isinstance(color, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", color)
    ):
        _err(out, f"{prop}.imageBackgroundColor", "Must be a hexadecimal color (#RRGGBB)")


def _check_confirm(out: Details, t: dict, prop: str) -> None:
    _text(out, t, "text", prop, 240, required=True, graphemes=True)
    _actions(out, t.get("actions"), f"{prop}.actions", CONFIRM_ACTIONS, CONFIRM_ACTIONS)


def _check_carousel(out: Details, t: dict, prop: str) -> None:
    columns = t.get("columns")
    _template_image(out, t, prop)
    if not _size(out, f"{prop}.columns", columns, 1, MAX_CAROUSEL_COLUMNS):
        return
    objects = [c for c in columns if isinstance(c, dict)]
    # LINE: when one column has an image (or a title), every column must have one.
    shared = [key for key in ("thumbnailImageUrl", "title") if any(key in c for c in objects)]
    counts = set()
    for i, column in enumerate(columns):
        cprop = f"{prop}.columns[{i}]"
        if not _object(out, column, cprop):
            continue
        for key in shared:
            if key not in column:
                _err(out, f"{cprop}.{key}", f"Required because another column has a {key}")
        _text(out, column, "text", cprop, 60 if shared else 120, required=True, graphemes=True)
        _text(out, column, "title", cprop, 40, required=False, graphemes=True)
        _https(out, column, "thumbnailImageUrl", cprop, required=False)
        actions = column.get("actions")
        _actions(out, actions, f"{cprop}.actions", 1, MAX_CAROUSEL_COLUMN_ACTIONS)
        _default_action(out, column, cprop)
        counts.add(len(actions) if isinstance(actions, list) else -1)
    if len(counts) > 1:
        _err(out, f"{prop}.columns", "All columns must have the same number of actions")


def _check_image_carousel(out: Details, t: dict, prop: str) -> None:
    columns = t.get("columns")
    if not _size(out, f"{prop}.columns", columns, 1, MAX_CAROUSEL_COLUMNS):
        return
    for i, column in enumerate(columns):
        cprop = f"{prop}.columns[{i}]"
        if _object(out, column, cprop):
            _https(out, column, "imageUrl", cprop)
            _action(
                out,
                column.get("action"),
                f"{cprop}.action",
                place="template",
                label_required=False,
                label_max=MAX_IMAGE_CAROUSEL_LABEL,
            )


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


# --- flex ------------------------------------------------------------------------------------
# LINE checks a flex container after the rest of the request and reports its problems apart:
# "A message (messages[0]) in the request body is invalid", each property as a JSON pointer
# into the container ("/body/layout"), with "must be specified" for a missing property and
# "invalid property" for anything else. Locally the same problems carry the dotted path
# (messages[0].contents.body.layout) and a more specific message; `line_error_body` turns them
# into LINE's words and `details_from_line` turns LINE's back into ours.
FLEX_MISSING = "must be specified"
FLEX_INVALID = "invalid property"

_SIZES = ("xxs", "xs", "sm", "md", "lg", "xl", "xxl", "3xl", "4xl", "5xl")
_SPACES = ("none", "xs", "sm", "md", "lg", "xl", "xxl")
_BORDERS = ("none", "light", "normal", "medium", "semi-bold", "bold")
_NUM = r"(?:\d+(?:\.\d+)?)"
_PX, _PCT = rf"{_NUM}px", rf"{_NUM}%"
_POSITIONS = ("relative", "absolute")
_GRAVITIES = ("top", "bottom", "center")
_ALIGNS = ("start", "end", "center")
_OFFSETS = ("offsetTop", "offsetBottom", "offsetStart", "offsetEnd")

# A value format: keywords, and a pattern for the free form (pixels, percent, colour...).
_FORMATS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "space": (_SPACES, _PX),
    "offset": (_SPACES, f"{_PX}|{_PCT}"),
    "length": ((), f"{_PX}|{_PCT}"),
    "radius": (_SPACES, _PX),
    "border": (_BORDERS, _PX),
    "color": ((), r"#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?"),
    "image_size": ((*_SIZES, "full"), f"{_PX}|{_PCT}"),
    "font_size": (_SIZES, _PX),
    "px": ((), _PX),
    "ratio": ((), r"[1-9]\d{0,5}(?:\.\d+)?:[1-9]\d{0,5}(?:\.\d+)?"),
    "angle": ((), rf"-?{_NUM}deg"),
    "percent": ((), _PCT),
}
_POSITIONED = {"margin": "space", "position": _POSITIONS} | dict.fromkeys(_OFFSETS, "offset")

# Per component: required properties, then each checked property and its format (a name in
# _FORMATS, "int" for a non-negative integer, "bool", or a tuple of allowed values). Enums and
# `required` follow the OpenAPI spec's Flex* schemas (tests/lineapi/test_flex_spec.py holds
# them to it); the formats follow LINE's "Flex Message elements" and "layout" pages.
FLEX_COMPONENTS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "box": (
        ("layout", "contents"),
        {
            **_POSITIONED,
            "layout": ("horizontal", "vertical", "baseline"),
            "flex": "int",
            "spacing": "space",
            "backgroundColor": "color",
            "borderColor": "color",
            "borderWidth": "border",
            "cornerRadius": "radius",
            "width": "length",
            "maxWidth": "length",
            "height": "length",
            "maxHeight": "length",
            **dict.fromkeys(
                ("paddingAll", "paddingTop", "paddingBottom", "paddingStart", "paddingEnd"),
                "offset",
            ),
            "justifyContent": (
                "center",
                "flex-start",
                "flex-end",
                "space-between",
                "space-around",
                "space-evenly",
            ),
            "alignItems": ("center", "flex-start", "flex-end"),
        },
    ),
    "button": (
        ("action",),
        {
            **_POSITIONED,
            "flex": "int",
            "color": "color",
            "style": ("primary", "secondary", "link"),
            "gravity": _GRAVITIES,
            "height": ("md", "sm"),
            "adjustMode": ("shrink-to-fit",),
            "scaling": "bool",
        },
    ),
    "image": (
        ("url",),
        {
            **_POSITIONED,
            "flex": "int",
            "align": _ALIGNS,
            "gravity": _GRAVITIES,
            "size": "image_size",
            "aspectRatio": "ratio",
            "aspectMode": ("fit", "cover"),
            "backgroundColor": "color",
            "animated": "bool",
        },
    ),
    "video": (("url", "previewUrl", "altContent"), {"aspectRatio": "ratio"}),
    "icon": (
        ("url",),
        {**_POSITIONED, "size": "font_size", "aspectRatio": "ratio", "scaling": "bool"},
    ),
    "text": (
        (),
        {
            **_POSITIONED,
            "flex": "int",
            "size": "font_size",
            "align": _ALIGNS,
            "gravity": _GRAVITIES,
            "color": "color",
            "weight": ("regular", "bold"),
            "style": ("normal", "italic"),
            "decoration": ("none", "underline", "line-through"),
            "wrap": "bool",
            "lineSpacing": "px",
            "maxLines": "int",
            "adjustMode": ("shrink-to-fit",),
            "scaling": "bool",
        },
    ),
    "span": (
        ("text",),
        {
            "size": "font_size",
            "color": "color",
            "weight": ("regular", "bold"),
            "style": ("normal", "italic"),
            "decoration": ("none", "underline", "line-through"),
        },
    ),
    "separator": ((), {"margin": "space", "color": "color"}),
    "filler": ((), {"flex": "int"}),
}
FLEX_BUBBLE_SIZES = ("nano", "micro", "deca", "hecto", "kilo", "mega", "giga")
FLEX_VIDEO_BUBBLE_SIZES = ("kilo", "mega", "giga")
FLEX_HERO_TYPES = ("box", "image", "video")
# What each kind of box may hold (LINE's "Flex Message elements", box component).
FLEX_BOX_CHILDREN = {
    "horizontal": ("box", "button", "image", "text", "separator", "filler"),
    "vertical": ("box", "button", "image", "text", "separator", "filler"),
    "baseline": ("icon", "text", "filler"),
}
MAX_FLEX_RATIO = 100_000
# LINE's "Flex Message layout": children of a baseline box take no gravity and no offsetBottom.
FLEX_NOT_IN_BASELINE = ("gravity", "offsetBottom")


def _flex_missing(out: Details, prop: str) -> None:
    _err(out, prop, FLEX_MISSING)


def _flex_value(out: Details, obj: dict, key: str, fmt: Any, prop: str) -> None:
    value = obj[key]
    vprop = f"{prop}.{key}"
    if isinstance(fmt, tuple):
        if value not in fmt:
            _err(out, vprop, _one_of(fmt))
    elif fmt == "int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            _err(out, vprop, "Must be an integer of at least 0")
    elif fmt == "bool":
        if not isinstance(value, bool):
            _err(out, vprop, "Must be true or false")
    else:
        keywords, pattern = _FORMATS[fmt]
        ok = isinstance(value, str) and (
            value in keywords or (pattern is not None and re.fullmatch(pattern, value))
        )
        if ok and fmt == "ratio":
            width, height = (float(n) for n in value.split(":"))
            ok = width <= MAX_FLEX_RATIO and height <= min(MAX_FLEX_RATIO, 3 * width)
        if not ok:
            _err(out, vprop, _FORMAT_HINTS[fmt])


_FORMAT_HINTS = {
    "space": f"Must be one of [{', '.join(_SPACES)}] or pixels (e.g. 10px)",
    "offset": f"Must be one of [{', '.join(_SPACES)}], pixels (10px) or a percentage (5%)",
    "length": "Must be pixels (e.g. 100px) or a percentage (e.g. 50%)",
    "radius": f"Must be one of [{', '.join(_SPACES)}] or pixels (e.g. 10px)",
    "border": f"Must be one of [{', '.join(_BORDERS)}] or pixels (e.g. 2px)",
    "color": "Must be a hexadecimal color (#RRGGBB or #RRGGBBAA)",
    "image_size": f"Must be one of [{', '.join(_SIZES)}, full], pixels or a percentage",
    "font_size": f"Must be one of [{', '.join(_SIZES)}] or pixels (e.g. 16px)",
    "px": "Must be pixels (e.g. 10px)",
    "ratio": "Must be {width}:{height}, each 1 to 100000, the height at most 3 times the width",
    "angle": "Must be an angle in degrees (e.g. 90deg)",
    "percent": "Must be a percentage (e.g. 50%)",
}


def _check_flex(out: Details, m: dict, prop: str) -> None:
    _text(out, m, "altText", prop, MAX_ALT_TEXT, required=True)
    cprop = f"{prop}.contents"
    contents = m.get("contents")
    if contents is None:
        _err(out, cprop, "May not be empty")
        return
    if not _object(out, contents, cprop):
        return
    kind = contents.get("type")
    if kind == "bubble":
        _flex_bubble(out, contents, cprop, in_carousel=False)
    elif kind == "carousel":
        _flex_carousel(out, contents, cprop)
    elif kind is None:
        _flex_missing(out, f"{cprop}.type")
    else:
        _err(out, f"{cprop}.type", _one_of(("bubble", "carousel")))


def _flex_carousel(out: Details, carousel: dict, prop: str) -> None:
    bubbles = carousel.get("contents")
    if bubbles is None:
        _flex_missing(out, f"{prop}.contents")
        return
    if not _size(out, f"{prop}.contents", bubbles, 1, MAX_FLEX_CAROUSEL_BUBBLES):
        return
    if _json_bytes(carousel) > MAX_FLEX_CAROUSEL_BYTES:
        limit = MAX_FLEX_CAROUSEL_BYTES
        _err(out, prop, f"Size of a flex carousel must be at most {limit} bytes")
    for i, bubble in enumerate(bubbles):
        bprop = f"{prop}.contents[{i}]"
        if not _object(out, bubble, bprop):
            continue
        if bubble.get("type") != "bubble":
            _err(out, f"{bprop}.type", "Must be bubble")
            continue
        _flex_bubble(out, bubble, bprop, in_carousel=True)


def _flex_bubble(out: Details, bubble: dict, prop: str, *, in_carousel: bool) -> None:
    if _json_bytes(bubble) > MAX_FLEX_BUBBLE_BYTES:
        _err(out, prop, f"Size of a flex bubble must be at most {MAX_FLEX_BUBBLE_BYTES} bytes")
        return
    for key, choices in (("size", FLEX_BUBBLE_SIZES), ("direction", ("ltr", "rtl"))):
        if key in bubble:
            _flex_value(out, bubble, key, choices, prop)
    for block in ("header", "body", "footer"):
        if block in bubble:
            _flex_component(out, bubble[block], f"{prop}.{block}", allowed=("box",))
    hero = bubble.get("hero")
    if hero is not None:
        _flex_component(out, hero, f"{prop}.hero", allowed=FLEX_HERO_TYPES)
        if isinstance(hero, dict) and hero.get("type") == "video":
            size = bubble.get("size", "mega")
            if size not in FLEX_VIDEO_BUBBLE_SIZES:
                _err(out, f"{prop}.size", "A bubble with a video must be kilo, mega or giga")
            if in_carousel:
                _err(out, f"{prop}.hero", "A video cannot be used in a carousel")
    if "styles" in bubble:
        _flex_styles(out, bubble["styles"], f"{prop}.styles")
    _flex_action(out, bubble, prop)


def _flex_styles(out: Details, styles: Any, prop: str) -> None:
    if not _object(out, styles, prop):
        return
    for block in ("header", "hero", "body", "footer"):
        style = styles.get(block)
        if style is None or not _object(out, style, f"{prop}.{block}"):
            continue
        for key, fmt in (("backgroundColor", "color"), ("separatorColor", "color")):
            if key in style:
                _flex_value(out, style, key, fmt, f"{prop}.{block}")
        if "separator" in style:
            _flex_value(out, style, "separator", "bool", f"{prop}.{block}")


def _flex_action(out: Details, node: dict, prop: str) -> None:
    if "action" in node:
        _action(
            out,
            node["action"],
            f"{prop}.action",
            place="flex",
            label_required=False,
            label_max=MAX_FLEX_ACTION_LABEL,
        )


def _flex_component(out: Details, node: Any, prop: str, *, allowed: tuple[str, ...]) -> None:
    """One component and, for a box or a text, its children; `allowed` names the component
    types its place may hold."""
    if not _object(out, node, prop):
        return
    kind = node.get("type")
    if kind is None:
        _flex_missing(out, f"{prop}.type")
        return
    if kind not in FLEX_COMPONENTS:
        _err(out, f"{prop}.type", _one_of(tuple(FLEX_COMPONENTS)))
        return
    if kind not in allowed:
        _err(out, f"{prop}.type", f"A {kind} cannot be used here; allowed: {', '.join(allowed)}")
        return
    required, checked = FLEX_COMPONENTS[kind]
    for key in required:
        if node.get(key) is None:
            _flex_missing(out, f"{prop}.{key}")
    for key, fmt in checked.items():
        if node.get(key) is not None:
            _flex_value(out, node, key, fmt, prop)
    for key in ("url", "previewUrl"):
        if kind in ("image", "icon", "video") and node.get(key) is not None:
            _https(out, node, key, prop)
    _FLEX_CHILDREN.get(kind, _no_children)(out, node, prop)
    _flex_action(out, node, prop)


def _no_children(out: Details, node: dict, prop: str) -> None:
    return


def _flex_box_children(out: Details, box: dict, prop: str) -> None:
    contents = box.get("contents")
    if contents is None:
        return  # already reported
    if not isinstance(contents, list):
        _err(out, f"{prop}.contents", "Must be an array")
        return
    layout = box.get("layout")
    allowed = FLEX_BOX_CHILDREN.get(layout, FLEX_BOX_CHILDREN["vertical"])
    for i, child in enumerate(contents):
        cprop = f"{prop}.contents[{i}]"
        if isinstance(child, dict) and child.get("type") == "icon" and layout != "baseline":
            _err(out, f"{cprop}.type", "An icon can only be used in a baseline box")
            continue
        if isinstance(child, dict) and layout == "baseline":
            for key in FLEX_NOT_IN_BASELINE:
                if key in child:
                    _err(out, f"{cprop}.{key}", f"{key} cannot be used in a baseline box")
        _flex_component(out, child, cprop, allowed=allowed)
    background = box.get("background")
    if background is not None:
        _flex_background(out, background, f"{prop}.background")


def _flex_background(out: Details, background: Any, prop: str) -> None:
    if not _object(out, background, prop):
        return
    if background.get("type") is None:
        _flex_missing(out, f"{prop}.type")
        return
    if background["type"] != "linearGradient":
        _err(out, f"{prop}.type", _one_of(("linearGradient",)))
        return
    for key in ("angle", "startColor", "endColor"):
        if background.get(key) is None:
            _flex_missing(out, f"{prop}.{key}")
    checked = {"angle": "angle", "startColor": "color", "endColor": "color"}
    checked |= {"centerColor": "color", "centerPosition": "percent"}
    for key, fmt in checked.items():
        if background.get(key) is not None:
            _flex_value(out, background, key, fmt, prop)


def _flex_text_children(out: Details, node: dict, prop: str) -> None:
    contents = node.get("contents")
    if contents is None or contents == []:
        text = node.get("text")
        if text is None:
            _flex_missing(out, f"{prop}.text")
        elif not isinstance(text, str) or not text:
            _err(out, f"{prop}.text", "Must be a non-empty string")
        return
    if not isinstance(contents, list):
        _err(out, f"{prop}.contents", "Must be an array")
        return
    for i, span in enumerate(contents):
        _flex_component(out, span, f"{prop}.contents[{i}]", allowed=("span",))


def _flex_span_text(out: Details, node: dict, prop: str) -> None:
    text = node.get("text")
    if text is not None and (not isinstance(text, str) or not text):
        _err(out, f"{prop}.text", "Must be a non-empty string")


def _flex_video_children(out: Details, node: dict, prop: str) -> None:
    alt = node.get("altContent")
    if alt is not None:
        _flex_component(out, alt, f"{prop}.altContent", allowed=("box", "image"))


_FLEX_CHILDREN = {
    "box": _flex_box_children,
    "text": _flex_text_children,
    "span": _flex_span_text,
    "video": _flex_video_children,
}


# --- LINE's error bodies -----------------------------------------------------------------------

_FLEX_PROP_RE = re.compile(r"^messages\[(\d+)\]\.contents(?=[.\[])")
_LINE_FLEX_MESSAGE_RE = re.compile(
    r"^A message \(messages\[(\d+)\]\)\s+in the request body is invalid"
)


def _flex_pointer(prop: str, prefix_len: int) -> str:
    rest = prop[prefix_len:]
    parts = [p for p in re.split(r"\.|\[(\d+)\]", rest) if p]
    return "/" + "/".join(parts)


def line_error_body(details: Details) -> dict:
    """The 400 body LINE sends for these problems. LINE checks the request as a whole first
    ("The request body has N error(s)"); only a request that passes that is checked flex
    container by flex container, and LINE answers for the first bad one alone."""
    plain = [d for d in details if not _FLEX_PROP_RE.match(d.get("property", ""))]
    if plain:
        return {"message": f"The request body has {len(plain)} error(s)", "details": plain}
    prefix = _FLEX_PROP_RE.match(details[0]["property"]).group(0)
    wire = [
        {
            "message": FLEX_MISSING if d["message"] == FLEX_MISSING else FLEX_INVALID,
            "property": _flex_pointer(d["property"], len(prefix)),
        }
        for d in details
        if _FLEX_PROP_RE.match(d["property"]).group(0) == prefix
    ]
    index = prefix[len("messages[") : prefix.index("]")]
    message = f"A message (messages[{index}]) in the request body is invalid"
    return {"message": message, "details": wire}


def details_from_line(body: Any) -> Details:
    """LINE's error details with every property as this module names it: a flex pointer
    ("/body/layout" under "A message (messages[0]) ...") becomes
    messages[0].contents.body.layout."""
    if not isinstance(body, dict) or not isinstance(body.get("details"), list):
        return []
    details = [d for d in body["details"] if isinstance(d, dict)]
    match = _LINE_FLEX_MESSAGE_RE.match(str(body.get("message", "")))
    if match is None:
        return details
    prefix = f"messages[{match.group(1)}].contents"
    return [{**d, "property": prefix + _dotted(str(d.get("property", "")))} for d in details]


def _dotted(pointer: str) -> str:
    return "".join(
        f"[{part}]" if part.isdigit() else f".{part}" for part in pointer.split("/") if part
    )


def _quick_reply(out: Details, quick_reply: Any, prop: str) -> None:
    if not _object(out, quick_reply, prop):
        return
    items = quick_reply.get("items")
    if not _size(out, f"{prop}.items", items, 1, MAX_QUICK_REPLY_ITEMS):
        return
    for i, item in enumerate(items):
        iprop = f"{prop}.items[{i}]"
        if not _object(out, item, iprop):
            continue
        if item.get("type") != "action":
            _err(out, f"{iprop}.type", "Must be action")
        _https(out, item, "imageUrl", iprop, required=False)
        _action(out, item.get("action"), f"{iprop}.action", place="quick reply")


_CHECKS = {
    "text": _check_text,
    "textV2": _check_text_v2,
    "sticker": _check_sticker,
    "image": _check_image,
    "video": _check_video,
    "audio": _check_audio,
    "location": _check_location,
    "imagemap": _check_imagemap,
    "template": _check_template,
    "flex": _check_flex,
    "coupon": _check_coupon,
}
_TEMPLATE_CHECKS = {
    "buttons": _check_buttons,
    "confirm": _check_confirm,
    "carousel": _check_carousel,
    "image_carousel": _check_image_carousel,
}
