"""Scenario modules; each registers itself with `bench.registry.scenario`."""
