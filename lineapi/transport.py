"""A lean httpx transport over aiohttp's connection pool.

httpx's own async pool collapses with hundreds of requests in flight (encode/httpx#3215).
`httpx_aiohttp.AiohttpTransport` fixes that but hands aiohttp an `httpx.Headers`, whose
lookups re-decode every header each time, and streams small bodies chunk by chunk. LINE's
answers are small JSON documents, so this transport passes plain header tuples, reads the
whole body at once and maps aiohttp's errors onto httpx's own exception types.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx


def _map_error(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc) or "connect timed out", request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return httpx.ReadTimeout(str(exc) or "read timed out", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc), request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(str(exc) or "server disconnected", request=request)
    return httpx.NetworkError(f"{type(exc).__name__}: {exc}", request=request)


class AiohttpPoolTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int = 200, keepalive_expiry: float = 30.0) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[tuple, aiohttp.ClientTimeout] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # An aiohttp session belongs to the loop it was made on (a client used by one
            # asyncio.run() after another). That loop is usually closed by now, so the old
            # session cannot be awaited closed: it is left to the garbage collector.
            self._session, self._loop = None, loop
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_expiry,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        t = request.extensions.get("timeout", {})
        key = (t.get("connect"), t.get("read"), t.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            # aiohttp's `connect` covers waiting for a pooled connection plus connecting.
            timeout = aiohttp.ClientTimeout(
                sock_connect=key[0], sock_read=key[1], connect=(key[0] or 0) + (key[2] or 0) or None
            )
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._get_session()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=request.content or None,
                allow_redirects=False,
                timeout=self._timeout(request),
            ) as response:
                content = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map_error(exc, request) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
