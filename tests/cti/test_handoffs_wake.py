"""On PostgreSQL a hand-off kept by another process's FastAGI session wakes the
leader's taker (NOTIFY / LISTEN): taken at once though the leader hardly polls, each
once; a lost listening connection falls back to polling and is listened to again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from config.schema import StoreConfig
from cti.handoffs import StoreHandOff, encode, take_handoffs
from cti.live_items import InboxItem, IvrHandOff
from events import CallQueued
from sim.netfault import in_front_of_postgresql
from store import SqlStore, open_store


def queued(n: int) -> IvrHandOff:
    return IvrHandOff(CallQueued(at=100.0 + n, call_id=f"1700000000.{n}", queue="support", customer_id=f"c{n}"))


class Takes:
    """The leader store's takes, counted (the real store's UPDATE underneath)."""

    def __init__(self, store: SqlStore) -> None:
        self.count = 0
        take = store.take_handoffs

        async def counted(epoch: int, limit: int = 100) -> Any:
            self.count += 1
            return await take(epoch, limit)

        store.take_handoffs = counted  # type: ignore[method-assign]


@pytest.fixture
async def stores(fresh_pg_url: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """The leader's store and a standby's (another pool: as another process)."""
    leader = await open_store(StoreConfig(url=fresh_pg_url))
    await leader.migrate()
    standby = await open_store(StoreConfig(url=fresh_pg_url))
    try:
        yield leader, standby
    finally:
        await standby.close()
        await leader.close()


async def test_a_standbys_hand_off_wakes_the_leader_which_otherwise_hardly_polls(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    leader, standby = stores
    takes = Takes(leader)
    got: list[InboxItem] = []
    # polling alone would take 30 s: only the wake can take them in time
    taker = asyncio.create_task(take_handoffs(leader, 5, got.append, lambda: None, every_s=30, woken_every_s=30))
    try:
        while takes.count < 1:  # listening, and the first take done
            await asyncio.sleep(0.01)
        hand = StoreHandOff(standby, wait_s=5.0, poll_s=0.005)
        for n in range(5):
            started = time.monotonic()
            await asyncio.wait_for(hand(queued(n)), 5)
            assert time.monotonic() - started < 1.0
        await asyncio.wait_for(_until(lambda: len(got) >= 5), 5)  # (see below: submitted just after)
        assert got == [queued(n) for n in range(5)] and hand.unseen == 0
        assert takes.count <= 1 + 5  # a take per wake, no polling
        assert await standby.take_handoffs(6) == []  # each taken once
    finally:
        taker.cancel()
        await asyncio.gather(taker, return_exceptions=True)


async def test_a_lost_listening_connection_falls_back_to_polling_and_listens_again(fresh_pg_url: str) -> None:
    proxy, proxied_url = await in_front_of_postgresql(fresh_pg_url)
    leader = await open_store(StoreConfig(url=proxied_url))
    standby = await open_store(StoreConfig(url=fresh_pg_url))
    got: list[InboxItem] = []
    taker: asyncio.Task[None] | None = None
    try:
        await leader.migrate()
        takes = Takes(leader)
        taker = asyncio.create_task(take_handoffs(leader, 5, got.append, lambda: None, every_s=0.05, woken_every_s=30))
        while takes.count < 1:
            await asyncio.sleep(0.01)
        proxy.cut()  # the listening connection (and the pool's) lost
        kind, call_id, body = encode(queued(1))
        await standby.put_handoff(kind, call_id, body, 1.0)  # kept meanwhile: no wake reaches the leader
        proxy.restore()
        hand = StoreHandOff(standby, wait_s=5.0, poll_s=0.005)
        await asyncio.wait_for(hand(queued(2)), 5)  # taken by the fast polling
        # (the standby sees its row taken once the leader's UPDATE commits, a moment
        # before the leader's task has the rows back and submits them)
        await asyncio.wait_for(_until(lambda: len(got) >= 2), 5)
        assert hand.unseen == 0 and got == [queued(1), queued(2)]
    finally:
        if taker is not None:
            taker.cancel()
            await asyncio.gather(taker, return_exceptions=True)
        await standby.close()
        await leader.close()
        await proxy.stop()


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)
