"""The first-run sandbox: a connection to the bundled LINE emulator, sample contacts, segments.

Everything goes through the apps' own services, as an Admin would do it by hand; only the
follow status (which LINE itself would tell us by webhook) is set directly."""

import random
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from audiences.models import Contact, Segment
from audiences.services import contacts_bulk_upsert, segment_create
from campaigns.models import MessageTemplate
from campaigns.template_services import template_create
from connections.line import line_call
from connections.models import Connection
from connections.services import connection_create
from journeys.models import Journey
from journeys.services import journey_activate, journey_create

SANDBOX_NAME = "Sandbox"
TEMPLATES = [
    (
        "Welcome back (personalized)",
        [
            {
                "type": "text",
                "text": 'Hi {{ first_name | default: "there" }}! You have '
                "{{ points | default: 0 }} points waiting for you in "
                '{{ city | default: "our shops" }}.',
            },
            {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        ],
    ),
    (
        "Autumn sale (the same for everyone)",
        [{"type": "text", "text": "Our autumn sale starts today: 20% off everything to Sunday."}],
    ),
]
FIRST_NAMES = [
    "Haruto",
    "Yui",
    "Sota",
    "Hina",
    "Ren",
    "Aoi",
    "Yuto",
    "Mei",
    "Riku",
    "Sakura",
    "Kaito",
    "Rin",
    "Hinata",
    "Mio",
    "Takumi",
    "Yuna",
    "Daiki",
    "Emma",
    "Kenji",
    "Nana",
]
LAST_NAMES = [
    "Sato",
    "Suzuki",
    "Takahashi",
    "Tanaka",
    "Watanabe",
    "Ito",
    "Yamamoto",
    "Nakamura",
    "Kobayashi",
    "Kato",
    "Yoshida",
    "Yamada",
]
CITIES = ["Tokyo", "Osaka", "Yokohama", "Nagoya", "Sapporo", "Fukuoka", "Kyoto", "Kobe"]
PLANS = [("free", 0.6), ("silver", 0.28), ("gold", 0.12)]

SEGMENTS = [
    (
        "Tokyo gold members",
        {
            "all": [
                {"field": "attributes.city", "op": "eq", "value": "Tokyo"},
                {"field": "attributes.plan", "op": "eq", "value": "gold"},
            ]
        },
    ),
    (
        "Signed up in the last 90 days",
        {"all": [{"field": "attributes.signup_date", "op": "within_last", "value": "90d"}]},
    ),
    (
        "Kansai (Osaka, Kyoto, Kobe), 30 and over",
        {
            "all": [
                {"field": "attributes.city", "op": "in", "value": ["Osaka", "Kyoto", "Kobe"]},
                {"field": "attributes.age", "op": "gte", "value": 30},
            ]
        },
    ),
    (
        "Active this week",
        {
            "all": [
                {"field": "last_interaction_at", "op": "within_last", "value": "7d"},
            ]
        },
    ),
]


JOURNEYS = [
    (
        "Welcome new friends",
        {"type": "follow", "when": "new"},
        "once",
        False,
        "Welcome, {{ display_name | default: 'friend' }}! Type COUPON for 10% off your next visit.",
    ),
    (
        "Coupon keyword",
        {"type": "keyword", "keywords": ["coupon", "クーポン"], "match": "contains"},
        {"at_most_every": "1d"},
        False,
        "Here is your coupon, {{ display_name | default: 'friend' }}: "
        "SAVE10-{{ line_id | slice: 1, 6 }}",
    ),
    (
        "Menu button",
        {"type": "postback", "data": "menu=", "match": "prefix"},
        "every_time",
        False,
        "You chose {{ event.postback.data | remove: 'menu=' }}. Our staff will be in touch.",
    ),
    (
        "Order shipped",
        {"type": "event", "name": "order_shipped"},
        "every_time",
        True,
        "Your order {{ event.properties.order_id | default: '' }} has shipped. Thank you!",
    ),
]


def _demo_journeys(connection: Connection) -> int:
    """Active journeys to try from the emulator's page: follow, a keyword, a postback, and an
    event from `POST /api/v1/events`."""
    made = 0
    for name, trigger, entry, transactional, text in JOURNEYS:
        if Journey.objects.filter(name=name).exists():
            continue
        journey = journey_create(
            user=None,
            connection=connection,
            name=name,
            trigger=trigger,
            entry=entry,
            transactional=transactional,
            steps=[{"type": "send", "messages": [{"type": "text", "text": text}]}],
        )
        journey_activate(journey=journey, user=None)
        made += 1
    return made


def _follower_ids(connection: Connection, limit: int) -> list[str]:
    async def collect(client) -> list[str]:
        ids: list[str] = []
        async for page in client.follower_ids(limit=1000):
            ids.extend(page)
            if len(ids) >= limit:
                break
        return ids[:limit]

    return line_call(connection, collect)


def _contact(rng: random.Random, line_id: str) -> dict:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    plan = rng.choices([p for p, _ in PLANS], weights=[w for _, w in PLANS])[0]
    signup = date.today() - timedelta(days=rng.randint(0, 730))
    return {
        "line_id": line_id,
        "display_name": f"{first} {last}",
        "attributes": {
            "first_name": first,
            "last_name": last,
            "city": rng.choice(CITIES),
            "plan": plan,
            "age": rng.randint(18, 72),
            "signup_date": signup.isoformat(),
            "points": rng.randint(0, 5000),
            "newsletter": rng.random() < 0.7,
        },
    }


def demo_is_needed() -> bool:
    return not Connection.objects.exists() and not Contact.objects.exists()


def demo_seed(*, emulator_url: str, token: str, secret: str, contacts: int = 1000) -> dict:
    connection = connection_create(
        actor=None,
        name=SANDBOX_NAME,
        channel_access_token=token,
        channel_secret=secret,
        api_base_url=emulator_url,
    )
    rng = random.Random(20261121)
    ids = _follower_ids(connection, contacts)
    result = contacts_bulk_upsert(contacts=[_contact(rng, i) for i in ids], source="import")
    now = timezone.now()
    with transaction.atomic():
        imported = Contact.objects.filter(line_id__in=ids)
        imported.update(follow_status=Contact.FollowStatus.FOLLOWING, connection=connection)
        for offset, line_id in enumerate(ids):
            if offset % 10 == 0:
                Contact.objects.filter(line_id=line_id).update(
                    last_interaction_at=now - timedelta(hours=rng.randint(1, 24 * 60))
                )
        Contact.objects.filter(line_id__in=ids[::25]).update(
            follow_status=Contact.FollowStatus.UNFOLLOWED
        )
        Contact.objects.filter(line_id__in=ids[7::50]).update(opted_out=True)
    for name, rules in SEGMENTS:
        if not Segment.objects.filter(name=name).exists():
            segment_create(name=name, rules=rules, user=None)
    for name, messages in TEMPLATES:
        if not MessageTemplate.objects.filter(name=name).exists():
            template_create(user=None, name=name, messages=messages)
    return {
        "connection": connection,
        "contacts": result["created"],
        "segments": len(SEGMENTS),
        "templates": len(TEMPLATES),
        "journeys": _demo_journeys(connection),
    }
