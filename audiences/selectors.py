"""Reads over contacts: the one compiler of segment rules, counts, the catalogue, lists."""

from __future__ import annotations

import datetime
import re

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from audiences import hooks
from audiences.expressions import (
    AttributeCompare,
    AttributeContains,
    AttributeEquals,
    AttributeExists,
    AttributeValueSearch,
)
from audiences.models import AttributeKey, Contact, CustomEvent, ImportJob, Segment
from audiences.rules import (
    SEGMENT_OPS,
    Condition,
    Group,
    RuleError,
    parse_date,
    parse_rules,
    within_delta,
)
from lineapi import LINE_ID_RE, normalize_line_id

LIST_PAGE_SIZE = 50
LINE_ID_PREFIX_RE = re.compile(r"^[UCR][0-9a-f]{1,32}$")
SAMPLE_SIZE = 20


# How deep "member of segment" conditions may chain: a segment that uses a segment that uses a
# segment, and no further, so a count stays one readable SQL statement.
MAX_SEGMENT_DEPTH = 3


def segment_contacts(*, rules: dict, segment_id: int | None = None) -> QuerySet[Contact]:
    """The contacts a rule tree matches, as one queryset (one SQL statement: a "member of"
    condition inlines the other segment's conditions). Raises RuleError for a bad tree, a
    missing segment or a cycle. `segment_id` is the segment these rules belong to, if saved."""
    # The chain of segments being compiled; 0 stands for rules not saved (yet).
    return Contact.objects.filter(_rules_q(rules, (segment_id or 0,), "rules"))


def _rules_q(rules: object, chain: tuple[int, ...], where: str) -> Q:
    tree = parse_rules(rules)
    return _group_q(tree, chain, _paths(tree, where))


def _paths(group: Group, where: str) -> dict[int, str]:
    """The JSON path of each condition of the tree (by object id), for errors found later."""
    paths = {}
    for index, child in enumerate(group.children):
        path = f"{where}.{group.match}[{index}]"
        paths.update(_paths(child, path) if isinstance(child, Group) else {id(child): path})
    return paths


# "Expected recipients": the contacts a campaign will attempt. Like the engine
# (docs/design.md §3), only opt-outs and contacts known to have unfollowed (blocked) are left
# out; an unknown follow status (CSV imports, the API) is attempted.
REACHABLE = Q(opted_out=False) & ~Q(follow_status=Contact.FollowStatus.UNFOLLOWED)


def reachable(qs: QuerySet[Contact]) -> QuerySet[Contact]:
    return qs.filter(REACHABLE)


def rules_count(*, rules: dict, segment_id: int | None = None) -> dict:
    """Matching contacts and expected recipients, in one pass over the matching rows."""
    return segment_contacts(rules=rules, segment_id=segment_id).aggregate(
        count=Count("id"), expected_recipients=Count("id", filter=REACHABLE)
    )


def segment_count(*, segment: Segment) -> dict:
    return rules_count(rules=segment.rules, segment_id=segment.pk)


def segment_sample(*, rules: dict, size: int = SAMPLE_SIZE) -> list[Contact]:
    return list(segment_contacts(rules=rules).order_by("-id")[:size])


def _group_q(group: Group, chain: tuple[int, ...], paths: dict[int, str]) -> Q:
    parts = [
        _group_q(c, chain, paths) if isinstance(c, Group) else _condition_q(c, chain, paths)
        for c in group.children
    ]
    if not parts:
        return Q() if group.match == "all" else Q(pk__in=[])
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if group.match == "all" else combined | part
    return combined


def _condition_q(cond: Condition, chain: tuple[int, ...], paths: dict[int, str]) -> Q:
    if cond.op in SEGMENT_OPS:
        q = _member_q(cond.value, chain, f"{paths[id(cond)]}.value")
        return q if cond.op == "member_of" else ~q
    key = cond.attribute_key
    if key is not None:
        return _attribute_q(key, cond.op, cond.value)
    if cond.event_name is not None:
        since = timezone.now() - within_delta(cond.value)
        did = CustomEvent.objects.filter(name=cond.event_name, occurred_at__gte=since)
        q = Q(pk__in=did.values("contact_id"))
        return q if cond.op == "within_last" else ~q
    field, op, value = cond.field, cond.op, cond.value
    if field in ("line_id", "display_name"):
        return _text_q(field, op, value)
    if field in ("created_at", "last_interaction_at"):
        return _time_q(field, op, value)
    if op == "eq":
        return Q(**{field: value})
    if op == "neq":
        return ~Q(**{field: value})
    return Q(**{f"{field}__in": value})  # "in" on a choice field


def _member_q(segment_id: int, chain: tuple[int, ...], where: str) -> Q:
    """The conditions of segment `segment_id`, checked against cycles and the depth limit."""
    if segment_id in chain:
        loop_ids = (*chain[chain.index(segment_id) :], segment_id)
        names = dict(Segment.objects.filter(pk__in=loop_ids).values_list("pk", "name"))
        loop = " → ".join(f"“{names.get(pk, pk)}”" for pk in loop_ids)
        raise RuleError(where, f"segments cannot refer to each other in a circle: {loop}.")
    if len(chain) >= MAX_SEGMENT_DEPTH:
        raise RuleError(
            where, f"“member of” conditions chain at most {MAX_SEGMENT_DEPTH} segments deep."
        )
    segment = Segment.objects.filter(pk=segment_id).only("name", "rules").first()
    if segment is None:
        raise RuleError(where, f"no segment has id {segment_id} (was it deleted?).")
    try:
        return _rules_q(segment.rules, (*chain, segment_id), "rules")
    except RuleError as exc:
        message = f"segment “{segment.name}” (id {segment_id}) is not valid: {exc}"
        raise RuleError(where, message) from exc


def segment_users(*, segment: Segment) -> list[Segment]:
    """The other segments whose rules have a "member of" condition on `segment`."""
    return [
        other
        for other in Segment.objects.exclude(pk=segment.pk).only("name", "rules")
        if segment.pk in segment_references(other.rules)
    ]


def segment_references(rules: object) -> set[int]:
    """The segment ids a stored rule tree's "member of" conditions name (a tree too broken
    to read names none)."""
    try:
        tree = parse_rules(rules)
    except RuleError:
        return set()
    return _references(tree)


def _references(group: Group) -> set[int]:
    found: set[int] = set()
    for child in group.children:
        if isinstance(child, Group):
            found |= _references(child)
        elif child.op in SEGMENT_OPS:
            found.add(child.value)
    return found


def _attribute_q(key: str, op: str, value: object) -> Q:
    if op == "exists":
        return Q(AttributeExists(key))
    if op == "not_exists":
        return ~Q(AttributeExists(key))
    if op == "eq":
        return Q(AttributeEquals(key, value))
    if op == "neq":
        return ~Q(AttributeEquals(key, value))
    if op == "in":
        q = Q(AttributeEquals(key, value[0]))
        for item in value[1:]:
            q |= Q(AttributeEquals(key, item))
        return q
    if op == "contains":
        return Q(AttributeContains(key, value))
    if op == "within_last":
        since = (timezone.now() - within_delta(value)).astimezone(datetime.UTC)
        return Q(AttributeCompare(key, since.strftime("%Y-%m-%dT%H:%M:%S"), "gte"))
    return Q(AttributeCompare(key, value, op))


def _text_q(field: str, op: str, value: object) -> Q:
    if op == "exists":
        return ~Q(**{field: ""})
    if op == "not_exists":
        return Q(**{field: ""})
    if op == "eq":
        return Q(**{field: value})
    if op == "neq":
        return ~Q(**{field: value})
    if op == "in":
        return Q(**{f"{field}__in": value})
    if field == "line_id":
        return Q(line_id__contains=value)
    return Q(**{f"{field}__icontains": value})


def _time_q(field: str, op: str, value: object) -> Q:
    if op == "exists":
        return Q(**{f"{field}__isnull": False})
    if op == "not_exists":
        return Q(**{f"{field}__isnull": True})
    if op == "within_last":
        return Q(**{f"{field}__gte": timezone.now() - within_delta(value)})
    moment = _as_datetime(parse_date(value), op)
    return Q(**{f"{field}__{op}": moment})


def _as_datetime(value: datetime.date | datetime.datetime, op: str) -> datetime.datetime:
    """A bare date means the whole day: `> 2024-05-01` starts the next day, `<=` ends it."""
    if isinstance(value, datetime.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if op in ("gt", "lte"):
        value = value + datetime.timedelta(days=1)
    moment = timezone.make_aware(datetime.datetime.combine(value, datetime.time()))
    return moment if op in ("gte", "lt") else moment - datetime.timedelta(microseconds=1)


def attribute_catalogue() -> list[dict]:
    return [{"key": k, "type": t} for k, t in AttributeKey.objects.values_list("key", "type")]


def attribute_types(*, keys: list[str]) -> dict[str, str]:
    """The catalogue's type for each of these keys it knows."""
    return dict(AttributeKey.objects.filter(key__in=keys).values_list("key", "type"))


def contact_by_line_id(*, line_id: str) -> Contact | None:
    """The contact with this line id, or else the one that had it before (merged into it, or
    replaced when it was identified under a new line id)."""
    contact = Contact.objects.filter(line_id=line_id).first()
    if contact is None and LINE_ID_RE.match(line_id):
        # No index on merged_line_ids: this scan only runs when the line id index found nothing.
        # The quotes match a whole element of the JSON list, on SQLite and PostgreSQL alike.
        candidates = Contact.objects.filter(merged_line_ids__icontains=f'"{line_id}"')
        contact = next((c for c in candidates if line_id in c.merged_line_ids), None)
    return contact


def contact_search(
    *,
    q: str = "",
    follow_status: str = "",
    kind: str = "",
    source: str = "",
    segment: Segment | None = None,
    import_job: ImportJob | None = None,
) -> QuerySet[Contact]:
    qs = (
        segment_contacts(rules=segment.rules, segment_id=segment.pk)
        if segment
        else Contact.objects.all()
    )
    if import_job:
        qs = qs.filter(import_job=import_job)
    if follow_status:
        qs = qs.filter(follow_status=follow_status)
    if kind:
        qs = qs.filter(kind=kind)
    if source:
        qs = qs.filter(source=source)
    q = q.strip()
    if q:
        qs = qs.filter(_search_q(q))
    return qs.order_by("-id")


def _search_q(q: str) -> Q:
    by_external = Q(external_id=q)  # exact, answered by its unique index
    line_id = normalize_line_id(q)
    if LINE_ID_RE.match(line_id):
        found = contact_by_line_id(line_id=line_id)
        return Q(pk=found.pk) if found else by_external
    text_q = Q(display_name__icontains=q) | Q(AttributeValueSearch("", q)) | by_external
    by_id = Q(line_id__startswith=q)
    if not LINE_ID_PREFIX_RE.match(q):
        return text_q
    if len(q) >= 8:  # clearly a line id: the index answers it alone
        return by_id | by_external
    return by_id | text_q  # "Cafe" may start a line id or a name


def keyset_page(
    qs: QuerySet[Contact],
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = LIST_PAGE_SIZE,
) -> tuple[list[Contact], int | None, int | None]:
    """One page of contacts newest first, without counting the whole table.

    `before` pages towards older contacts, `after` towards newer ones. Returns (rows, older,
    newer): pass `older` as `before` for the next older page, `newer` as `after` for the next
    newer one; None where there is no such page."""
    if after:
        ascending = list(qs.filter(id__gt=after).order_by("id")[: size + 1])
        rows = ascending[:size][::-1]
        newer = rows[0].id if len(ascending) > size else None
        older = rows[-1].id if rows and qs.filter(id__lt=rows[-1].id).exists() else None
        return rows, older, newer
    if before:
        qs = qs.filter(id__lt=before)
    rows = list(qs[: size + 1])
    older = rows[size - 1].id if len(rows) > size else None
    newer = rows[0].id if before and rows else None
    return rows[:size], older, newer


def contact_events(*, contact: Contact, limit: int = 50) -> list:
    from connections.models import WebhookEvent

    line_ids = [contact.line_id, *contact.merged_line_ids]
    return list(WebhookEvent.objects.filter(source_id__in=line_ids)[:limit])


def contact_detail_extra(*, contact: Contact) -> dict:
    """What the apps above add to the contact's page (campaigns: `deliveries`)."""
    context: dict = {}
    for _, answer in hooks.contact_detail_context.send(sender=Contact, contact=contact):
        context.update(answer or {})
    return context


def contact_custom_events(*, contact: Contact, limit: int = 50) -> list[CustomEvent]:
    """The contact's timeline of events from the brand's systems, newest first."""
    return list(CustomEvent.objects.filter(contact=contact)[:limit])


def custom_event_names(*, limit: int = 200) -> list[str]:
    """Event names seen so far, for the segment builder's field list."""
    names = CustomEvent.objects.order_by("name").values_list("name", flat=True).distinct()
    return list(names[:limit])


def import_jobs() -> QuerySet[ImportJob]:
    return ImportJob.objects.select_related("created_by")
