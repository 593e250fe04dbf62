"""Liquid placeholders in LINE message objects, parsed once per campaign and rendered per contact.

Strict undefined: `{{ first_name | default: "there" }}` renders "there" for a contact without
`first_name`, while `{{ first_name }}` fails that contact with a `PersonalizationError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from liquid import Environment, StrictDefaultUndefined
from liquid.exceptions import LiquidError, ResourceLimitError, UndefinedError


class _BoundedEnvironment(Environment):
    """Templates render per recipient and in every preview: a loop may not run away."""

    loop_iteration_limit = 1_000
    output_stream_limit = 50_000  # characters; LINE's largest text field holds 5,000


_env = _BoundedEnvironment(undefined=StrictDefaultUndefined)
_MARKERS = ("{{", "{%")
BUILTIN_VARIABLES = ("line_id", "display_name")


class TemplateSyntaxProblem(ValueError):
    def __init__(self, property: str, message: str) -> None:
        super().__init__(f"{property}: {message}")
        self.property, self.message = property, message


class PersonalizationError(ValueError):
    """A placeholder with no value for this contact and no default."""

    def __init__(self, property: str, variable: str, message: str = "") -> None:
        super().__init__(f"{property}: {message or f'no value for {variable!r} and no default'}")
        self.property, self.variable = property, variable


class TemplateTooCostly(PersonalizationError):
    """A render that ran into the loop or output limit: the template, not the contact, is wrong."""


@dataclass
class _Slot:
    property: str
    template: Any


@dataclass
class CompiledMessages:
    messages: list[dict]
    # The message tree with every personalized string replaced by a _Slot.
    tree: Any = None
    slots: list[_Slot] = field(default_factory=list)
    variables: set[str] = field(default_factory=set)

    @property
    def is_personalized(self) -> bool:
        return bool(self.slots)

    def render(self, context: dict) -> list[dict]:
        if not self.slots:
            return self.messages
        return _fill(self.tree, context)

    def required_variables(self) -> set[str]:
        """Variables whose absence fails a render (used without a default somewhere)."""
        required = set()
        for name in self.variables:
            context = {other: "x" for other in self.variables if other != name}
            try:
                self.render(context)
            except PersonalizationError:
                required.add(name)
        return required


def _fill(node: Any, context: dict) -> Any:
    if type(node) is _Slot:
        try:
            return node.template.render(**context)
        except UndefinedError as exc:
            token = getattr(exc, "token", None)
            variable = getattr(token, "value", None) or str(exc).split("'")[1:2] or ["?"]
            if isinstance(variable, list):
                variable = variable[0]
            raise PersonalizationError(node.property, variable) from None
        except ResourceLimitError as exc:
            message = f"the template does too much work ({str(exc).splitlines()[0]}); simplify it"
            raise TemplateTooCostly(node.property, "", message) from None
        except LiquidError as exc:
            raise PersonalizationError(node.property, str(exc).splitlines()[0]) from None
    if type(node) is dict:
        return {k: _fill(v, context) for k, v in node.items()}
    if type(node) is list:
        return [_fill(v, context) for v in node]
    return node


def _compile(node: Any, path: str, slots: list[_Slot], variables: set[str]) -> Any:
    if isinstance(node, str):
        if not any(marker in node for marker in _MARKERS):
            return node
        try:
            template = _env.from_string(node)
        except LiquidError as exc:
            raise TemplateSyntaxProblem(path, str(exc).splitlines()[0]) from None
        variables.update(template.analyze().globals)
        slot = _Slot(path, template)
        slots.append(slot)
        return slot
    if isinstance(node, dict):
        # Only subtrees that hold a slot need rebuilding per contact; constants are shared.
        return {k: _compile(v, f"{path}.{k}", slots, variables) for k, v in node.items()}
    if isinstance(node, list):
        return [_compile(v, f"{path}[{i}]", slots, variables) for i, v in enumerate(node)]
    return node


def compile_messages(messages: list[dict]) -> CompiledMessages:
    """Parse every string field's Liquid once; raises TemplateSyntaxProblem with its path."""
    slots: list[_Slot] = []
    variables: set[str] = set()
    tree = [_compile(m, f"messages[{i}]", slots, variables) for i, m in enumerate(messages)]
    return CompiledMessages(messages=messages, tree=tree, slots=slots, variables=variables)


def contact_context(contact: Any) -> dict:
    """A contact's attributes plus `line_id` and `display_name`; empty or null values are
    left out so that a `default` filter applies to them."""
    return context_from(contact.line_id, contact.display_name, contact.attributes)


def context_from(line_id: str, display_name: str, attributes: Any) -> dict:
    context = {}
    if isinstance(attributes, dict):
        context = {k: v for k, v in attributes.items() if v is not None and v != ""}
    context["line_id"] = line_id
    if display_name:
        context["display_name"] = display_name
    else:
        context.pop("display_name", None)
    return context
