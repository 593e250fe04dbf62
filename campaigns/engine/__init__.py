"""The fan-out engine (DESIGN §4): snapshot, batches, rate limiter, retries, sweeper."""
