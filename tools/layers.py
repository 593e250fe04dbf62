"""List imports that run against the layers (docs/design.md §1): a lower part importing a
higher one.

Counts every import, at module level or inside a function. Run: `.venv/bin/python tools/layers.py`.
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = [
    "lineapi", "kit", "connections", "audiences", "campaigns", "journeys", "analytics", "shell"
]  # fmt: skip


def layer(module: str) -> str | None:
    top = module.split(".")[0]
    if top == "linecampaigns":
        return "shell"
    return top if top in ORDER else None


def violations() -> list[str]:
    found = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in [*ORDER, "linecampaigns"] or "migrations" in rel.parts:
            continue
        mine = layer(".".join(rel.with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(), str(rel))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                theirs = layer(name)
                if theirs and mine and ORDER.index(theirs) > ORDER.index(mine):
                    found.append(f"{rel}:{node.lineno}: {mine} imports {theirs} ({name})")
    return found


if __name__ == "__main__":
    lines = violations()
    print("\n".join(lines) or "no imports against the layers")
    sys.exit(1 if lines else 0)
