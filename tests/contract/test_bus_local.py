"""A process's own bus messages reach its own subscribers in process, once (store/bus_local.py),
with real Redis between processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from events import CallOffered, CallQueued
from store.bus import Publish, RedisBus
from store.topics import EVENTS, subscribe


@pytest.fixture
async def two(redis_url: str, redis_namespace: str) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two processes' buses on one Redis."""
    a = RedisBus.from_url(redis_url, namespace=redis_namespace)
    b = RedisBus.from_url(redis_url, namespace=redis_namespace)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def _next(inbox, timeout: float = 2.0):
    return await asyncio.wait_for(inbox.get(), timeout)


async def test_own_events_come_as_published_and_once_the_others_through_redis(two) -> None:
    a, b = two
    offered = CallOffered(10.0, "c1", "2001", "billing", "router")
    async with subscribe(a, EVENTS) as mine, subscribe(b, EVENTS) as theirs:
        await a.write_many([EVENTS.write(offered)])
        assert await _next(mine) is offered  # the publisher's own object: nothing decoded
        got = await _next(theirs)
        assert got == offered and got is not offered  # decoded from Redis
        # a's Redis copy went ahead of this marker (one publisher's order on Redis): had
        # a's subscription not passed over its own origin, it would come before the marker
        marker = CallQueued(11.0, "c2", "billing")
        await b.write_many([EVENTS.write(marker)])
        assert await _next(mine) == marker
        assert await _next(theirs) is marker


async def test_a_plain_publish_reaches_this_process_as_a_copy(two) -> None:
    a, b = two
    message = {"n": 1, "nested": {"x": [1, 2]}}
    async with a.subscribe("calls") as one, a.subscribe("calls") as other, b.subscribe("calls") as far:
        await a.publish("calls", message)
        await a.write_many([Publish("calls", {"n": 2})])
        first = await _next(one)
        assert first == ("calls", message) and await _next(other) == ("calls", message)
        first[1]["nested"]["x"].append(3)  # a subscriber's copy is its own
        assert message["nested"]["x"] == [1, 2]
        assert await _next(one) == ("calls", {"n": 2})
        assert [await _next(far), await _next(far)] == [("calls", message), ("calls", {"n": 2})]
        await b.publish("calls", {"n": 3})
        assert await _next(one) == ("calls", {"n": 3})  # nothing of a's came twice before it


async def test_a_refused_own_message_is_not_queued(two) -> None:
    a, _ = two
    seen: list[bytes] = []

    def wanted(channel: str, data: bytes) -> bool:
        seen.append(data)
        return b"keep" in data

    async with a.subscribe("calls", wanted=wanted) as sub:
        await a.write_many([Publish("calls", {"n": 1}), Publish("calls", {"n": 2, "keep": True})])
        assert await _next(sub) == ("calls", {"n": 2, "keep": True})
        assert seen == [b'{"n": 1}', b'{"n": 2, "keep": true}']


async def test_a_message_without_an_origin_is_delivered(two, redis_url: str, redis_namespace: str) -> None:
    """What a process of the earlier version publishes (no origin line) still comes."""
    a, _ = two
    raw = aioredis.Redis.from_url(redis_url)
    try:
        async with a.subscribe("calls") as sub:
            await raw.publish(f"{redis_namespace}:bus:calls", json.dumps({"n": 1}) + "\n" + json.dumps({"n": 2}))
            await raw.publish(f"{redis_namespace}:bus:calls", json.dumps({"n": 3}))
            assert [await _next(sub) for _ in range(3)] == [("calls", {"n": n}) for n in (1, 2, 3)]
    finally:
        await raw.aclose()


async def test_a_subscriber_too_far_behind_loses_the_oldest_and_counts_a_gap(two) -> None:
    a, _ = two
    a.MAX_PENDING_LOCAL = 3
    async with a.subscribe("calls") as sub:
        await a.write_many([Publish("calls", {"n": n}) for n in range(5)])
        assert sub.gaps == 2
        assert [await _next(sub) for _ in range(3)] == [("calls", {"n": n}) for n in (2, 3, 4)]


async def test_without_local_delivery_own_messages_go_through_redis(redis_url: str, redis_namespace: str) -> None:
    bus = RedisBus.from_url(redis_url, namespace=redis_namespace, local=False)
    offered = CallOffered(10.0, "c1", "2001", "billing", "router")
    try:
        async with subscribe(bus, EVENTS) as inbox:
            await bus.write_many([EVENTS.write(offered)])
            got = await _next(inbox)
            assert got == offered and got is not offered
    finally:
        await bus.close()


async def test_a_closed_subscription_gets_nothing_more(two) -> None:
    a, _ = two
    a.MAX_PENDING_LOCAL = 1
    async with a.subscribe("calls") as sub:
        pass
    await a.publish("calls", {"n": 1})  # no subscriber left: nothing queued, nothing raised
    await a.publish("calls", {"n": 2})
    assert sub.gaps == 0  # (still registered, its one place would have overflowed)
