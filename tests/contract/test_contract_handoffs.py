"""One contract suite over the live hand-offs (`store.port.LiveHandOffs`) and the
leader's epoch on the event log: PostgreSQL (asyncpg), SQLite and the in-memory
adapter. A FastAGI session run by a server that is not the leader hands its caller to
the leader through these rows (cti/handoffs.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from events import CallArrived, CallQueued
from store import SqlStore
from store.memory import MemoryStore
from store.port import EPOCH_LEASE, EventLog, LeaderLeases, LiveHandOffs, StaleEpoch
from tests.contract.test_contract_store import _sql_store


class _Both(LiveHandOffs, EventLog, LeaderLeases):
    pass


@pytest.fixture(params=["postgresql", "sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[_Both]:
    if request.param == "memory":
        yield MemoryStore()  # type: ignore[misc]
        return
    s = await _sql_store(request.param, request, tmp_path)
    if request.param == "postgresql":  # (the session's database is shared by the tests)
        await s._db.execute("TRUNCATE live_handoffs, leader_lease RESTART IDENTITY")
    try:
        yield s  # type: ignore[misc]
    finally:
        await s.close()


async def test_handoffs_are_taken_once_in_order_by_the_epoch_that_took_them(store: _Both) -> None:
    call = f"c-{uuid.uuid4().hex[:6]}"
    ids = [
        await store.put_handoff("queue", call, {"queue": "support", "attributes": {"language": "es"}}, 10.0),
        await store.put_handoff("step", call, {"node": "menu"}, 11.0),
        await store.put_handoff("callback", "other", {"number": "+15550100"}, 12.0),
    ]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert not await store.handoff_taken(ids[0])
    first = await store.take_handoffs(epoch=4, limit=2)
    assert [(h.id, h.kind, h.call_id, h.taken_epoch) for h in first] == [
        (ids[0], "queue", call, 4),
        (ids[1], "step", call, 4),
    ]
    assert first[0].body == {"queue": "support", "attributes": {"language": "es"}} and first[0].created_at == 10.0
    assert await store.handoff_taken(ids[0]) and not await store.handoff_taken(ids[2])
    rest = await store.take_handoffs(epoch=5)
    assert [(h.id, h.taken_epoch) for h in rest] == [(ids[2], 5)]
    assert await store.take_handoffs(epoch=5) == []
    assert not await store.handoff_taken(999_999)


async def test_two_leaders_taking_at_once_never_get_the_same_handoff(store: _Both) -> None:
    for n in range(40):
        await store.put_handoff("queue", f"c{n}", {"n": n}, float(n))
    a, b = await asyncio.gather(store.take_handoffs(1, 25), store.take_handoffs(2, 25))
    # the second taker may find the first's rows gone under it and take fewer (one UPDATE
    # re-checks each row): what matters is that none is taken twice and none is lost
    rest = await store.take_handoffs(3, 40)
    got = [h.body["n"] for h in (*a, *b, *rest)]
    assert sorted(got) == list(range(40))


async def test_a_handoff_needs_its_kind_and_call(store: _Both) -> None:
    with pytest.raises(ValueError, match="kind"):
        await store.put_handoff("", "c1", {}, 1.0)
    with pytest.raises(ValueError, match="call_id"):
        await store.put_handoff("queue", "", {}, 1.0)


async def test_each_logged_event_carries_the_epoch_of_the_term_that_logged_it(store: _Both) -> None:
    call = f"e-{uuid.uuid4().hex[:6]}"
    term = await store.claim_lease(EPOCH_LEASE, "a", 30.0)
    await store.append(CallArrived(at=1.0, call_id=call, caller="100"))
    await store.append_many([CallQueued(at=2.0, call_id=call, queue="q")], [f"{call}:k"], epoch=term.epoch)
    stored = await store.events_for_call(call)
    assert [(type(s.event).__name__, s.epoch) for s in stored] == [("CallArrived", 0), ("CallQueued", term.epoch)]
    streamed = [s async for s in store.iter_events(0, 10) if getattr(s.event, "call_id", "") == call]
    assert [s.epoch for s in streamed] == [0, term.epoch]


async def test_a_write_of_a_term_that_is_over_is_refused(store: _Both) -> None:
    call = f"s-{uuid.uuid4().hex[:6]}"
    old = await store.claim_lease(EPOCH_LEASE, "a", 30.0)
    await store.release_lease(EPOCH_LEASE, "a")
    new = await store.claim_lease(EPOCH_LEASE, "b", 30.0)
    assert new.epoch == old.epoch + 1
    with pytest.raises(StaleEpoch, match=f"epoch {old.epoch} is over"):
        await store.append_many([CallQueued(at=3.0, call_id=call, queue="q")], epoch=old.epoch)
    with pytest.raises(StaleEpoch, match=f"epoch {old.epoch} is over"):  # the live log's keyed batches too
        await store.append_many([CallQueued(at=3.0, call_id=call, queue="q")], [f"{call}:q"], epoch=old.epoch)
    assert await store.events_for_call(call) == []  # nothing written
    await store.append_many([CallQueued(at=3.0, call_id=call, queue="q")], epoch=new.epoch)
    assert [s.epoch for s in await store.events_for_call(call)] == [new.epoch]


async def test_a_kept_hand_off_wakes_a_listener_where_the_store_can_tell(store: _Both) -> None:
    """PostgreSQL wakes the listener on each hand-off kept (and closes without waiting);
    the others say they cannot (None: the taker polls)."""
    woken = asyncio.Event()
    waker = await store.listen_handoffs(woken.set)
    if not isinstance(store, SqlStore) or store.kind != "postgresql":
        assert waker is None
        return
    assert waker is not None and waker.alive
    try:
        assert not woken.is_set()
        await store.put_handoff("queue", "c-wake", {"queue": "support"}, 1.0)
        await asyncio.wait_for(woken.wait(), 5)
        assert [h.call_id for h in await store.take_handoffs(1)] == ["c-wake"]
    finally:
        waker.close()
    assert not waker.alive
