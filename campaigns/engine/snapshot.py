"""Snapshot (docs/design.md §4.1): one INSERT … SELECT writes a Delivery per recipient with its
batch number, its retry key and its skip reason; memory stays flat whatever the audience size.

Retry keys are derived in SQL from a per-campaign random salt (`md5(salt:c<contact id>)` for a
push, `md5(salt:b<batch>)` for a multicast request), so a re-run or a sweep reuses them.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, compile_json_path
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils import timezone

from audiences.models import Contact
from campaigns.caps import recent_sends_sources
from campaigns.engine.config import option
from campaigns.models import (
    Campaign,
    Delivery,
    DeliveryBatch,
    FrequencyCap,
    figures_from_counts,
)
from campaigns.personalization import compile_messages
from lineapi import LINE_ID_RE

SKIP_UNFOLLOWED = "unfollowed"
SKIP_OPTED_OUT = "opted_out"
SKIP_FREQUENCY_CAP = "frequency_cap"


def frequency_cap() -> FrequencyCap:
    cap = FrequencyCap.objects.order_by("pk").first()
    return cap if cap is not None else FrequencyCap(max_messages=None, days=7)


def audience_contacts(campaign: Campaign) -> QuerySet[Contact]:
    """The campaign's recipients, for the review and the snapshot alike. A segment and "all
    following" take only contacts of the campaign's connection, or of none (imported and API
    contacts): user ids are issued per LINE provider (docs/design.md §6)."""
    reachable = Q(connection_id=campaign.connection_id) | Q(connection__isnull=True)
    if campaign.audience_type == Campaign.Audience.SEGMENT:
        from audiences.selectors import segment_contacts

        if campaign.segment is None:
            return Contact.objects.none()
        return segment_contacts(rules=campaign.segment.rules).filter(reachable)
    if campaign.audience_type == Campaign.Audience.ALL_FOLLOWING:
        return Contact.objects.filter(reachable, follow_status=Contact.FollowStatus.FOLLOWING)
    if campaign.audience_type == Campaign.Audience.RETRY:
        failed = Delivery.objects.filter(campaign_id=campaign.parent_id).retryable_failures()
        return Contact.objects.filter(pk__in=failed.values("contact_id"))
    return Contact.objects.filter(line_id__in=campaign.explicit_ids or [])


def with_skip_reason(qs: QuerySet[Contact], campaign: Campaign) -> QuerySet[Contact]:
    """Annotates `skip_reason`: '' for a recipient, else why it is left out."""
    whens = [
        When(follow_status=Contact.FollowStatus.UNFOLLOWED, then=Value(SKIP_UNFOLLOWED)),
        When(opted_out=True, then=Value(SKIP_OPTED_OUT)),
    ]
    cap = frequency_cap()
    if campaign.frequency_cap_enabled and cap.enabled:
        since = timezone.now() - timezone.timedelta(days=cap.days)
        recent = (
            Delivery.objects.filter(
                contact=OuterRef("pk"), status=Delivery.Status.SENT, finished_at__gte=since
            )
            .exclude(campaign_id=campaign.pk)
            .order_by()
            .values("contact")
            .annotate(n=Count("*"))
            .values("n")
        )
        total = Coalesce(Subquery(recent, output_field=IntegerField()), 0)
        for source in recent_sends_sources():
            total = total + Coalesce(Subquery(source(since), output_field=IntegerField()), 0)
        qs = qs.annotate(recent_sent=total)
        whens.append(When(recent_sent__gte=cap.max_messages, then=Value(SKIP_FREQUENCY_CAP)))
    return qs.annotate(skip_reason=Case(*whens, default=Value(""), output_field=CharField()))


def ensure_explicit_contacts(campaign: Campaign) -> None:
    """Explicit ids become Contact rows (source api, follow status unknown) if missing."""
    ids = [i for i in dict.fromkeys(campaign.explicit_ids or []) if LINE_ID_RE.match(str(i))]
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        Contact.objects.bulk_create(
            [
                Contact(
                    line_id=i,
                    kind=Contact.kind_for(i),
                    source=Contact.Source.API,
                    follow_status=Contact.FollowStatus.UNKNOWN,
                    connection=campaign.connection,
                )
                for i in chunk
            ],
            ignore_conflicts=True,
        )


def multicast_retry_key(salt: str, number: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"{salt}:b{number}".encode()).hexdigest())


def _types() -> dict[str, str]:
    if connection.vendor == "postgresql":
        return {"uuid": "CAST(md5({}) AS uuid)", "json": "CAST('[]' AS jsonb)"}
    return {"uuid": "md5({})", "json": "'[]'"}


def _insert_sql(campaign: Campaign, multicast: bool) -> tuple[str, list]:
    qs = with_skip_reason(audience_contacts(campaign), campaign)
    qs = qs.annotate(
        cid=F("id"),
        lid=F("line_id"),
        grp=Case(
            When(kind=Contact.Kind.USER, then=Value(1)),
            default=Value(2 if multicast else 1),
            output_field=IntegerField(),
        ),
    ).order_by()
    inner_sql, inner_params = qs.values("cid", "lid", "skip_reason", "grp").query.sql_with_params()
    size = int(option("CAMPAIGN_BATCH_SIZE"))
    if multicast:
        batch_expr = f"((rn - 1) / {size}) * 2 + grp"
        key_src = "CASE WHEN grp = 1 THEN %s || ':b' || b ELSE %s || ':c' || cid END"
        key_params = [campaign.retry_salt, campaign.retry_salt]
    else:
        batch_expr = f"(rn - 1) / {size} + 1"
        key_src = "%s || ':c' || cid"
        key_params = [campaign.retry_salt]
    types = _types()
    sql = f"""
        INSERT INTO campaigns_delivery (
            campaign_id, contact_id, line_id, status, reason, batch, retry_key, attempts,
            request_id, accepted_request_id, error_message, error_details, created_at
        )
        SELECT %s, cid, lid,
            CASE WHEN skip_reason = '' THEN 'pending' ELSE 'skipped' END,
            skip_reason, b, {types["uuid"].format(key_src)}, 0, '', '', '', {types["json"]}, %s
        FROM (
            SELECT cid, lid, skip_reason, grp,
                CASE WHEN skip_reason = '' THEN {batch_expr} ELSE 0 END AS b
            FROM (
                SELECT cid, lid, skip_reason, grp,
                    row_number() OVER (
                        PARTITION BY CASE WHEN skip_reason = '' THEN 0 ELSE 1 END, grp
                        ORDER BY cid
                    ) AS rn
                FROM ({inner_sql}) AS audience
            ) AS numbered
        ) AS planned
        WHERE 1 = 1
        ON CONFLICT (campaign_id, contact_id) DO NOTHING
    """
    # Placeholders in text order: campaign id, key salt(s), created_at, the audience query.
    return sql, [campaign.pk, *key_params, timezone.now(), *inner_params]


class NoMessages(ValueError):
    """A campaign without messages: every recipient would fail, so nothing is snapshotted."""


def snapshot_take(campaign: Campaign) -> bool:
    """Writes the campaign's deliveries and batches once; returns False if already taken."""
    if not campaign.messages:
        raise NoMessages("it has no messages. Cancel it and send a copy with messages.")
    compiled = compile_messages(campaign.messages)
    multicast = send_mode(campaign, personalized=compiled.is_personalized) == "multicast"
    salt = secrets.token_hex(16)
    with transaction.atomic():
        claimed = Campaign.objects.filter(pk=campaign.pk, snapshot_at__isnull=True).update(
            snapshot_at=timezone.now(),
            retry_salt=salt,
            send_mode="multicast" if multicast else "push",
            frequency_cap_applied=frequency_cap().summary if campaign.frequency_cap_enabled else "",
        )
        if not claimed:
            return False
        campaign.retry_salt, campaign.send_mode = salt, "multicast" if multicast else "push"
        if campaign.audience_type == Campaign.Audience.EXPLICIT:
            ensure_explicit_contacts(campaign)
        sql, params = _insert_sql(campaign, multicast)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Numbering the batches sorts the whole audience: keep that sort in memory.
                cursor.execute("SET LOCAL work_mem = '128MB'")
            cursor.execute(sql, params)
        if campaign.audience_type == Campaign.Audience.RETRY:
            _reuse_parent_keys(campaign)
        _create_batches(campaign, multicast)
        campaign_recount(campaign)
    return True


def send_mode(campaign: Campaign, *, personalized: bool) -> str:
    """Multicast when every recipient gets the same messages; a retry goes by push, so that each
    recipient can keep the parent's retry key (`_reuse_parent_keys`)."""
    if personalized or campaign.audience_type == Campaign.Audience.RETRY:
        return "push"
    return "multicast"


def _reuse_parent_keys(campaign: Campaign) -> None:
    """A recipient whose last push in the parent got no answer (LINE may have accepted it) keeps
    that push's retry key and first-attempt time while LINE still knows the key (24 hours): a
    resend then gets a 409, counted as sent, instead of a second message, and if the retry
    itself starts after those 24 hours the engine fails the row as `unknown_outcome` rather than
    resend it blind. A multicast key covered other recipients too, so those rows keep new keys."""
    ttl = timedelta(seconds=option("CAMPAIGN_RETRY_KEY_TTL_SECONDS"))
    uncertain = Delivery.objects.filter(
        campaign_id=campaign.parent_id,
        campaign__send_mode="push",
        first_attempt_at__gte=timezone.now() - ttl,
    )
    parent_row = uncertain.filter(contact_id=OuterRef("contact_id")).order_by()
    Delivery.objects.filter(
        campaign=campaign,
        status=Delivery.Status.PENDING,
        contact_id__in=uncertain.values("contact_id"),
    ).update(
        retry_key=Subquery(parent_row.values("retry_key")[:1]),
        first_attempt_at=Subquery(parent_row.values("first_attempt_at")[:1]),
    )


def _create_batches(campaign: Campaign, multicast: bool) -> None:
    sizes = (
        Delivery.objects.filter(campaign=campaign, batch__gt=0)
        .order_by()
        .values_list("batch")
        .annotate(n=Count("*"))
    )
    batches = []
    for number, n in sizes:
        is_multicast = multicast and number % 2 == 1
        batches.append(
            DeliveryBatch(
                campaign=campaign,
                number=number,
                size=n,
                mode=DeliveryBatch.Mode.MULTICAST if is_multicast else DeliveryBatch.Mode.PUSH,
                retry_key=multicast_retry_key(campaign.retry_salt, number)
                if is_multicast
                else None,
            )
        )
    DeliveryBatch.objects.bulk_create(batches, batch_size=1000)


def campaign_recount(campaign: Campaign) -> dict[str, int]:
    """Recomputes the counters from the delivery rows (the ledger) and stores them."""
    counts = dict(
        Delivery.objects.filter(campaign=campaign)
        .order_by()
        .values_list("status")
        .annotate(n=Count("*"))
    )
    figures = {"recipients_total": sum(counts.values()), **figures_from_counts(counts)}
    Campaign.objects.filter(pk=campaign.pk).update(**figures)
    for key, value in figures.items():
        setattr(campaign, key, value)
    return figures


def skipped_counts(qs: QuerySet) -> dict[str, int]:
    return dict(
        qs.exclude(skip_reason="").order_by().values_list("skip_reason").annotate(n=Count("*"))
    )


class AttributeJsonType(Func):
    """The JSON type of one attribute: "null" for JSON null only (Django's `attributes__k=None`
    also matches the string "null" on SQLite), NULL when the key is absent."""

    output_field = CharField()

    def __init__(self, key: str) -> None:
        super().__init__(F("attributes"))
        self.key = key

    def as_sqlite(self, compiler, connection, **extra) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"JSON_TYPE({sql}, %s)", [*params, compile_json_path([self.key])]

    def as_postgresql(self, compiler, connection, **extra) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"jsonb_typeof({sql} -> %s)", [*params, self.key]


def missing_attribute_q(variables: set[str]) -> Q:
    """Contacts without a value for one of `variables`, exactly as `context_from` sees them:
    an attribute that is absent, JSON null or "" has no value."""
    q = Q(pk__in=[])
    for name in sorted(variables):
        if name == "line_id":
            continue
        if name == "display_name":
            q |= Q(display_name="")
        else:
            # Expressions rather than `attributes__<name>`, so that any key name works.
            q |= ~Q(attributes__has_key=name)
            q |= Q(Exact(AttributeJsonType(name), "null"))
            q |= Q(Exact(KeyTextTransform(name, "attributes"), ""))
    return q
