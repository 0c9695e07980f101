"""A minimal raw AMI client (no panoramisk) for tests, traffic generators and
scripts that drive the emulator: send actions, await responses and events."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from cti.ami_codec import AmiParser, Banner, Message, encode


class RawAmiClient:
    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.banner = ""
        self.messages: list[Message] = []
        self.raw = bytearray()
        self.keep_raw = True
        self.bytes_received = 0
        self._parser = AmiParser()
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    async def connect(self, host: str, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        assert self.reader is not None
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.bytes_received += len(data)
                if self.keep_raw:
                    self.raw.extend(data)
                for item in self._parser.feed(data):
                    if isinstance(item, Banner):
                        self.banner = item.text
                    elif isinstance(item, Message):
                        self.messages.append(item)
                async with self._changed:
                    self._changed.notify_all()
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            async with self._changed:
                self._changed.notify_all()

    def send_raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    async def send(self, action: str, headers: list[tuple[str, str]] | None = None) -> str:
        """Send an action; returns its ActionID."""
        aid = f"t-{next(self._ids)}"
        self.send_raw(encode([("Action", action), ("ActionID", aid), *list(headers or [])]))
        assert self.writer is not None
        await self.writer.drain()
        return aid

    async def wait_for(self, pred: Callable[[Message], bool], timeout: float = 5.0, start: int = 0) -> Message:
        async def waiter() -> Message:
            i = start
            async with self._changed:
                while True:
                    while i < len(self.messages):  # only look at what is new
                        msg = self.messages[i]
                        i += 1
                        if pred(msg):
                            return msg
                    if self.closed.is_set():
                        raise ConnectionError("AMI connection closed while waiting")
                    await self._changed.wait()

        return await asyncio.wait_for(waiter(), timeout)

    async def action(self, action: str, headers: list[tuple[str, str]] | None = None, timeout: float = 5.0) -> Message:
        """Send an action and return its Response."""
        aid = await self.send(action, headers)
        return await self.wait_for(lambda m: m.get("ActionID") == aid and bool(m.response), timeout)

    async def collect_list(
        self, action: str, headers: list[tuple[str, str]] | None = None, timeout: float = 5.0
    ) -> tuple[Message, list[Message]]:
        """An action answered by an event list: (response, events incl. the ...Complete)."""
        aid = await self.send(action, headers)
        resp = await self.wait_for(lambda m: m.get("ActionID") == aid and bool(m.response), timeout)
        await self.wait_for(lambda m: m.get("ActionID") == aid and m.get("EventList") == "Complete", timeout)
        return resp, [m for m in self.messages if m.get("ActionID") == aid and m.event]

    async def login(self, user: str, secret: str) -> Message:
        return await self.action("Login", [("Username", user), ("Secret", secret)])

    def events(self, name: str) -> list[Message]:
        return [m for m in self.messages if m.event == name]

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except ConnectionError:
                pass
        if self._task is not None:
            await asyncio.wait_for(self._task, 5)
