"""One contract suite over both bus adapters: Redis and in-process.

Redis runs twice: "redis", the publisher and the subscriber in two processes (two
`RedisBus`, each of its own origin: every message goes through Redis), and
"redis-local", both in one process (its own messages come in process,
store/bus_local.py)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store.bus import Bus, MemoryBus, Publish, RedisBus, SetState


class _TwoProcesses:
    """Two processes' buses as one: subscriptions on one, every write on the other."""

    kind = "redis"

    def __init__(self, writer: RedisBus, reader: RedisBus) -> None:
        self.writer, self.reader = writer, reader

    def subscribe(self, *channels: str, wanted=None):
        return self.reader.subscribe(*channels, wanted=wanted)

    def __getattr__(self, name: str):
        return getattr(self.writer, name)

    async def close(self) -> None:
        await self.reader.close()
        await self.writer.close()


@pytest.fixture(params=["redis", "redis-local", "memory"])
async def bus(request: pytest.FixtureRequest, redis_namespace: str) -> AsyncIterator[Bus]:
    if request.param == "memory":
        b: Bus = MemoryBus()
    elif request.param == "redis-local":
        b = RedisBus.from_url(request.getfixturevalue("redis_url"), namespace=redis_namespace)
    else:
        url = request.getfixturevalue("redis_url")
        b = _TwoProcesses(  # type: ignore[assignment]
            RedisBus.from_url(url, namespace=redis_namespace), RedisBus.from_url(url, namespace=redis_namespace)
        )
    try:
        yield b
    finally:
        await b.close()


async def _next(sub, timeout: float = 2.0):
    return await asyncio.wait_for(sub.get(), timeout=timeout)


async def test_two_subscribers_both_receive_in_order(bus: Bus) -> None:
    async with bus.subscribe("calls") as one, bus.subscribe("calls", "agents") as two:
        await bus.publish("calls", {"n": 1})
        await bus.publish("agents", {"agent": "2001", "state": "available"})
        await bus.publish("calls", {"n": 2})
        assert await _next(one) == ("calls", {"n": 1})
        assert await _next(one) == ("calls", {"n": 2})
        assert [await _next(two) for _ in range(3)] == [
            ("calls", {"n": 1}),
            ("agents", {"agent": "2001", "state": "available"}),
            ("calls", {"n": 2}),
        ]


async def test_unsubscribed_channel_is_not_delivered(bus: Bus) -> None:
    async with bus.subscribe("a") as sub:
        await bus.publish("b", {"x": 1})
        await bus.publish("a", {"x": 2})
        assert await _next(sub) == ("a", {"x": 2})


async def test_a_subscriber_may_pass_over_messages_it_does_not_want_undecoded(bus: Bus) -> None:
    """`wanted` sees each message's raw JSON: Redis does not decode (nor deliver) those
    it refuses; the in-process bus may deliver them (the subscriber checks anyway).
    What it wants comes in order on every adapter; other channels are untouched."""
    seen: list[tuple[str, bytes]] = []

    def wanted(channel: str, data: bytes) -> bool:
        seen.append((channel, data))
        return channel != "calls" or b"keep" in data

    async with bus.subscribe("calls", "agents", wanted=wanted) as sub:
        await bus.publish("calls", {"n": 1})
        await bus.publish("calls", {"n": 2, "keep": True})
        await bus.publish("agents", {"n": 3})
        got = [await _next(sub) for _ in range(2 if bus.kind == "redis" else 3)]
    assert [m for m in got if m[1].get("n") != 1] == [("calls", {"n": 2, "keep": True}), ("agents", {"n": 3})]
    if bus.kind == "redis":
        assert [c for c, _ in seen] == ["calls", "calls", "agents"]
        assert b'"n": 1' in seen[0][1]


async def test_state_map(bus: Bus) -> None:
    await bus.set_state("agents", "2001", {"state": "available", "since": 1.5})
    await bus.set_state("agents", "2002", {"state": "paused", "reason": "lunch"})
    await bus.set_state("agents", "2001", {"state": "on_call", "since": 9.0})
    assert await bus.get_state("agents") == {
        "2001": {"state": "on_call", "since": 9.0},
        "2002": {"state": "paused", "reason": "lunch"},
    }
    assert await bus.get_state_key("agents", "2002") == {"state": "paused", "reason": "lunch"}
    assert await bus.get_state_key("agents", "2003") is None
    assert await bus.get_state_key("queues", "2001") is None
    await bus.delete_state("agents", "2002")
    assert list(await bus.get_state("agents")) == ["2001"]
    assert await bus.get_state_key("agents", "2002") is None
    assert await bus.get_state("queues") == {}
    await bus.ping()


async def test_redis_subscriber_recovers_after_connection_drop(redis_url: str, redis_namespace: str) -> None:
    bus = _TwoProcesses(
        RedisBus.from_url(redis_url, namespace=redis_namespace), RedisBus.from_url(redis_url, namespace=redis_namespace)
    )
    admin = aioredis.Redis.from_url(redis_url)
    try:
        async with bus.subscribe("live") as sub:
            await bus.publish("live", {"n": 1})
            assert await _next(sub) == ("live", {"n": 1})
            killed = await admin.client_kill_filter(_type="pubsub")
            assert killed >= 1

            # Publish until the re-subscribed connection receives: messages sent while
            # it was away are lost by design (pub/sub); the next ones must arrive.
            async def publish_until_received() -> tuple[str, dict]:
                n = 100
                while True:
                    await bus.publish("live", {"n": n})
                    try:
                        return await asyncio.wait_for(sub.get(), timeout=0.3)
                    except TimeoutError:
                        n += 1

            channel, payload = await asyncio.wait_for(publish_until_received(), timeout=10)
            assert channel == "live" and payload["n"] >= 100
    finally:
        await admin.aclose()
        await bus.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis(port: int, tmp_path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_ping(bus: RedisBus) -> None:
    while True:
        try:
            await bus.ping()
            return
        except (RedisConnectionError, RedisTimeoutError, OSError):  # not listening yet
            await asyncio.sleep(0.05)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server binary not installed")
async def test_redis_subscriber_survives_server_restart(tmp_path) -> None:
    """A real outage: the Redis server goes away and comes back on the same port."""
    port = _free_port()
    server = _start_redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    bus = _TwoProcesses(RedisBus.from_url(url, namespace="outage"), RedisBus.from_url(url, namespace="outage"))
    try:
        await asyncio.wait_for(_wait_ping(bus), timeout=10)
        async with bus.subscribe("live") as sub:
            await bus.publish("live", {"n": 1})
            assert await _next(sub) == ("live", {"n": 1})
            server.terminate()
            server.wait(timeout=10)
            reader = asyncio.create_task(sub.get())

            async def outage_noticed() -> None:
                while sub.reconnects == 0:
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(outage_noticed(), timeout=10)
            assert not reader.done()
            server = _start_redis(port, tmp_path)
            await asyncio.wait_for(_wait_ping(bus.writer), timeout=10)

            async def publish_until(reader: asyncio.Task) -> None:
                n = 2
                while not reader.done():
                    await bus.publish("live", {"n": n})
                    n += 1
                    await asyncio.wait([reader], timeout=0.2)

            await asyncio.wait_for(publish_until(reader), timeout=10)
            channel, payload = reader.result()
            assert channel == "live" and payload["n"] >= 2
    finally:
        await bus.close()
        server.terminate()
        server.wait(timeout=10)


async def test_hits_are_reserved_under_every_limit_at_once(bus: Bus, redis_namespace: str) -> None:
    """The login rate limiter's windows: an attempt counts on every key, or on none."""
    login, address = f"{redis_namespace}-login:bob", f"{redis_namespace}-ip:1.2.3.4"
    limits = {login: 2, address: 3}
    assert await bus.reserve_hits(limits, 100.0, 60, "m1") == 0
    assert await bus.reserve_hits(limits, 101.5, 60, "m2") == 0
    assert await bus.reserve_hits(limits, 102.0, 60, "m3") == pytest.approx(58.0)  # login full: until 100 + 60
    assert await bus.reserve_hits({address: 3}, 102.0, 60, "m4") == 0  # m3 was counted nowhere
    assert await bus.reserve_hits({address: 3}, 103.0, 60, "m5") == pytest.approx(57.0)
    await bus.release_hit(address, "m4")
    assert await bus.reserve_hits({address: 3}, 103.0, 60, "m6") == 0
    assert await bus.reserve_hits(limits, 161.0, 60, "m7") == 0  # m1 fell out of the window
    await bus.clear_hits(login)
    assert await bus.reserve_hits({login: 1}, 161.5, 60, "m8") == 0


async def test_parallel_reservations_never_pass_the_limit(bus: Bus, redis_namespace: str) -> None:
    key = f"{redis_namespace}-login:eve"
    waits = await asyncio.gather(*(bus.reserve_hits({key: 5}, 100.0, 300, f"m{i}") for i in range(50)))
    assert sum(1 for w in waits if w == 0) == 5


async def test_writes_in_one_go_arrive_in_order(bus: Bus) -> None:
    async with bus.subscribe("calls") as sub:
        await bus.write_many(
            [
                SetState("agents", "2001", {"state": "on_call"}),
                Publish("calls", {"n": 1}),
                SetState("agents", "2001", {"state": "wrap_up"}),
                Publish("calls", {"n": 2}),
            ]
        )
        assert [await _next(sub), await _next(sub)] == [("calls", {"n": 1}), ("calls", {"n": 2})]
    assert await bus.get_state_key("agents", "2001") == {"state": "wrap_up"}
    await bus.write_many([])


async def test_a_burst_of_writes_arrives_whole_and_in_order_across_channels(
    bus: Bus, redis_url: str, redis_namespace: str
) -> None:
    """The live loop's outbox sends hundreds of publishes at once: every message comes
    once, in publish order across channels, with a text that holds a newline (an
    indented JSON) and a refused one among them; on Redis, a run on one channel goes as
    far fewer Redis messages (each is a read and a wake-up in every subscriber)."""
    writes: list[Publish | SetState] = []
    expected: list[tuple[str, dict]] = []
    for n in range(450):
        channel = "agents" if n % 100 == 99 else "calls"
        if n == 7:
            message = {"n": n, "note": "two\nlines"}
            writes.append(Publish(channel, message, '{\n  "n": 7,\n  "note": "two\\nlines"\n}'))
        elif n == 300:
            message = {"n": n, "drop": True}
            writes.append(Publish(channel, message))
            continue
        else:
            message = {"n": n}
            writes.append(Publish(channel, message))
        expected.append((channel, message))
        if n % 50 == 0:
            writes.append(SetState("agents", "2001", {"n": n}))

    def wanted(channel: str, data: bytes) -> bool:
        return b'"drop"' not in data

    raw_client = aioredis.Redis.from_url(redis_url) if bus.kind == "redis" else None
    raw_sub = raw_client.pubsub(ignore_subscribe_messages=True) if raw_client is not None else None
    if raw_sub is not None:
        await raw_sub.subscribe(f"{redis_namespace}:bus:calls", f"{redis_namespace}:bus:agents")
    try:
        async with bus.subscribe("calls", "agents", wanted=wanted) as sub:
            await bus.write_many(writes)
            got = []
            while len(got) < len(expected):
                message = await _next(sub)
                if bus.kind == "memory" and message[1].get("drop"):
                    continue  # (the in-process bus may deliver a refused message)
                got.append(message)
        assert got == expected
        assert await bus.get_state_key("agents", "2001") == {"n": 400}
        if raw_sub is not None:
            raw: list[dict] = []

            def pieces(m: dict) -> int:  # (after the sender's origin line)
                return m["data"].partition(b"\n")[2].count(b"\n") + 1

            async def all_450() -> None:  # (the indented text went on one line: 450, not more)
                while sum(pieces(m) for m in raw) < 450:
                    m = await raw_sub.get_message(timeout=0.1)
                    if m is not None:
                        raw.append(m)

            await asyncio.wait_for(all_450(), 5)
            assert 0 < len(raw) <= 20, len(raw)
            assert sum(pieces(m) for m in raw) == 450
    finally:
        if raw_sub is not None and raw_client is not None:
            await raw_sub.aclose()
            await raw_client.aclose()
