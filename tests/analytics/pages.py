"""Read figures back out of rendered pages and CSV exports, as an analyst would."""

import csv
import io
import re
from collections import Counter

FIGURE = re.compile(r'id="figure-(\w+)"[^>]*>\s*([\d,]+)\s*<')
TOTAL = re.compile(r'id="total-(\w+)"[^>]*>\s*([\d,]+)\s*<')


def _ints(pairs) -> dict[str, int]:
    return {k: int(v.replace(",", "")) for k, v in pairs}


def report_figures(html: str) -> dict[str, int]:
    return _ints(FIGURE.findall(html))


def overview_totals(html: str) -> dict[str, int]:
    return _ints(TOTAL.findall(html))


def overview_row(html: str, campaign_id: int) -> dict[str, int]:
    row = re.search(rf'<tr data-campaign="{campaign_id}">(.*?)</tr>', html, re.S).group(1)
    return _ints(re.findall(r'data-figure="(\w+)">\s*([\d,]+)\s*<', row))


def csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def csv_figures(rows: list[dict]) -> dict[str, int]:
    by = Counter(r["status"] for r in rows)
    return {
        "attempted": by["sent"] + by["failed"],
        "sent": by["sent"],
        "failed": by["failed"],
        "skipped": by["skipped"],
        "not_sent": by["not_sent"],
    }
