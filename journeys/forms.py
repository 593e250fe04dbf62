"""The journey editor: the definition's fields, the entry conditions as the segment builder's
rows, and one or more send steps, each a saved template or messages in the template editor.

The form only reads what was typed; `journeys.definition` (through the services) decides what is
valid, and each problem it names is put back next to its input. Nothing typed is dropped."""

from __future__ import annotations

from django import forms
from django.http import QueryDict

from audiences import builder as builder_rows
from audiences.rules import RuleError
from campaigns.forms import ConnectionChoiceField, MessageEditor, sole_active_connection
from connections.models import Connection
from journeys.definition import TRANSACTIONAL_TRIGGERS, Problem
from journeys.models import Journey, JourneyRun
from kit import input_guard
from kit.forms import BootstrapForm

MAX_STEPS = 10  # in the editor; the API takes more (journeys.definition.MAX_STEPS)
# The transactional checkbox shows only for the triggers that may be transactional.
TRANSACTIONAL_SHOWN = "trigger_type=" + "|".join(TRANSACTIONAL_TRIGGERS)
# Placeholders the variable picker offers beside the contact's, for the trigger chosen.
TRIGGER_VARIABLES = [
    {"key": "event.name", "show_when": "trigger_type=follow|keyword|postback|join|event"},
    {"key": "event.text", "show_when": "trigger_type=keyword"},
    {"key": "event.postback.data", "show_when": "trigger_type=postback"},
]


def _radio(choices: list[tuple[str, str]], initial: str, label: str) -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=choices,
        initial=initial,
        label=label,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )


class JourneyForm(BootstrapForm):
    # Nothing is required here: the service says what is missing, all at once.
    name = forms.CharField(required=False)
    connection = ConnectionChoiceField(
        queryset=Connection.objects.all(),
        required=False,
        help_text="The LINE channel whose events start the journey and that sends its messages.",
    )
    trigger_type = _radio(Journey.Trigger.choices, "", "Starts when")
    follow_when = _radio(
        [
            ("new", "New friends only (their first follow)"),
            ("unblocked", "Friends who unblock the account"),
            ("any", "Every follow, new or unblocked"),
        ],
        "new",
        "Which follows",
    )
    keywords = forms.CharField(
        required=False,
        label="Keywords (one per line)",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Case and full-width letters do not matter: COUPON typed full-width matches "
        "coupon.",
    )
    keyword_match = _radio(
        [
            ("exact", "The message is one of the keywords"),
            ("contains", "The message contains one of the keywords"),
        ],
        "exact",
        "Match",
    )
    postback_data = forms.CharField(
        required=False,
        label="Postback data",
        help_text="The data of the button or rich-menu area, e.g. action=coupon.",
    )
    postback_match = _radio(
        [("exact", "The data is exactly this"), ("prefix", "The data starts with this")],
        "exact",
        "Match",
    )
    event_name = forms.CharField(
        required=False,
        label="Event name",
        widget=forms.TextInput(attrs={"list": "event-names", "autocomplete": "off"}),
        help_text="The name your systems send to POST /api/v1/events, e.g. order_shipped.",
    )
    entry = _radio(
        [
            ("once", "Once: a contact enters at most once, ever"),
            ("every_time", "Every time the trigger fires"),
            ("at_most_every", "At most every …"),
        ],
        "once",
        "Entry",
    )
    entry_every = forms.CharField(
        required=False,
        label="At most every (days)",
        help_text="A number of days, e.g. 30 (or hours: 36h).",
    )
    transactional = forms.BooleanField(
        required=False,
        label="Transactional",
        help_text="For messages the customer's own action or your systems make necessary, such "
        "as an order receipt: sent to contacts who opted out of marketing too, and not held back "
        "by the frequency cap. Only event, API and postback journeys can be transactional; the "
        "audit log records who sets it.",
    )
    daily_limit = forms.IntegerField(
        required=False,
        initial=3,
        label="Daily limit per contact",
        help_text="At most this many of this journey's sends to one contact in 24 hours: it "
        "stops loops (a reply that triggers a keyword that replies …).",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and "connection" not in self.initial:
            self.fields["connection"].initial = sole_active_connection()

    @classmethod
    def initial_for(cls, journey: Journey) -> dict:
        trigger = journey.trigger if isinstance(journey.trigger, dict) else {}
        kind = trigger.get("type", "")
        every = journey.entry.get("at_most_every", "") if isinstance(journey.entry, dict) else ""
        return {
            "name": journey.name,
            "connection": journey.connection_id,
            "trigger_type": kind,
            "follow_when": trigger.get("when", "any") if kind == "follow" else "new",
            "keywords": "\n".join(trigger.get("keywords", [])) if kind == "keyword" else "",
            "keyword_match": trigger.get("match", "exact") if kind == "keyword" else "exact",
            "postback_data": trigger.get("data", "") if kind == "postback" else "",
            "postback_match": trigger.get("match", "exact") if kind == "postback" else "exact",
            "event_name": trigger.get("name", "") if kind == "event" else "",
            "entry": "at_most_every" if every else journey.entry,
            "entry_every": every.removesuffix("d") if every.endswith("d") else every,
            "transactional": journey.transactional,
            "daily_limit": journey.daily_limit,
        }

    def trigger(self) -> dict:
        data = self.cleaned_data
        kind = data.get("trigger_type") or ""
        if kind == "follow":
            return {"type": kind, "when": data.get("follow_when") or "new"}
        if kind == "keyword":
            words = [w.strip() for w in (data.get("keywords") or "").splitlines() if w.strip()]
            return {"type": kind, "keywords": words, "match": data.get("keyword_match") or "exact"}
        if kind == "postback":
            match = data.get("postback_match") or "exact"
            return {"type": kind, "data": data.get("postback_data") or "", "match": match}
        if kind == "event":
            return {"type": kind, "name": (data.get("event_name") or "").strip()}
        return {"type": kind} if kind else {}

    def entry_rule(self) -> object:
        entry = self.cleaned_data.get("entry") or "once"
        if entry != "at_most_every":
            return entry
        every = (self.cleaned_data.get("entry_every") or "").strip()
        return {"at_most_every": f"{every}d" if every.isdigit() else every}

    def definition_fields(self) -> dict:
        data = self.cleaned_data
        kind = data.get("trigger_type") or ""
        return {
            "name": (data.get("name") or "").strip(),
            "connection": data.get("connection"),
            "trigger": self.trigger(),
            "entry": self.entry_rule(),
            # The checkbox is shown only for the triggers that may be transactional: a hidden
            # one left ticked before switching to a keyword trigger does not count.
            "transactional": bool(data.get("transactional")) and kind in TRANSACTIONAL_TRIGGERS,
            "daily_limit": data.get("daily_limit"),
        }


# Where each of the definition's problem paths is shown: a field of JourneyForm.
PROBLEM_FIELDS = {
    "name": "name",
    "connection": "connection",
    "trigger.type": "trigger_type",
    "trigger.when": "follow_when",
    "trigger.keywords": "keywords",
    "trigger.data": "postback_data",
    "trigger.name": "event_name",
    "entry": "entry",
    "entry.at_most_every": "entry_every",
    "transactional": "transactional",
    "daily_limit": "daily_limit",
}


class SendStep:
    """One send step: a saved template, or messages in its own template editor. Its inputs are
    named after a key that stays the same while steps before it are removed (`s3-source`)."""

    def __init__(self, key: int, data: QueryDict | None = None, step: dict | None = None) -> None:
        self.key = key
        self.errors: list[str] = []
        if data is not None:
            self.source = "template" if data.get(f"{self.prefix}source") == "template" else "inline"
            self.template = data.get(f"{self.prefix}template", "")
            self.step_id = data.get(f"{self.prefix}id", "")
            self.editor = MessageEditor(data, prefix=self.prefix)
            return
        step = step or {}
        # An id the API gave the step (journeys.flow) is kept through the editor.
        self.step_id = str(step["id"]) if step.get("id") is not None else ""
        has_template = step.get("template") is not None
        self.source = "template" if has_template else "inline"
        self.template = str(step["template"]) if has_template else ""
        inline = step.get("messages") if not has_template else None
        self.editor = MessageEditor(messages=inline, prefix=self.prefix)

    @property
    def prefix(self) -> str:
        return f"s{self.key}-"

    def definition(self) -> dict | None:
        """The step as the definition holds it; None when its messages could not be read."""
        kept = {"id": self.step_id} if self.step_id else {}
        if self.source == "template":
            template = int(self.template) if self.template.isdigit() else None
            return {"type": "send", **kept, "template": template}
        messages = self.editor.messages()
        return None if messages is None else {"type": "send", **kept, "messages": messages}

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or (self.source == "inline" and self.editor.has_errors)


class JourneyEditor:
    """The whole editor page's input: the form, the entry-condition rows and the steps."""

    def __init__(
        self, form: JourneyForm, builder: builder_rows.Builder, steps: list[SendStep]
    ) -> None:
        self.form, self.builder, self.steps = form, builder, steps
        self.builder_error = ""
        self.step_errors: list[str] = []

    @classmethod
    def blank(cls) -> JourneyEditor:
        return cls(JourneyForm(), builder_rows.Builder(), [SendStep(0)])

    @classmethod
    def for_journey(cls, journey: Journey) -> JourneyEditor:
        steps = [SendStep(i, step=s) for i, s in enumerate(journey.steps or [])] or [SendStep(0)]
        conditions = journey.entry_conditions
        builder = builder_rows.from_rules(conditions) if conditions else builder_rows.Builder()
        return cls(JourneyForm(initial=JourneyForm.initial_for(journey)), builder, steps)

    @classmethod
    def from_post(cls, data: QueryDict) -> JourneyEditor:
        keys = [int(k) for k in data.get("step_keys", "").split() if k.isdigit()][:MAX_STEPS]
        steps = [SendStep(key, data=data) for key in dict.fromkeys(keys)] or [SendStep(0)]
        return cls(JourneyForm(data), builder_rows.from_post(data), steps)

    @property
    def step_keys(self) -> str:
        return " ".join(str(step.key) for step in self.steps)

    @property
    def can_add_step(self) -> bool:
        return len(self.steps) < MAX_STEPS

    def step(self, key: str) -> SendStep | None:
        return next((s for s in self.steps if str(s.key) == key), None)

    def apply_action(self, action: str) -> bool:
        """Apply a button that only reshapes the page (steps, a step's messages); False when
        the action is a save."""
        if action == "add-step" and self.can_add_step:
            self.steps.append(SendStep(1 + max(s.key for s in self.steps)))
            return True
        if action.startswith("remove-step-"):
            if len(self.steps) > 1:
                self.steps = [s for s in self.steps if f"remove-step-{s.key}" != action]
            return True
        return any(step.editor.apply_action(action) for step in self.steps)

    def entry_conditions(self) -> dict | None:
        rules = builder_rows.to_rules(self.builder, builder_rows.attribute_types())
        return rules if any(rules.values()) else None

    def service_fields(self) -> dict | None:
        """The journey's fields for journey_create / journey_update; None when something typed
        could not even be read (its error is shown, nothing is saved)."""
        form_ok = self.form.is_valid()
        steps = [step.definition() for step in self.steps]
        if not form_ok or None in steps:
            return None
        return {
            **self.form.definition_fields(),
            "entry_conditions": self.entry_conditions(),
            "steps": steps,
        }

    def add_problems(self, problems: list[Problem]) -> None:
        """Each problem next to the input it names."""
        trigger_kind = self.form.cleaned_data.get("trigger_type") or ""
        for problem in problems:
            where, message = problem.field, problem.message
            if where.startswith("entry_conditions"):
                path = "rules" + where.removeprefix("entry_conditions")
                error = RuleError(path, message)
                types = builder_rows.attribute_types()
                self.builder_error = builder_rows.error_message(self.builder, types, error)
            elif where.startswith("steps["):
                self._step_problem(where, message)
            elif where == "steps":
                self.step_errors.append(message)
            else:
                self.form.add_error(_form_field(where, trigger_kind), message)

    def _step_problem(self, where: str, message: str) -> None:
        index_text, _, rest = where[len("steps[") :].partition("]")
        index = int(index_text) if index_text.isdigit() else -1
        if not 0 <= index < len(self.steps):
            self.step_errors.append(message)
            return
        step, rest = self.steps[index], rest.lstrip(".")
        if rest.startswith("messages") and step.source == "inline":
            step.editor.add_errors([{"field": rest, "message": message}])
        else:
            step.errors.append(message)

    @property
    def has_errors(self) -> bool:
        return bool(
            self.form.errors
            or self.builder_error
            or self.step_errors
            or any(step.has_errors for step in self.steps)
        )


def _form_field(where: str, trigger_kind: str) -> str | None:
    if where in PROBLEM_FIELDS:
        return PROBLEM_FIELDS[where]
    if where.startswith("trigger.keywords["):
        return "keywords"
    if where == "trigger.match":
        return "postback_match" if trigger_kind == "postback" else "keyword_match"
    if where.startswith("trigger."):
        return "trigger_type"
    return None


def sample_properties(raw: str) -> tuple[dict, str]:
    """The preview's sample event properties (or API data), and why they were not used."""
    if not raw.strip():
        return {}, ""
    try:
        value = input_guard.loads(raw)
    except ValueError as exc:
        return {}, f"The sample properties are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return {}, 'The sample properties are a JSON object, e.g. {"order_id": "A-1001"}.'
    return value, ""


class RunFilterForm(BootstrapForm):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *JourneyRun.Status.choices]
    )
    q = forms.CharField(
        required=False,
        label="Contact",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "LINE id or name"}),
    )


class JourneyFilterForm(BootstrapForm):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Journey.Status.choices]
    )
