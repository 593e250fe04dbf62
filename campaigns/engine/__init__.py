"""The fan-out engine (docs/design.md §4): snapshot, batches, rate limiter, retries, sweeper."""
