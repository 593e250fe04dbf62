"""Liquid placeholders in LINE message objects, parsed once per campaign and rendered per contact.

Strict undefined: `{{ first_name | default: "there" }}` renders "there" for a contact without
`first_name`, while `{{ first_name }}` fails that contact with a `PersonalizationError`.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from liquid import (
    BoundTemplate,
    Environment,
    RenderContext,
    StrictDefaultUndefined,
    Tag,
    Undefined,
)
from liquid.exceptions import (
    BlockNestingError,
    ContextDepthError,
    LiquidError,
    LiquidSyntaxError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    ResourceLimitError,
    UndefinedError,
)

# Every render (previews, the trial render on save, test sends, campaign batches) goes through
# `CompiledMessages.render`, so these bounds hold wherever a template is rendered.
LOOP_ITERATIONS = 1_000
OUTPUT_BYTES = 50_000  # UTF-8, per field; LINE's largest text field holds 5,000
VALUE_CHARACTERS = 50_000  # any value held by assign/capture or made by a filter, all counted
NUMBER_DIGITS = 1_000
NESTING_DEPTH = 20
# One recipient's messages, all fields together, in CPU time of the rendering thread: a costly
# template is refused, while a render that waited for a busy CPU is not charged for the wait
# (wall-clock time failed recipients at random on a loaded 2-core machine).
RENDER_SECONDS = 0.25

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("liquid_deadline")


class ValueSizeLimitError(ResourceLimitError):
    pass


class RenderTimeLimitError(ResourceLimitError):
    pass


LIMIT_NAMES = {
    LoopIterationLimitError: f"loop iteration limit ({LOOP_ITERATIONS:,} iterations)",
    OutputStreamLimitError: f"output limit ({OUTPUT_BYTES:,} bytes a field)",
    LocalNamespaceLimitError: f"assigned values limit ({VALUE_CHARACTERS:,} characters)",
    ValueSizeLimitError: (
        f"value size limit ({VALUE_CHARACTERS:,} characters, numbers of {NUMBER_DIGITS:,} digits)"
    ),
    ContextDepthError: f"nesting depth limit ({NESTING_DEPTH} levels)",
    BlockNestingError: f"nesting depth limit ({NESTING_DEPTH} levels)",
    RenderTimeLimitError: f"time limit ({RENDER_SECONDS * 1000:.0f} ms a recipient)",
}


def _size(value: object, budget: int = VALUE_CHARACTERS) -> int:
    """The characters `value` stands for, counting every reference again (a list holding one
    long string a thousand times joins into a thousand copies); stops counting past `budget`."""
    if issubclass(type(value), Undefined):  # a strict undefined raises on isinstance
        return 0
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        if value.bit_length() > NUMBER_DIGITS * 10 // 3:
            raise ValueSizeLimitError("value size limit reached", token=None)
        return value.bit_length() // 3 + 1
    if isinstance(value, range):
        return len(value)
    if isinstance(value, Mapping):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        total = len(value)
        for item in value:
            if total > budget:
                break
            total += _size(item, budget - total)
        return total
    return 1


def _check_size(*values: object) -> None:
    if sum(_size(v) for v in values) > VALUE_CHARACTERS:
        raise ValueSizeLimitError("value size limit reached", token=None)


def _check_time() -> None:
    deadline = _deadline.get(None)
    if deadline is not None and time.thread_time() > deadline:
        raise RenderTimeLimitError("render time limit reached", token=None)


def _expected_size(name: str, args: tuple, kwargs: dict) -> int:
    """What the two filters that can square their input would make, before they make it.
    (Types are tested with type(): isinstance on a strict undefined raises.)"""
    if name == "replace" and len(args) >= 2 and all(issubclass(type(a), str) for a in args[:3]):
        text, old, new = (*args, "")[:3]
        return len(text) + text.count(old) * (len(new) - len(old))
    if name == "join" and type(args[0]) in (list, tuple, range):
        separator = args[1] if len(args) > 1 else kwargs.get("separator", " ")
        return _size(args[0]) + len(str(separator)) * len(args[0])
    return 0


def _bounded_filter(name: str, func: Callable) -> Callable:
    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_time()
        _check_size(*args, *kwargs.values())
        if _expected_size(name, args, kwargs) > VALUE_CHARACTERS:
            raise ValueSizeLimitError("value size limit reached", token=None)
        result = func(*args, **kwargs)
        _check_size(result)
        return result

    return bounded


class _BoundedContext(RenderContext):
    __slots__ = ()

    def assign(self, key: str, val: Any) -> None:
        _check_time()
        super().assign(key, val)

    def get_size_of_locals(self) -> int:
        return _size(list(self.locals.values())) + self.local_namespace_size_carry

    def get(self, path: list[object], **kwargs: Any) -> object:
        _check_time()
        return super().get(path, **kwargs)

    def raise_for_loop_limit(self, length: int = 1) -> None:
        _check_time()
        super().raise_for_loop_limit(length)


class _BoundedTemplate(BoundTemplate):
    context_class = _BoundedContext


class _Unsupported(Tag):
    block = False

    def parse(self, stream: Any) -> Any:
        raise LiquidSyntaxError("include and render are not supported", token=stream.current)


class _BoundedEnvironment(Environment):
    """Templates render per recipient and in every preview: nothing may run away."""

    template_class = _BoundedTemplate
    context_depth_limit: ClassVar[int] = NESTING_DEPTH
    block_nesting_limit: ClassVar[int] = NESTING_DEPTH
    loop_iteration_limit: ClassVar[int] = LOOP_ITERATIONS
    local_namespace_limit: ClassVar[int] = VALUE_CHARACTERS
    output_stream_limit: ClassVar[int] = OUTPUT_BYTES

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        # No template loader: an include or render could only fail at send time.
        self.tags["include"] = self.tags["render"] = _Unsupported(self)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}


_env = _BoundedEnvironment(undefined=StrictDefaultUndefined)
_MARKERS = ("{{", "{%")
BUILTIN_VARIABLES = ("line_id", "display_name")


class TemplateSyntaxProblem(ValueError):
    def __init__(self, property: str, message: str) -> None:
        super().__init__(f"{property}: {message}")
        self.property, self.message = property, message


class PersonalizationError(ValueError):
    """A placeholder with no value for this contact and no default."""

    reason = "personalization"  # the delivery's failure reason

    def __init__(self, property: str, variable: str, message: str = "") -> None:
        super().__init__(f"{property}: {message or f'no value for {variable!r} and no default'}")
        self.property, self.variable = property, variable


class TemplateTooCostly(PersonalizationError):
    """A render that ran into one of the limits above: the template, not the contact, is wrong."""

    reason = "personalization_limit"

    def __init__(self, property: str, limit: str) -> None:
        super().__init__(property, "", f"the template hits the {limit}; simplify it")
        self.limit = limit


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
        token = _deadline.set(time.thread_time() + RENDER_SECONDS)
        try:
            return _fill(self.tree, context)
        finally:
            _deadline.reset(token)

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
            # "data.order_id is undefined" names the whole path; the token only its root.
            first = str(exc).splitlines()[0] if str(exc) else ""
            variable = first.removesuffix(" is undefined").strip("'") if first else ""
            if not variable or " " in variable:
                token = getattr(exc, "token", None)
                variable = getattr(token, "value", None) or "?"
            raise PersonalizationError(node.property, variable) from None
        except ResourceLimitError as exc:
            limit = LIMIT_NAMES.get(type(exc), str(exc).splitlines()[0])
            raise TemplateTooCostly(node.property, limit) from None
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


def check_messages(messages: list[dict]) -> CompiledMessages:
    """Parse, then render once with every placeholder filled, so that a template that hits a
    limit whatever the data is refused on save (TemplateTooCostly), not at send time."""
    compiled = compile_messages(messages)
    try:
        compiled.render({name: "x" for name in compiled.variables} | {"line_id": "U" + "0" * 32})
    except TemplateTooCostly:
        raise
    except ValueError:
        pass  # a placeholder that needs another type than text: a send fails it per contact
    return compiled


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
