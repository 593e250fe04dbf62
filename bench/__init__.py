"""Benchmark harness: `python -m bench [--quick] [scenario ...]`."""
