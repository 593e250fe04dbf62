"""Run scenarios, print a table, merge the figures into var/bench/results.json."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench.registry import load_all

RESULTS = Path("var/bench/results.json")


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(results: dict[str, dict]) -> None:
    rows = [(name, k, _format(v)) for name, figs in results.items() for k, v in figs.items()]
    widths = [
        max([len(h)] + [len(r[i]) for r in rows])
        for i, h in enumerate(("scenario", "figure", "value"))
    ]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print(
        "  ".join(h.ljust(w) for h, w in zip(("scenario", "figure", "value"), widths, strict=True))
    )
    print(line)
    for name, key, value in rows:
        print(f"{name.ljust(widths[0])}  {key.ljust(widths[1])}  {value.rjust(widths[2])}")
    print(line)


def save(results: dict[str, dict], path: Path = RESULTS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError):
        existing = {}
    scenarios = existing.get("scenarios", {}) if isinstance(existing, dict) else {}
    scenarios.update(results)
    path.write_text(json.dumps({"scenarios": scenarios, "machine": machine()}, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="reduced sizes (< 3 minutes)")
    parser.add_argument("scenarios", nargs="*", help="names to run (default: all)")
    args = parser.parse_args(argv)
    registry = load_all()
    unknown = set(args.scenarios) - set(registry)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}; have {sorted(registry)}")
    results: dict[str, dict] = {}
    for name in args.scenarios or sorted(registry):
        started = time.monotonic()
        print(f"== {name} ({'quick' if args.quick else 'full'})", flush=True)
        results[name] = registry[name](args.quick)
        print(f"   done in {time.monotonic() - started:.1f} s", flush=True)
    print_table(results)
    save(results)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
