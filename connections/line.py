"""How Django code reaches LINE for one connection: through `lineapi.LineClient`, always."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from connections.models import Connection
from lineapi import LineClient

T = TypeVar("T")


def line_client_for(connection: Connection, **options) -> LineClient:
    return LineClient(
        token=connection.channel_access_token, base_url=connection.api_base_url, **options
    )


def line_call(connection: Connection, call: Callable[[LineClient], Awaitable[T]]) -> T:
    """Run one or more client calls from sync code (views, services, tasks)."""

    async def run() -> T:
        async with line_client_for(connection) as client:
            return await call(client)

    return asyncio.run(run())
