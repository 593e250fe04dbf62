"""segment_count: time to count a three-condition segment over 1,000,000 contacts on
PostgreSQL (--quick: 100,000). Target: at most 300 ms.

The rule is `attributes.plan eq "gold" AND attributes.age gte 30 AND follow_status eq
following`, compiled by `audiences.selectors.segment_contacts` and counted with `.count()`.
Runs in a child process with its own database (`linecampaigns_bench_segments` on the server
of BENCH_POSTGRES_URL, else DATABASE_URL, else 127.0.0.1); the contacts are seeded once with
one INSERT ... SELECT and kept between runs. `ms` is the median of warm counts;
`count_and_expected_ms` also counts the expected recipients, as the segment pages do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.postgres import django_in_child, run_child
from bench.registry import scenario

DB_NAME = "linecampaigns_bench_segments"
FULL, QUICK = 1_000_000, 100_000
RUNS = 11
RULES = {
    "all": [
        {"field": "attributes.plan", "op": "eq", "value": "gold"},
        {"field": "attributes.age", "op": "gte", "value": 30},
        {"field": "follow_status", "op": "eq", "value": "following"},
    ]
}


@scenario("segment_count")
def segment_count(quick: bool) -> dict:
    rows = QUICK if quick else FULL
    figures = run_child(
        "bench.scenarios.segment_count", db_name=DB_NAME, args=["--rows", str(rows)]
    )
    if "error" in figures:
        return {"contacts": rows, "ms": None, **figures}
    print(
        f"   {rows:,} contacts: count {figures['ms']:.1f} ms median "
        f"({figures['matching']:,} match; with expected recipients "
        f"{figures['count_and_expected_ms']:.1f} ms)",
        flush=True,
    )
    return figures


# The child process ------------------------------------------------------------------------

SEED = """
INSERT INTO audiences_contact (
    line_id, kind, display_name, picture_url, attributes, merged_line_ids, follow_status,
    opted_out, source, created_at, updated_at, last_interaction_at)
SELECT 'U' || lpad(to_hex(i), 32, '0'), 'user', 'Contact ' || i, '',
       jsonb_build_object(
           'plan', (ARRAY['gold', 'silver', 'bronze', 'free'])[1 + i %% 4],
           'age', 18 + (i * 7) %% 60,
           'city', (ARRAY['Tokyo', 'Osaka', 'Nagoya', 'Sapporo', 'Fukuoka'])[1 + i %% 5],
           'vip', i %% 10 = 0),
       '[]'::jsonb,
       (ARRAY['following', 'following', 'unfollowed', 'unknown'])[1 + (i / 3) %% 4],
       i %% 50 = 0, 'import', now(), now(),
       now() - (i %% 400) * interval '1 day'
FROM generate_series(1, %(rows)s) AS i
"""


def _seed(rows: int) -> float:
    from django.db import connection as db

    from audiences.models import Contact

    if Contact.objects.count() == rows:
        return 0.0
    started = time.perf_counter()
    with db.cursor() as cursor:
        cursor.execute("TRUNCATE audiences_contact CASCADE")
        cursor.execute(SEED, {"rows": rows})
        cursor.execute("VACUUM ANALYZE audiences_contact")
    return time.perf_counter() - started


def _median_ms(func, runs: int = RUNS) -> float:
    func()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def child(rows: int) -> dict:
    django_in_child()
    from django.db import connection as db

    db.set_autocommit(True)
    seed_s = _seed(rows)

    from audiences.selectors import rules_count, segment_contacts

    matching = segment_contacts(rules=RULES).count()
    return {
        "contacts": rows,
        "ms": _median_ms(lambda: segment_contacts(rules=RULES).count()),
        "count_and_expected_ms": _median_ms(lambda: rules_count(rules=RULES)),
        "matching": matching,
        "seed_s": round(seed_s, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=FULL)
    args = parser.parse_args()
    print(json.dumps(child(args.rows)))
