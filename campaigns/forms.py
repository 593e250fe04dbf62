import json
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

from django import forms
from django.http import QueryDict
from django.utils import timezone

from audiences.models import Segment
from campaigns.models import Campaign, MessageTemplate
from connections.models import Connection
from kit import input_guard
from kit.forms import BootstrapForm, TimeZoneField
from kit.timezones import zone_choices, zone_names
from lineapi import MAX_MESSAGES, TOO_MANY_MESSAGES, normalize_line_id

MESSAGE_TYPES = [
    ("text", "Text"),
    ("sticker", "Sticker"),
    ("image", "Image"),
    ("video", "Video"),
    ("audio", "Audio"),
    ("location", "Location"),
    ("imagemap", "Imagemap (JSON)"),
    ("template", "Template: buttons, confirm, carousels (JSON)"),
    ("flex", "Flex (JSON)"),
]
JSON_TYPES = {"imagemap", "template", "flex"}

# One input per key; `types` says which message types use it (the editor shows only those).
CARD_FIELDS = [
    {"key": "text", "label": "Text", "types": ["text"], "widget": "textarea"},
    {"key": "packageId", "label": "Package id", "types": ["sticker"]},
    {"key": "stickerId", "label": "Sticker id", "types": ["sticker"]},
    {
        "key": "originalContentUrl",
        "label": "Content URL (https)",
        "types": ["image", "video", "audio"],
        "input": "url",
    },
    {
        "key": "previewImageUrl",
        "label": "Preview image URL (https)",
        "types": ["image", "video"],
        "input": "url",
    },
    {"key": "duration", "label": "Duration (ms)", "types": ["audio"], "input": "number"},
    {"key": "title", "label": "Title", "types": ["location"]},
    {"key": "address", "label": "Address", "types": ["location"]},
    {"key": "latitude", "label": "Latitude", "types": ["location"], "input": "number"},
    {"key": "longitude", "label": "Longitude", "types": ["location"], "input": "number"},
    {
        "key": "json",
        "label": "Message object (JSON)",
        "types": sorted(JSON_TYPES),
        "widget": "textarea",
    },
]
FORM_KEYS = {
    kind: [f["key"] for f in CARD_FIELDS if kind in f["types"]] for kind, _ in MESSAGE_TYPES
}
NUMBER_KEYS = {"duration": int, "latitude": float, "longitude": float}


@dataclass
class Card:
    """One message of the editor: what the user typed, and the problems found in it."""

    index: int
    type: str = "text"
    values: dict = field(default_factory=dict)
    extra: str = ""
    errors: dict = field(default_factory=dict)
    card_errors: list = field(default_factory=list)
    # The editor's prefix: several editors share one form (a journey's send steps).
    prefix: str = ""

    @property
    def name(self) -> str:
        """The start of this card's input names: `m-0`, or `s1-m-0` in a prefixed editor."""
        return f"{self.prefix}m-{self.index}"

    @property
    def fields(self) -> list[dict]:
        return [
            {
                **f,
                "value": self.values.get(f["key"], ""),
                "errors": self.errors.get(f["key"], []),
                "shown": self.type in f["types"],
                "name": f"{self.name}-{f['key']}",
                "id": f"{self.name}-{f['key']}",
            }
            for f in CARD_FIELDS
        ]

    @property
    def has_errors(self) -> bool:
        return bool(self.card_errors or any(self.errors.values()))


def card_from_message(index: int, message: object, prefix: str = "") -> Card:
    if not isinstance(message, dict):
        as_json = {"json": json.dumps(message, ensure_ascii=False, indent=2)}
        return Card(index, "flex", as_json, prefix=prefix)
    kind = message.get("type") if message.get("type") in FORM_KEYS else "flex"
    if kind in JSON_TYPES:
        as_json = {"json": json.dumps(message, ensure_ascii=False, indent=2)}
        return Card(index, kind, as_json, prefix=prefix)
    keys = FORM_KEYS[kind]
    values = {k: "" if message.get(k) is None else str(message[k]) for k in keys}
    extra = {k: v for k, v in message.items() if k not in keys and k != "type"}
    extra_text = json.dumps(extra, ensure_ascii=False) if extra else ""
    return Card(index, kind, values, extra_text, prefix=prefix)


class MessageEditor:
    """Reads the template editor's cards (or its JSON view) and builds LINE message objects.

    Nothing the user typed is dropped: a value that does not parse is kept as typed and
    reported on its own field, and the cards are rendered again from what was posted.

    `prefix` starts every input name and action value (`s1-` gives `s1-m-0-text`,
    `s1-message_count`, `s1-add`), so that several editors can share one form.
    """

    def __init__(
        self, data: QueryDict | None = None, messages: list | None = None, prefix: str = ""
    ) -> None:
        self.prefix = prefix
        self.json_mode = False
        self.json_text = ""
        self.json_errors: list[str] = []
        self.general_errors: list[str] = []
        if data is None:
            self._cards_from(messages or [])
            return
        self.json_mode = data.get(f"{prefix}editor_mode") == "json"
        if self.json_mode:
            self.json_text = data.get(f"{prefix}messages_json", "")
            self.cards = []
        else:
            self.cards = [self._read_card(data, i) for i in range(self._count(data))]

    def _cards_from(self, messages: list) -> None:
        self.cards = [card_from_message(i, m, self.prefix) for i, m in enumerate(messages)]
        self.cards = self.cards or [Card(0, prefix=self.prefix)]

    def _count(self, data: QueryDict) -> int:
        try:
            return max(0, min(int(data.get(f"{self.prefix}message_count", "1")), MAX_MESSAGES))
        except ValueError:
            return 1

    def _read_card(self, data: QueryDict, i: int) -> Card:
        card = Card(i, prefix=self.prefix)
        kind = data.get(f"{card.name}-type", "text")
        card.type = kind if kind in FORM_KEYS else "text"
        card.values = {k: data.get(f"{card.name}-{k}", "") for k in FORM_KEYS[card.type]}
        card.extra = data.get(f"{card.name}-extra", "")
        return card

    def _card_message(self, card: Card) -> object:
        if card.type in JSON_TYPES:
            try:
                message = input_guard.loads(card.values.get("json") or "{}")
            except ValueError as exc:
                card.errors["json"] = [f"This is not valid JSON: {exc}"]
                return {"type": card.type}
            if isinstance(message, dict):
                message.setdefault("type", card.type)
            return message
        message: dict = {"type": card.type}
        if card.extra:
            try:
                extra = input_guard.loads(card.extra)
            except ValueError:
                extra = {}
            message.update(extra if isinstance(extra, dict) else {})
        for key in FORM_KEYS[card.type]:
            raw = card.values.get(key, "")
            convert = NUMBER_KEYS.get(key)
            if convert is None:
                message[key] = raw
                continue
            if raw.strip() == "":
                continue
            try:
                message[key] = convert(raw)
            except ValueError:
                card.errors[key] = ["Enter a number."]
        return message

    def messages(self) -> list | None:
        """The message objects, or None when some input could not even be read."""
        if self.json_mode:
            try:
                messages = input_guard.loads(self.json_text or "[]")
            except ValueError as exc:
                self.json_errors.append(f"This is not valid JSON: {exc}")
                return None
            return messages
        messages = [self._card_message(card) for card in self.cards]
        return None if any(card.has_errors for card in self.cards) else messages

    def partial_messages(self) -> list:
        """Whatever can be built now, for the preview and for switching views."""
        if self.json_mode:
            try:
                messages = input_guard.loads(self.json_text or "[]")
            except ValueError:
                return []
            return messages if isinstance(messages, list) else []
        return [self._card_message(card) for card in self.cards]

    def add_errors(self, errors: list[dict]) -> None:
        """Put each `{"field": "messages[1].text", ...}` next to the input it names."""
        for error in errors:
            path, message = error.get("field") or "messages", error.get("message", "")
            if self.json_mode:
                self.json_errors.append(f"{path}: {message}" if path != "messages" else message)
                continue
            card, key, rest = self._locate(path)
            if card is None:
                self.general_errors.append(message)
            elif key in FORM_KEYS[card.type] and not rest:
                card.errors.setdefault(key, []).append(message)
            elif card.type in JSON_TYPES:
                card.errors.setdefault("json", []).append(f"{path}: {message}")
            else:
                card.card_errors.append(f"{path}: {message}")

    def _locate(self, path: str) -> tuple[Card | None, str, str]:
        if not path.startswith("messages["):
            return None, "", ""
        index_text, _, tail = path[len("messages[") :].partition("]")
        if not index_text.isdigit() or int(index_text) >= len(self.cards):
            return None, "", ""
        key, _, rest = tail.lstrip(".").partition(".")
        key, bracket, more = key.partition("[")
        return self.cards[int(index_text)], key, rest + bracket + more

    def switch(self, to_json: bool) -> None:
        messages = self.partial_messages()
        if to_json:
            self.json_text = json.dumps(messages, ensure_ascii=False, indent=2)
        elif len(messages) > MAX_MESSAGES:  # the form has room for 5: keep the JSON as typed
            self.json_errors.append(TOO_MANY_MESSAGES)
            return
        else:
            self._cards_from(messages)
        self.json_mode = to_json

    @property
    def full(self) -> bool:
        return len(self.cards) >= MAX_MESSAGES

    too_many = TOO_MANY_MESSAGES

    def add_card(self) -> None:
        if self.full:
            self.general_errors.append(TOO_MANY_MESSAGES)
        else:
            self.cards.append(Card(len(self.cards), prefix=self.prefix))

    def remove_card(self, index: int) -> None:
        if len(self.cards) > 1 and 0 <= index < len(self.cards):
            self.cards.pop(index)
            for i, card in enumerate(self.cards):
                card.index = i

    def apply_action(self, action: str) -> bool:
        """Apply an editor button that only reshapes the form (add, remove-N, json, form);
        False when the action is not this editor's (a save)."""
        if not action.startswith(self.prefix):
            return False
        action = action[len(self.prefix) :]
        if action == "add":
            self.add_card()
        elif action.startswith("remove-") and action[7:].isdigit():
            self.remove_card(int(action[7:]))
        elif action in ("json", "form"):
            self.switch(to_json=action == "json")
        else:
            return False
        return True

    @property
    def has_errors(self) -> bool:
        cards = any(card.has_errors for card in self.cards)
        return bool(cards or self.json_errors or self.general_errors)


class TemplateMetaForm(BootstrapForm):
    name = forms.CharField(max_length=200)
    validate_connection = forms.ModelChoiceField(
        queryset=Connection.objects.filter(status=Connection.Status.ACTIVE),
        required=False,
        label="Validate with LINE through",
        empty_label="Do not ask LINE (local rules only)",
    )


def _parse_ids(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


def sole_active_connection() -> Connection | None:
    """What a new campaign starts with: the active connection when it is the only one."""
    active = list(Connection.objects.filter(status=Connection.Status.ACTIVE)[:2])
    return active[0] if len(active) == 1 else None


class ConnectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Connection) -> str:
        if obj.status == Connection.Status.ACTIVE:
            return obj.name
        return f"{obj.name} ({obj.get_status_display().lower()}: verify it before launching)"


class CampaignForm(BootstrapForm):
    name = forms.CharField(max_length=200)
    connection = ConnectionChoiceField(
        queryset=Connection.objects.all(),
        help_text="The LINE channel the messages go out through.",
    )
    audience_type = forms.ChoiceField(
        choices=Campaign.Audience.choices,
        widget=forms.RadioSelect,
        label="Audience",
        initial=Campaign.Audience.ALL_FOLLOWING,
    )
    segment = forms.ModelChoiceField(queryset=Segment.objects.all(), required=False)
    explicit_ids = forms.CharField(
        required=False,
        label="LINE ids",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="User (U…), group (C…) or room (R…) ids, one per line or separated by commas.",
    )
    message_source = forms.ChoiceField(
        choices=[("template", "A saved template"), ("inline", "Write messages here (JSON)")],
        widget=forms.RadioSelect,
        initial="template",
        label="Messages",
    )
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.all(), required=False)
    messages_json = forms.CharField(
        required=False,
        label="Messages (JSON array)",
        widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace"}),
        help_text='e.g. [{"type": "text", "text": "Hi {{ first_name | default: \\"there\\" }}"}]',
    )
    send_mode = forms.ChoiceField(
        choices=[("now", "Send when I launch it"), ("schedule", "At a date and time")],
        widget=forms.RadioSelect,
        initial="now",
        label="Delivery",
    )
    scheduled_at = forms.DateTimeField(
        required=False,
        label="Send at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    send_by = forms.DateTimeField(
        required=False,
        label="Send by (optional deadline)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Recipients not reached by then are not sent to.",
    )
    schedule_timezone = TimeZoneField(
        help_text="The send time is in this zone; pages show it with the UTC time beside it."
    )
    notification_disabled = forms.BooleanField(
        required=False, label="Deliver silently (no push notification)"
    )
    frequency_cap_enabled = forms.BooleanField(
        required=False, initial=True, label="Apply the frequency cap"
    )

    def __init__(self, *args, campaign: Campaign | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        saved = campaign.schedule_timezone if campaign is not None else ""
        if saved and saved not in zone_names():  # an alias saved before the list was curated
            self.fields["schedule_timezone"].choices = [
                *zone_choices(),
                ("Saved", [(saved, saved)]),
            ]
        audiences = [c for c in Campaign.Audience.choices if c[0] != Campaign.Audience.RETRY]
        if campaign is not None and campaign.audience_type == Campaign.Audience.RETRY:
            parent = campaign.parent.name if campaign.parent else "an earlier campaign"
            audiences.append((Campaign.Audience.RETRY, f"The failed recipients of “{parent}”"))
        self.fields["audience_type"].choices = audiences
        for name in ("audience_type", "message_source", "send_mode"):
            self.fields[name].widget.attrs["class"] = "form-check-input"
        if not self.is_bound and campaign is None and "connection" not in self.initial:
            self.fields["connection"].initial = sole_active_connection()

    @classmethod
    def initial_for(cls, campaign: Campaign) -> dict:
        zone = zoneinfo.ZoneInfo(campaign.schedule_timezone or "UTC")

        def local(value: datetime | None) -> datetime | None:
            return value.astimezone(zone).replace(tzinfo=None) if value else None

        return {
            "name": campaign.name,
            "connection": campaign.connection_id,
            "audience_type": campaign.audience_type,
            "segment": campaign.segment_id,
            "explicit_ids": "\n".join(campaign.explicit_ids or []),
            "message_source": "template" if campaign.template_id else "inline",
            "template": campaign.template_id,
            "messages_json": json.dumps(campaign.messages, ensure_ascii=False, indent=2)
            if campaign.messages and not campaign.template_id
            else "",
            "send_mode": "schedule" if campaign.scheduled_at else "now",
            "scheduled_at": local(campaign.scheduled_at),
            "send_by": local(campaign.send_by),
            "schedule_timezone": campaign.schedule_timezone,
            "notification_disabled": campaign.notification_disabled,
            "frequency_cap_enabled": campaign.frequency_cap_enabled,
        }

    def clean(self) -> dict:
        data = super().clean()
        audience = data.get("audience_type")
        if audience == Campaign.Audience.SEGMENT and not data.get("segment"):
            self.add_error("segment", "Choose a segment.")
        data["explicit_ids"] = _parse_ids(data.get("explicit_ids") or "")
        if audience == Campaign.Audience.EXPLICIT and not data["explicit_ids"]:
            self.add_error("explicit_ids", "Enter at least one LINE id.")
        self._clean_messages(data)
        self._clean_schedule(data)
        return data

    def _clean_messages(self, data: dict) -> None:
        data["messages"] = None
        if data.get("message_source") == "template":
            if not data.get("template"):
                self.add_error("template", "Choose a template, or write the messages here.")
            return
        data["template"] = None
        try:
            messages = input_guard.loads(data.get("messages_json") or "")
        except ValueError as exc:
            self.add_error("messages_json", f"This is not valid JSON: {exc}")
            return
        from campaigns.template_services import template_problems

        problems = template_problems(messages=messages)
        for problem in problems:
            self.add_error("messages_json", f"{problem['field']}: {problem['message']}")
        data["messages"] = messages

    def _clean_schedule(self, data: dict) -> None:
        zone = zoneinfo.ZoneInfo(data.get("schedule_timezone") or "UTC")
        for name in ("scheduled_at", "send_by"):
            value = data.get(name)
            if value is not None:
                data[name] = value.replace(tzinfo=None).replace(tzinfo=zone)
        if data.get("send_mode") != "schedule":
            data["scheduled_at"] = None
        elif data.get("scheduled_at") is None:
            self.add_error("scheduled_at", "Choose when to send.")
        elif data["scheduled_at"] <= timezone.now():
            self.add_error("scheduled_at", "Choose a time in the future.")
        start = data.get("scheduled_at") or timezone.now()
        if data.get("send_by") and data["send_by"] <= start:
            self.add_error("send_by", "The deadline must come after the send time.")

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "connection": data["connection"],
            "audience_type": data["audience_type"],
            "segment": data["segment"] if data["audience_type"] == "segment" else None,
            "explicit_ids": data["explicit_ids"] if data["audience_type"] == "explicit" else [],
            "template": data["template"],
            "messages": data["messages"] or [],
            "scheduled_at": data["scheduled_at"],
            "send_by": data["send_by"],
            "schedule_timezone": data["schedule_timezone"],
            "notification_disabled": data["notification_disabled"],
            "frequency_cap_enabled": data["frequency_cap_enabled"],
        }


class CampaignFilterForm(BootstrapForm):
    search = forms.CharField(
        required=False,
        label="Search by name",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Campaign name"}),
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Campaign.Status.choices]
    )


class TestSendForm(BootstrapForm):
    line_id = forms.CharField(
        label="Send a test to (LINE id)",
        max_length=33,
        widget=forms.TextInput(attrs={"list": "test-contacts", "autocomplete": "off"}),
        help_text="A real send to one contact through the connection, recorded as a test "
        "and never counted in the campaign.",
    )

    def clean_line_id(self) -> str:
        return normalize_line_id(self.cleaned_data["line_id"].strip())


class FrequencyCapForm(BootstrapForm):
    max_messages = forms.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        label="At most (campaign messages per contact)",
        help_text="Leave empty to turn the cap off.",
    )
    days = forms.IntegerField(min_value=1, max_value=365, label="In (days)")
