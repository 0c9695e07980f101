"""A process's own bus messages, delivered to its own subscribers without Redis.

The leader publishes every event of every call, and the same process's screen-pop and
wallboard hubs read them back: through Redis that was a PUBLISH read back, split, JSON
decoded and turned into an `Event` again by each hub, some 6 % of the leader's CPU at
60 calls/s. With `RedisBus(local=True)` (the default) a message published by this
process goes to this process's subscribers in process, as the publisher's typed object
when it has one (`Topic.write`), and to Redis, marked with the process's origin, for
the other processes; this process's subscriptions pass over their own origin's Redis
copies, so each subscriber still gets each message once.

What a subscriber sees is what it saw before: the messages of one publisher in the
order published; a message typed for `Inbox` (the publisher's frozen event, not a
decoded copy) or decoded JSON for a raw reader; a `gaps` count that grows when
messages may have been lost (the Redis connection dropped, or this queue overflowed).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

Message = tuple[str, dict[str, Any]]
RawFilter = Callable[[str, bytes], bool]


class RemoteSource(Protocol):
    gaps: int
    reconnects: int

    async def get(self) -> Message: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message for one subscriber: from Redis (`raw`, decoded) or from this process
    (`text`, decoded only if a raw reader asks; `typed`, the publisher's own object)."""

    channel: str
    raw: dict[str, Any] | None
    text: str = ""
    typed: object | None = None

    def message(self) -> Message:
        return self.channel, self.raw if self.raw is not None else json.loads(self.text)


class MergedSubscription:
    """One subscriber's queue: this process's messages put in as they are published,
    the other processes' read from Redis by a task of its own. A subscriber slower than
    `maxlen` messages loses the oldest (counted in `gaps`), never blocks a publisher."""

    def __init__(self, remote: RemoteSource, channels: tuple[str, ...], wanted: RawFilter | None, maxlen: int) -> None:
        self.channels = channels
        self._remote = remote
        self._wanted = wanted
        self._items: deque[Delivery] = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self._failure: BaseException | None = None
        self._overflows = 0
        self._pump: asyncio.Task[None] | None = None

    @property
    def gaps(self) -> int:
        return self._remote.gaps + self._overflows

    @property
    def reconnects(self) -> int:
        """Times the Redis connection was lost (`gaps` grows when it is back)."""
        return self._remote.reconnects

    def start(self) -> None:
        self._pump = asyncio.get_running_loop().create_task(self._read_remote(), name="bus-subscription")

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)

    def put_local(self, channel: str, text: str, typed: object | None) -> None:
        # a refused message (the subscriber's hint) is not queued, as Redis does not decode it
        if self._wanted is not None and not self._wanted(channel, text.encode()):
            return
        self._put(Delivery(channel, None, text, typed))

    def _put(self, delivery: Delivery) -> None:
        if len(self._items) == self._items.maxlen:
            self._overflows += 1
        self._items.append(delivery)
        self._ready.set()

    async def _read_remote(self) -> None:
        try:
            while True:
                channel, raw = await self._remote.get()
                self._put(Delivery(channel, raw))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the reader, who would have met it
            self._failure = exc
            self._ready.set()

    async def next_delivery(self) -> Delivery:
        while not self._items:
            if self._failure is not None:
                raise self._failure
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    async def get(self) -> Message:
        return (await self.next_delivery()).message()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            yield await self.get()


class LocalFanout:
    """This process's subscriptions by channel."""

    def __init__(self) -> None:
        self._by_channel: dict[str, set[MergedSubscription]] = {}

    def add(self, sub: MergedSubscription) -> None:
        for channel in sub.channels:
            self._by_channel.setdefault(channel, set()).add(sub)

    def discard(self, sub: MergedSubscription) -> None:
        for channel in sub.channels:
            subs = self._by_channel.get(channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_channel[channel]

    def deliver(self, channel: str, text: str, typed: object | None = None) -> None:
        for sub in self._by_channel.get(channel, ()):
            sub.put_local(channel, text, typed)
