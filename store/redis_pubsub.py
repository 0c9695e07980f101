"""One Redis pub/sub connection per process, shared by all its subscriptions.

A server process subscribes to the events topic several times (the live loop's
inputs, the screen-pop hub, the wallboard): with a connection each, every event was
read from Redis and parsed by redis-py once per subscriber. Here one reader task
reads each message once and hands its text to the local subscriptions that asked for
its channel; each decodes its own copy (a subscriber may change what it got).

A dropped connection is re-made and re-subscribed by the reader; every local
subscription then counts a gap (what was published meanwhile is lost, as with
pub/sub itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger()

Message = tuple[str, dict[str, Any]]
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class LocalSubscription:
    """What one `subscribe` gets: its channels' messages, in the order Redis sent them."""

    def __init__(self, channels: frozenset[str]) -> None:
        self.channels = channels
        self.gaps = 0  # counted when the shared connection is back: messages may be lost
        self.reconnects = 0  # counted when it is lost
        self._items: deque[tuple[str, str | bytes]] = deque()
        self._ready = asyncio.Event()

    def put(self, channel: str, data: str | bytes) -> None:
        self._items.append((channel, data))
        self._ready.set()

    async def get(self) -> Message:
        while True:
            while not self._items:
                self._ready.clear()
                await self._ready.wait()
            channel, data = self._items.popleft()
            try:
                return channel, json.loads(data)
            except (TypeError, ValueError):
                log.warning("bus_message_malformed", channel=channel)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            yield await self.get()


class SharedPubSub:
    """The process's pub/sub connection for one bus namespace (`prefix`)."""

    def __init__(self, client: aioredis.Redis, prefix: str, retry_s: float) -> None:
        self._client = client
        self._prefix = prefix
        self._retry_s = retry_s
        self._subs: set[LocalSubscription] = set()
        self._counts: Counter[str] = Counter()
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.reconnects = 0

    async def add(self, channels: Iterable[str]) -> LocalSubscription:
        """Subscribed (on the server) to `channels` when it returns; raises when Redis is away."""
        sub = LocalSubscription(frozenset(channels))
        async with self._lock:
            new = [c for c in sorted(sub.channels) if self._counts[c] == 0]
            if self._pubsub is None:
                self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            if new:
                await self._pubsub.subscribe(*(self._prefix + c for c in new))
            self._counts.update(sub.channels)
            self._subs.add(sub)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="bus-pubsub-reader")
        return sub

    async def remove(self, sub: LocalSubscription) -> None:
        async with self._lock:
            if sub not in self._subs:
                return
            self._subs.discard(sub)
            self._counts.subtract(sub.channels)
            gone = [c for c in sub.channels if self._counts[c] <= 0]
            for c in gone:
                del self._counts[c]
            if not self._subs:
                await self._shut()
            elif gone:
                with contextlib.suppress(*_LOST):  # (a dead connection is re-made without them)
                    await self._pubsub.unsubscribe(*(self._prefix + c for c in gone))

    async def close(self) -> None:
        async with self._lock:
            self._subs.clear()
            self._counts.clear()
            await self._shut()

    async def _shut(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*_LOST):
                await pubsub.aclose()

    async def _read(self) -> None:
        prefix, cut = self._prefix, len(self._prefix)
        while True:
            try:
                raw = await self._pubsub.get_message(timeout=None)
            except _LOST as exc:
                self.reconnects += 1
                for sub in self._subs:
                    sub.reconnects += 1
                log.warning("bus_subscription_lost", error=type(exc).__name__, retry_s=self._retry_s)
                await self._resubscribe()
                continue
            if raw is None or raw.get("type") != "message":
                continue
            channel = raw["channel"].decode() if isinstance(raw["channel"], bytes) else raw["channel"]
            if not channel.startswith(prefix):
                continue
            name = channel[cut:]
            for sub in tuple(self._subs):
                if name in sub.channels:
                    sub.put(name, raw["data"])

    async def _resubscribe(self) -> None:
        delay = self._retry_s
        while True:
            await asyncio.sleep(delay)
            try:
                async with self._lock:
                    with contextlib.suppress(*_LOST):
                        await self._pubsub.aclose()
                    self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                    if self._counts:
                        await self._pubsub.subscribe(*(self._prefix + c for c in self._counts))
                    for sub in self._subs:
                        sub.gaps += 1
                log.info("bus_subscription_restored", reconnects=self.reconnects)
                return
            except _LOST:
                delay = min(delay * 2, 5.0)
