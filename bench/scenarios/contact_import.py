"""contact_import: import a generated 1,000,000-row CSV (--quick: 100,000) into an empty
contacts table on PostgreSQL. Targets: at most 60 s and 300 MB peak memory.

The CSV (line id, name and four typed attribute columns) is generated once under
var/bench/ and kept. The import runs as `manage.py import_contacts` does, in a child process
with its own database (`linecampaigns_bench_import` on the server of BENCH_POSTGRES_URL, else
DATABASE_URL, else 127.0.0.1). `seconds` is the import's wall time; `peak_rss_mb` is the
child's peak resident memory (Django and the import together); `rows_per_second` follows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from bench.postgres import django_in_child, run_child
from bench.registry import scenario

DB_NAME = "linecampaigns_bench_import"
FULL, QUICK = 1_000_000, 100_000
CITIES = ("Tokyo", "東京都", "Osaka", "Nagoya", "Sapporo, Hokkaido")
PLANS = ("gold", "silver", "bronze", "free")


@scenario("contact_import")
def contact_import(quick: bool) -> dict:
    rows = QUICK if quick else FULL
    figures = run_child(
        "bench.scenarios.contact_import",
        db_name=DB_NAME,
        args=["--rows", str(rows)],
        env={"CONTACT_IMPORT_MAX_MB": os.environ.get("CONTACT_IMPORT_MAX_MB", "1000")},
    )
    if "error" in figures:
        return {"rows": rows, "seconds": None, **figures}
    print(
        f"   {rows:,} rows ({figures['file_mb']} MB): {figures['seconds']:.1f} s, "
        f"{figures['rows_per_second']:,} rows/s, peak RSS {figures['peak_rss_mb']} MB",
        flush=True,
    )
    return figures


# The child process ------------------------------------------------------------------------


def generate(path: Path, rows: int) -> None:
    """line_id,name,plan,age,city,joined; every 1,000th row has an invalid line id."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8", newline="") as out:
        out.write("line_id,name,plan,age,city,joined\r\n")
        for i in range(1, rows + 1):
            line_id = f"U{i:032x}" if i % 1000 else f"X{i}"
            city = CITIES[i % len(CITIES)]
            out.write(
                f'{line_id},Customer {i},{PLANS[i % 4]},{18 + i % 60},"{city}",'
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}\r\n"
            )
    partial.rename(path)


def child(rows: int) -> dict:
    path = Path("var/bench") / f"contacts-{rows}.csv"
    generate(path, rows)
    django_in_child()
    from django.db import connection as db

    from audiences.imports import import_job_create, import_run, validate_mapping
    from audiences.models import ImportJob

    with db.cursor() as cursor:
        cursor.execute("TRUNCATE audiences_contact CASCADE")
    job = import_job_create(path=str(path.resolve()), original_name=path.name, user=None)
    job.mapping = validate_mapping(
        header=job.header,
        mapping={
            "line_id": "line_id",
            "display_name": "name",
            "attributes": {"plan": "text", "age": "number", "city": "text", "joined": "date"},
        },
    )
    job.status = ImportJob.Status.QUEUED
    job.save()
    started = time.perf_counter()
    job = import_run(job=job)
    seconds = time.perf_counter() - started
    if job.status != ImportJob.Status.COMPLETED:
        raise RuntimeError(f"import {job.status}: {job.error_message}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_second": int(rows / seconds),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "created": job.created,
        "rejected": job.rejected,
        "file_mb": round(path.stat().st_size / 2**20, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=FULL)
    args = parser.parse_args()
    print(json.dumps(child(args.rows)))
