"""A TCP proxy in front of a real server that a test can cut and restore: what an outage
(a restart, a network fault) looks like from the client, whose open connections die and
whose new ones are refused, without stopping the server other tests share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from devstack.processes import free_port


class Outage:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        """Accept connections again (on the same port)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Reset every open connection and refuse new ones (once cut, it stays so)."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._streams):
            writer.transport.abort()
        self._streams.clear()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._streams |= {writer, upstream_writer}
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )
        self._streams -= {writer, upstream_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


@contextlib.asynccontextmanager
async def proxied(host: str, port: int) -> AsyncIterator[Outage]:
    outage = Outage(host, port)
    await outage.restore()
    try:
        yield outage
    finally:
        await outage.cut()
