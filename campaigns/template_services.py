"""Message templates: the checks that run on save and before launch, and create/update/delete.

Problems are reported as `{"field": "messages[1].text", "message": ...}`, the property path LINE
itself uses, so the editor and the API can put each one next to the field it names.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from audiences.models import Contact
from campaigns.models import Campaign, MessageTemplate
from connections.line import line_call
from connections.models import Connection
from kit.services import audit_record
from lineapi import (
    MAX_MESSAGES,
    TOO_MANY_MESSAGES,
    LineApiError,
    LineInvalidRequestError,
    validate_messages,
)

MAX_NAME = 200


class TemplateInvalid(Exception):
    def __init__(self, errors: list[dict]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def template_problems(*, messages: object) -> list[dict]:
    """LINE's message rules first, then the Liquid syntax of every string field."""
    from campaigns.personalization import TemplateSyntaxProblem, TemplateTooCostly, check_messages

    if isinstance(messages, list) and len(messages) > MAX_MESSAGES:
        return [{"field": "messages", "message": TOO_MANY_MESSAGES}]
    problems = [
        {"field": d["property"], "message": d["message"]} for d in validate_messages(messages)
    ]
    if problems:
        return problems
    try:
        check_messages(messages)
    except TemplateSyntaxProblem as exc:
        return [{"field": getattr(exc, "property", "") or "messages", "message": str(exc)}]
    except TemplateTooCostly as exc:
        return [{"field": exc.property, "message": str(exc)}]
    return []


def template_problems_from_line(*, messages: list, connection: Connection) -> list[dict]:
    """LINE's validate endpoint through `connection`; run only after `template_problems` pass."""
    try:
        line_call(connection, lambda c: c.validate(kind="push", messages=messages))
    except LineInvalidRequestError as exc:
        found = [
            {"field": d.get("property") or "messages", "message": d.get("message", "")}
            for d in exc.details
        ]
        return found or [{"field": "messages", "message": exc.message}]
    except LineApiError as exc:
        message = f"LINE could not check the messages through {connection.name}: {exc.message}"
        return [{"field": "connection", "message": message}]
    return []


def _checked(name: str, messages: object, connection: Connection | None) -> str:
    name = (name or "").strip()
    errors = []
    if not name:
        errors.append({"field": "name", "message": "Give the template a name."})
    elif len(name) > MAX_NAME:
        errors.append({"field": "name", "message": f"At most {MAX_NAME} characters."})
    errors += template_problems(messages=messages)
    if not errors and connection is not None:
        errors += template_problems_from_line(messages=messages, connection=connection)
    if errors:
        raise TemplateInvalid(errors)
    return name


def template_create(
    *,
    user: AbstractBaseUser | None,
    name: str,
    messages: list,
    connection: Connection | None = None,
) -> MessageTemplate:
    name = _checked(name, messages, connection)
    return MessageTemplate.objects.create(name=name, messages=messages, created_by=user)


def template_update(
    *,
    template: MessageTemplate,
    user: AbstractBaseUser | None,
    name: str,
    messages: list,
    connection: Connection | None = None,
) -> MessageTemplate:
    template.name = _checked(name, messages, connection)
    template.messages = messages
    template.save(update_fields=["name", "messages", "updated_at"])
    return template


@transaction.atomic
def template_delete(*, template: MessageTemplate, user: AbstractBaseUser | None) -> None:
    """Launched campaigns hold their own copy of the messages; drafts still need the template."""
    waiting = Campaign.objects.filter(template=template, status__in=Campaign.EDITABLE)
    names = list(waiting.values_list("name", flat=True)[:3])
    if names:
        message = f"Used by draft or scheduled campaigns ({', '.join(names)}): change them first."
        raise TemplateInvalid([{"field": "template", "message": message}])
    audit_record(
        actor=user,
        action="template.delete",
        target=template,
        details={"id": template.pk, "name": template.name},
    )
    template.delete()


SAMPLE_CONTEXT = {"line_id": "U" + "0" * 32, "display_name": "Sample contact"}


def preview_variables() -> list[str]:
    """The keys the variable picker offers: every attribute the audience has, and the built-ins."""
    from audiences.selectors import attribute_catalogue

    keys = [item["key"] for item in attribute_catalogue()]
    return ["display_name", "line_id", *sorted(k for k in keys if k not in SAMPLE_CONTEXT)]


def preview_context(line_id: str) -> tuple[dict, Contact | None]:
    """The chosen contact's personalization data, or sample data when none is chosen."""
    from campaigns.personalization import contact_context

    contact = Contact.objects.filter(line_id=line_id).first() if line_id else None
    if contact is None:
        return dict(SAMPLE_CONTEXT), None
    return contact_context(contact), contact


def render_preview(messages: object, context_and_contact: tuple[dict, Contact | None]) -> dict:
    """The messages as one recipient would see them, with any problem as a warning."""
    from campaigns.personalization import (
        PersonalizationError,
        TemplateSyntaxProblem,
        TemplateTooCostly,
        compile_messages,
    )

    context, contact = context_and_contact
    result = {"contact": contact, "warnings": [], "bubbles": []}
    if not isinstance(messages, list) or not messages:
        result["warnings"].append("Add a message to see the preview.")
        return result
    shown = messages
    try:
        shown = compile_messages(messages).render(context)
    except TemplateSyntaxProblem as exc:
        where = getattr(exc, "property", "")
        result["warnings"].append(f"{where}: {exc}" if where else str(exc))
    except TemplateTooCostly as exc:
        result["warnings"].append(str(exc))
    except PersonalizationError as exc:
        variable = getattr(exc, "variable", "") or str(exc)
        who = contact or "the sample contact"
        result["warnings"].append(
            f"{{{{ {variable} }}}} has no value for {who} and no default: "
            "this recipient would fail. Add a default, e.g. "
            f'{{{{ {variable} | default: "" }}}}.'
        )
    result["bubbles"] = [bubble(m) for m in shown[:5]]
    return result


def bubble(message: object) -> dict:
    """What a chat bubble needs to draw one message object."""
    if not isinstance(message, dict):
        return {"kind": "unknown", "label": "Not a message object"}
    kind = message.get("type", "")
    if kind == "text":
        return {"kind": "text", "text": message.get("text", "")}
    if kind == "sticker":
        ids = f"{message.get('packageId', '?')}/{message.get('stickerId', '?')}"
        return {"kind": "sticker", "label": f"Sticker {ids}"}
    if kind in ("image", "video"):
        url = message.get("previewImageUrl") or ""
        return {"kind": kind, "image": url if str(url).startswith("https://") else ""}
    if kind == "audio":
        duration = message.get("duration")
        seconds = f"{duration / 1000:.0f} s" if isinstance(duration, int | float) else "?"
        return {"kind": "audio", "label": f"Audio · {seconds}"}
    if kind == "location":
        return {
            "kind": "location",
            "label": message.get("title", ""),
            "text": message.get("address", ""),
        }
    if kind in ("template", "imagemap", "flex"):
        template = message.get("template") if isinstance(message.get("template"), dict) else {}
        actions = template.get("actions") if isinstance(template.get("actions"), list) else []
        return {
            "kind": "card",
            "label": template.get("type") or kind,
            "title": template.get("title", ""),
            "text": message.get("altText", "") if not template.get("text") else template["text"],
            "actions": [a.get("label", "") for a in actions if isinstance(a, dict)],
        }
    return {"kind": "unknown", "label": f"Unknown type {kind!r}"}
