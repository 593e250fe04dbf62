"""`python -m lineapi.emulator ...`: one uvicorn process on uvloop + httptools, no access log."""

from __future__ import annotations

import sys

import uvicorn

from lineapi.emulator.app import create_app
from lineapi.emulator.config import parse_args


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=4096,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
