"""Network faults for tests and soak runs: a TCP proxy that can cut a service off."""

from __future__ import annotations

import asyncio
from contextlib import suppress


class TcpOutage:
    """A TCP proxy in front of the real PostgreSQL (or the AMI); `cut()` drops every
    connection and refuses new ones until `restore()`: the database is unreachable, as
    in an outage. `partition()` is a silent network cut instead: connections stay open
    but nothing gets through either way (no reset, no error: only timeouts tell)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.down = False
        self.silent = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if self.silent:
                        continue  # lost on the way
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        self.down = True
        for w in self._writers:
            w.transport.abort()
        self._writers.clear()

    def partition(self) -> None:
        self.silent = True

    def restore(self) -> None:
        """Back up. After a partition the connections it held are reset (their bytes
        were lost, as TCP keepalives would end them); new ones get through."""
        if self.silent:
            for w in self._writers:
                w.transport.abort()
            self._writers.clear()
        self.down = False
        self.silent = False

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()


async def in_front_of_postgresql(url: str) -> tuple[TcpOutage, str]:
    """A started TcpOutage in front of the PostgreSQL server of `url`, and the URL that
    reaches the same database through it."""
    host_port = url.rpartition("@")[2].partition("/")[0]
    host, _, port = host_port.partition(":")
    proxy = TcpOutage(host, int(port or 5432))
    await proxy.start()
    return proxy, url.replace(host_port, f"127.0.0.1:{proxy.port}")
