"""InteractionRows over the real stores: the rows of calls ending together written in
one batch, each once, a wrap-up saved first kept; an outage waited out without losing
a row; an unencodable row dropped alone; what is queued written by `flushed()`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import pytest

from config.schema import StoreConfig
from cti.interaction_rows import InteractionRows
from sim.netfault import in_front_of_postgresql
from store import SqlStore, open_store
from store.models import Interaction
from store.port import NotFound


@pytest.fixture(params=["postgresql", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[SqlStore]:
    url = request.getfixturevalue("fresh_pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/s.db"
    s = await open_store(StoreConfig(url=url))
    await s.migrate()
    try:
        yield s
    finally:
        await s.close()


class Writes:
    """The store's writes counted (wrapping the real store's methods)."""

    def __init__(self, store: SqlStore) -> None:
        self.batches: list[int] = []
        self.singles = 0
        put_many, put_one = store.put_interactions, store.put_interaction

        async def put_interactions(rows: Sequence[Interaction]) -> None:
            self.batches.append(len(rows))
            await put_many(rows)

        async def put_interaction(row: Interaction) -> None:
            self.singles += 1
            await put_one(row)

        store.put_interactions = put_interactions  # type: ignore[method-assign]
        store.put_interaction = put_interaction  # type: ignore[method-assign]


def spawn(tasks: set[asyncio.Task[Any]]) -> Any:
    def start(coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        return task

    return start


def ended(i: int, **fields: Any) -> Interaction:
    return Interaction(
        id=f"k{i}", agent_id=f"a{i}", started_at=float(i), ended_at=i + 30.0, outcome="answered", **fields
    )


async def rows_in(store: SqlStore) -> int:
    return int(await store._db.fetchval("SELECT COUNT(*) FROM interactions"))


async def test_fifty_calls_ending_together_are_one_batch_with_the_wrap_ups_kept(store: SqlStore) -> None:
    for i in range(0, 50, 10):  # the agent saved these wrap-ups before the calls' rows
        await store.put_interaction(Interaction(id=f"k{i}", started_at=float(i), disposition="sale", notes=f"n{i}"))
    writes = Writes(store)
    tasks: set[asyncio.Task[Any]] = set()
    rows = InteractionRows(store, spawn(tasks), linger_s=0.05)
    for i in range(50):
        rows.add(ended(i))
    assert len(tasks) == 1  # one writer for the lot

    async def written() -> None:
        while await rows_in(store) < 50 or rows.backlog or not all(t.done() for t in tasks):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(written(), 5)
    assert (writes.batches, writes.singles, rows.batches) == ([50], 0, 1)
    got = {i: await store.get_interaction(f"k{i}") for i in range(50)}
    assert all((g.agent_id, g.outcome, g.ended_at) == (f"a{i}", "answered", i + 30.0) for i, g in got.items())
    assert [(i, g.disposition, g.notes) for i, g in got.items() if g.disposition] == [
        (i, "sale", f"n{i}") for i in range(0, 50, 10)
    ]
    assert await rows_in(store) == 50


async def test_flushed_writes_what_is_queued_without_waiting_the_linger(store: SqlStore) -> None:
    writes = Writes(store)
    tasks: set[asyncio.Task[Any]] = set()
    rows = InteractionRows(store, spawn(tasks), linger_s=3600)
    for i in range(3):
        rows.add(ended(i))
    await asyncio.wait_for(rows.flushed(), 5)
    assert await rows_in(store) == 3 and writes.batches == [3]
    rows.add(ended(3))  # after a flush (stopping): written at once
    await asyncio.wait_for(rows.flushed(), 5)
    assert await rows_in(store) == 4 and writes.singles == 1


async def test_an_unencodable_row_is_dropped_alone(store: SqlStore) -> None:
    tasks: set[asyncio.Task[Any]] = set()
    rows = InteractionRows(store, spawn(tasks), linger_s=3600)
    for i in range(4):
        rows.add(ended(i, attributes={"tags": [{1, 2}]} if i == 2 else {"tags": ["x"]}))
    await asyncio.wait_for(rows.flushed(), 5)
    assert [(await store.get_interaction(f"k{i}")).attributes for i in (0, 1, 3)] == [{"tags": ["x"]}] * 3
    with pytest.raises(NotFound):
        await store.get_interaction("k2")


async def test_an_outage_during_a_batch_is_waited_out_and_loses_nothing(fresh_pg_url: str) -> None:
    proxy, proxied_url = await in_front_of_postgresql(fresh_pg_url)
    store = await open_store(StoreConfig(url=proxied_url))
    try:
        await store.migrate()
        writes = Writes(store)
        tasks: set[asyncio.Task[Any]] = set()
        rows = InteractionRows(store, spawn(tasks), linger_s=0.01)
        await store.put_interaction(Interaction(id="k3", started_at=3.0, disposition="sale", notes="kept"))
        proxy.cut()
        for i in range(10):
            rows.add(ended(i))

        async def retrying() -> None:
            while writes.singles < 10:  # the batch failed: each row waits the outage out
                await asyncio.sleep(0.01)

        await asyncio.wait_for(retrying(), 30)
        proxy.restore()
        await asyncio.wait_for(rows.flushed(), 30)
        assert writes.batches == [10]
        assert await rows_in(store) == 10
        assert [(await store.get_interaction(f"k{i}")).outcome for i in range(10)] == ["answered"] * 10
        assert (await store.get_interaction("k3")).notes == "kept"
    finally:
        await store.close()
        await proxy.stop()
