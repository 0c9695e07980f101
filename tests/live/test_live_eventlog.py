"""The buffered event log: nothing lost while PostgreSQL is away, written afterwards."""

from __future__ import annotations

import asyncio

from config.schema import StoreConfig
from cti.eventlog import BufferedEventLog
from events import CallArrived, CallEnded, CallQueued
from sim.netfault import in_front_of_postgresql
from store import open_store


async def test_events_are_buffered_during_an_outage_and_written_after(fresh_pg_url: str) -> None:
    proxy, url = await in_front_of_postgresql(fresh_pg_url)
    store = await open_store(StoreConfig(url=url, pool_min=1, pool_max=2))
    await store.migrate()
    log = BufferedEventLog(store, retry_min_s=0.05, retry_max_s=0.2)
    writer = asyncio.create_task(log.run())
    try:
        log.append(CallArrived(at=1.0, call_id="before"))
        await asyncio.wait_for(log.flushed(), 10)

        proxy.cut()
        for i in range(300):
            log.append(CallQueued(at=10.0 + i, call_id=f"during-{i}", queue="billing"))

        async def alarm_raised() -> None:
            while not log.health()["alarm"]:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(alarm_raised(), 10)
        assert log.health()["backlog"] == 300 and log.failures >= 1

        proxy.restore()
        log.append(CallEnded(at=999.0, call_id="after"))
        await asyncio.wait_for(log.flushed(), 30)
        health = log.health()
        assert health == {"backlog": 0, "written": 302, "dropped": 0, "alarm": False}
        stored = await store.events_between(0, 1e6)
        assert [s.event.call_id for s in stored] == ["before", *[f"during-{i}" for i in range(300)], "after"]
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await store.close()
        await proxy.stop()


class _Unencodable:
    def __repr__(self) -> str:
        return "unencodable"


async def test_an_unencodable_event_does_not_block_the_others(tmp_path) -> None:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/e.sqlite3"))
    await store.migrate()
    log = BufferedEventLog(store)
    writer = asyncio.create_task(log.run())
    try:
        log.append(CallArrived(at=1.0, call_id="a"))
        log.append(CallQueued(at=2.0, call_id="b", attributes={"bad": _Unencodable()}))
        log.append(CallEnded(at=3.0, call_id="c"))
        await asyncio.wait_for(log.flushed(), 10)
        assert [s.event.call_id for s in await store.events_between(0, 10)] == ["a", "c"]
        assert log.dropped == 1
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await store.close()
