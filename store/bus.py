"""The bus port: live fan-out of events on named channels, plus a small live-state map.

Two adapters: `MemoryBus` (one process) and `RedisBus` (several server processes
share Redis; a process's own messages reach its own subscribers in process,
store/bus_local.py). Pub/sub is fire-and-forget in both: a subscriber that is away misses
messages, which is why the latest state (agent states, queue snapshots) is also kept
in the state map for a (re)connecting wallboard to start from.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store.bus_local import Delivery, LocalFanout, MergedSubscription, Message, RawFilter
from store.hits import HitWindows

log = structlog.get_logger()

# A Redis message holding several messages of one channel: their JSON texts joined by a
# newline, which a JSON text from json.dumps never holds unescaped (RedisBus.write_many)
BATCH_SEPARATOR = b"\n"
MAX_BATCH = 200
# A Redis message that starts with "@<origin>" and a newline (never the start of a JSON
# text) came from the process of that origin: its own subscriptions have had it already
# (store/bus_local.py)
ORIGIN_MARK = b"@"


@dataclass(frozen=True, slots=True)
class Publish:
    channel: str
    message: dict[str, Any]
    # the message as JSON when the writer has it already ("": encoded when sent); the
    # live loop encodes each event once for the event log and the bus
    text: str = ""
    # the typed message (`Topic.write`): this process's own subscribers get it as it is
    typed: object | None = None


@dataclass(frozen=True, slots=True)
class SetState:
    name: str
    key: str
    value: dict[str, Any]


BusWrite = Publish | SetState


class Subscription(Protocol):
    """`gaps` counts the times messages may have been lost (the Redis connection
    dropped and came back, a slow in-process subscriber's oldest dropped): a subscriber
    that keeps state from the messages rebuilds it from the event log when it grows."""

    gaps: int

    async def get(self) -> Message: ...
    # the next message with, when it comes from this process, its publisher's typed object
    async def next_delivery(self) -> Delivery: ...
    def __aiter__(self) -> AsyncIterator[Message]: ...


class Bus(Protocol):
    kind: str

    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...
    # async context manager -> Subscription. `wanted(channel, data)`: a hint that a
    # message's raw JSON (bytes) is of no interest, so it need not be decoded; an adapter
    # may still deliver it (the subscriber checks what it gets as before)
    def subscribe(self, *channels: str, wanted: RawFilter | None = None) -> Any: ...
    async def set_state(self, name: str, key: str, value: dict[str, Any]) -> None: ...
    async def delete_state(self, name: str, key: str) -> None: ...
    async def get_state(self, name: str) -> dict[str, dict[str, Any]]: ...
    # several publishes and state writes, in order, in one round trip (Redis: a pipeline)
    async def write_many(self, writes: Sequence[BusWrite]) -> None: ...
    # one key of a state map (a map of 10,000 agents is not read whole for one of them)
    async def get_state_key(self, name: str, key: str) -> dict[str, Any] | None: ...
    # Attempts per key over a sliding window of `keep_s`, shared by every process on the
    # bus (the login rate limiter): `reserve_hits` checks each key against its limit and
    # counts the attempt (as `member`) on all of them only when every one is under it,
    # atomically; it returns 0, else the seconds to wait (nothing counted).
    async def reserve_hits(self, limits: Mapping[str, int], at: float, keep_s: float, member: str) -> float: ...
    async def release_hit(self, key: str, member: str) -> None: ...
    async def clear_hits(self, key: str) -> None: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


# KEYS: the keys; ARGV: now, keep_s, member, then one limit per key. Returns the wait
# as text (a Lua number would come back truncated to an integer).
_RESERVE_LUA = """
local now, keep, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. tostring(now - keep))
  local limit = tonumber(ARGV[3 + i])
  local n = redis.call('ZCARD', key)
  if n >= limit then
    local oldest = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + keep - now, 0.001)
  end
end
if wait > 0 then return tostring(wait) end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('ZREMRANGEBYRANK', key, 0, -257)
  redis.call('EXPIRE', key, math.ceil(keep))
end
return '0'
"""


class _QueueSubscription:
    def __init__(self, maxlen: int) -> None:
        self._items: deque[Message] = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self.dropped = 0
        self.gaps = 0

    def put(self, item: Message) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1  # a slow subscriber loses the oldest, never blocks publishers
            self.gaps += 1
        self._items.append(item)
        self._ready.set()

    async def get(self) -> Message:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    async def next_delivery(self) -> Delivery:
        channel, raw = await self.get()
        return Delivery(channel, raw)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            yield await self.get()


class MemoryBus:
    kind = "memory"

    def __init__(self, max_pending: int = 10_000) -> None:
        self._subscribers: dict[str, set[_QueueSubscription]] = {}
        self._state: dict[str, dict[str, dict[str, Any]]] = {}
        self._max_pending = max_pending
        self._hits = HitWindows()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        # Same isolation as Redis: subscribers get their own copy.
        encoded = json.dumps(message)
        for sub in self._subscribers.get(channel, ()):
            sub.put((channel, json.loads(encoded)))

    @asynccontextmanager
    async def subscribe(self, *channels: str, wanted: RawFilter | None = None) -> AsyncIterator[_QueueSubscription]:
        sub = _QueueSubscription(self._max_pending)  # (`wanted` unused: nothing is decoded here)
        for channel in channels:
            self._subscribers.setdefault(channel, set()).add(sub)
        try:
            yield sub
        finally:
            for channel in channels:
                self._subscribers.get(channel, set()).discard(sub)

    async def set_state(self, name: str, key: str, value: dict[str, Any]) -> None:
        self._state.setdefault(name, {})[key] = json.loads(json.dumps(value))

    async def delete_state(self, name: str, key: str) -> None:
        self._state.get(name, {}).pop(key, None)

    async def get_state(self, name: str) -> dict[str, dict[str, Any]]:
        return json.loads(json.dumps(self._state.get(name, {})))

    async def write_many(self, writes: Sequence[BusWrite]) -> None:
        for w in writes:
            if isinstance(w, Publish):
                await self.publish(w.channel, w.message)
            else:
                await self.set_state(w.name, w.key, w.value)

    async def get_state_key(self, name: str, key: str) -> dict[str, Any] | None:
        value = self._state.get(name, {}).get(key)
        return None if value is None else json.loads(json.dumps(value))

    async def reserve_hits(self, limits: Mapping[str, int], at: float, keep_s: float, member: str) -> float:
        return self._hits.reserve(limits, at, keep_s, member)

    async def release_hit(self, key: str, member: str) -> None:
        self._hits.release(key, member)

    async def clear_hits(self, key: str) -> None:
        self._hits.clear(key)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribers.clear()


class _RedisSubscription:
    """Reads a Redis pub/sub connection; reconnects and re-subscribes when it drops."""

    def __init__(
        self,
        client: aioredis.Redis,
        channels: list[str],
        prefix: str,
        retry_s: float,
        wanted: RawFilter | None = None,
        own_origin: bytes = b"",
    ) -> None:
        self._client = client
        self._wanted = wanted
        self._own = ORIGIN_MARK + own_origin if own_origin else b""  # its messages are passed over
        self._channels = channels
        self._prefix = prefix
        self._retry_s = retry_s
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pending: deque[tuple[str, bytes]] = deque()  # the rest of a batch (`RedisBus.write_many`)
        self.reconnects = 0
        self.gaps = 0  # counted when the subscription is back: what was published meanwhile is lost

    async def open(self) -> None:
        await self._pubsub.subscribe(*(self._prefix + c for c in self._channels))

    async def close(self) -> None:
        await self._pubsub.aclose()

    async def get(self) -> Message:
        while True:
            if self._pending:
                channel, data = self._pending.popleft()
            else:
                try:
                    raw = await self._pubsub.get_message(timeout=None)
                except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                    self.reconnects += 1
                    log.warning("bus_subscription_lost", error=type(exc).__name__, retry_s=self._retry_s)
                    await self._resubscribe()
                    continue
                if raw is None or raw.get("type") != "message":
                    continue
                name = raw["channel"].decode() if isinstance(raw["channel"], bytes) else raw["channel"]
                channel, data = name.removeprefix(self._prefix), raw["data"]
                if isinstance(data, bytes) and data[:1] == ORIGIN_MARK:
                    origin, _, data = data.partition(BATCH_SEPARATOR)
                    if origin == self._own:
                        continue
                if isinstance(data, bytes) and BATCH_SEPARATOR in data:
                    self._pending.extend((channel, piece) for piece in data.split(BATCH_SEPARATOR))
                    continue
            if self._wanted is not None and isinstance(data, bytes) and not self._wanted(channel, data):
                continue
            try:
                payload = json.loads(data)
            except (TypeError, ValueError):
                log.warning("bus_message_malformed", channel=self._prefix + channel)
                continue
            return channel, payload

    async def next_delivery(self) -> Delivery:
        channel, raw = await self.get()
        return Delivery(channel, raw)

    async def _resubscribe(self) -> None:
        delay = self._retry_s
        while True:
            await asyncio.sleep(delay)
            try:
                await self._pubsub.aclose()
                self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                await self.open()
                self.gaps += 1
                log.info("bus_subscription_restored", reconnects=self.reconnects)
                return
            except (RedisConnectionError, RedisTimeoutError, OSError):
                delay = min(delay * 2, 5.0)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            yield await self.get()


class RedisBus:
    kind = "redis"

    # a subscriber this many messages behind loses the oldest of its own process's
    # (some minutes of a busy centre's events; Redis drops a slow pub/sub client at 32 MB)
    MAX_PENDING_LOCAL = 100_000

    def __init__(
        self, client: aioredis.Redis, namespace: str = "hotline", retry_s: float = 0.2, local: bool = True
    ) -> None:
        """`local`: this process's subscribers get its own messages in process
        (store/bus_local.py); else through Redis, as the other processes do."""
        self._client = client
        self._prefix = f"{namespace}:bus:"
        self._state_prefix = f"{namespace}:state:"
        self._hits_prefix = f"{namespace}:hits:"
        self._retry_s = retry_s
        self._reserve = client.register_script(_RESERVE_LUA)
        self.origin = uuid.uuid4().hex[:12]
        self._mark = f"{ORIGIN_MARK.decode()}{self.origin}\n" if local else ""
        self._local = LocalFanout() if local else None

    @classmethod
    def from_url(cls, url: str, namespace: str = "hotline", local: bool = True) -> RedisBus:
        client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=None,
            health_check_interval=10,
            retry_on_timeout=True,
        )
        return cls(client, namespace, local=local)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        text = json.dumps(message)
        if self._local is not None:
            self._local.deliver(channel, text)
        await self._client.publish(self._prefix + channel, self._mark + text)

    @asynccontextmanager
    async def subscribe(
        self, *channels: str, wanted: RawFilter | None = None
    ) -> AsyncIterator[_RedisSubscription | MergedSubscription]:
        own = self.origin.encode() if self._local is not None else b""
        sub = _RedisSubscription(self._client, list(channels), self._prefix, self._retry_s, wanted, own)
        await sub.open()
        if self._local is None:
            try:
                yield sub
            finally:
                await sub.close()
            return
        merged = MergedSubscription(sub, channels, wanted, self.MAX_PENDING_LOCAL)
        self._local.add(merged)
        merged.start()
        try:
            yield merged
        finally:
            self._local.discard(merged)
            await merged.stop()
            await sub.close()

    async def set_state(self, name: str, key: str, value: dict[str, Any]) -> None:
        await self._client.hset(self._state_prefix + name, key, json.dumps(value))

    async def delete_state(self, name: str, key: str) -> None:
        await self._client.hdel(self._state_prefix + name, key)

    async def get_state(self, name: str) -> dict[str, dict[str, Any]]:
        raw = await self._client.hgetall(self._state_prefix + name)
        return {(k.decode() if isinstance(k, bytes) else k): json.loads(v) for k, v in raw.items()}

    async def write_many(self, writes: Sequence[BusWrite]) -> None:
        """One pipeline. Consecutive publishes on one channel go as one PUBLISH of their
        JSON texts joined by a newline (a subscriber splits them: `_RedisSubscription`),
        up to `MAX_BATCH`: at 60 calls a second the live loop publishes some 600 events,
        and each Redis message cost every subscribing process a read, a parse and a wake-up.
        The order of the publishes is kept, across channels too; a state write queued
        while a run is open goes ahead of the run's PUBLISH (the state is then at least as
        new as the messages that follow it, never older).

        This process's own subscribers get the publishes first, in process: a message
        another process sends because it saw one of these comes after it."""
        pipe = self._client.pipeline(transaction=False)
        local = self._local
        run: list[str] = []
        run_channel = ""
        for w in writes:
            if isinstance(w, Publish):
                text = w.text or json.dumps(w.message)
                if "\n" in text:  # not json.dumps's (indented?): re-encoded on one line
                    text = json.dumps(w.message)
                if local is not None:
                    local.deliver(w.channel, text, w.typed)
                if run and (w.channel != run_channel or len(run) >= MAX_BATCH):
                    pipe.publish(self._prefix + run_channel, self._mark + "\n".join(run))
                    run = []
                run_channel = w.channel
                run.append(text)
            else:
                pipe.hset(self._state_prefix + w.name, w.key, json.dumps(w.value))
        if run:
            pipe.publish(self._prefix + run_channel, self._mark + "\n".join(run))
        await pipe.execute()

    async def get_state_key(self, name: str, key: str) -> dict[str, Any] | None:
        raw = await self._client.hget(self._state_prefix + name, key)
        return None if raw is None else json.loads(raw)

    async def reserve_hits(self, limits: Mapping[str, int], at: float, keep_s: float, member: str) -> float:
        """One Lua script: the check and the count are one step on the server, whatever
        the number of processes and parallel requests."""
        keys = [self._hits_prefix + key for key in limits]
        args = [repr(float(at)), repr(float(keep_s)), member, *(str(int(n)) for n in limits.values())]
        return float(await self._reserve(keys=keys, args=args))

    async def release_hit(self, key: str, member: str) -> None:
        await self._client.zrem(self._hits_prefix + key, member)

    async def clear_hits(self, key: str) -> None:
        await self._client.delete(self._hits_prefix + key)

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()
