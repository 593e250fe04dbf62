"""One registry of scenarios. A scenario takes `quick` and returns {figure: value}."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

Scenario = Callable[[bool], dict[str, float | int | str | None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(func: Scenario) -> Scenario:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} registered twice")
        SCENARIOS[name] = func
        return func

    return register


def load_all() -> dict[str, Scenario]:
    """Import every module in bench/scenarios so each one registers itself."""
    import bench.scenarios as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"bench.scenarios.{module.name}")
    return SCENARIOS
