"""One contract suite over the call-back promises (`store.port.Callbacks`): PostgreSQL
(asyncpg), SQLite and the in-memory adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from store.memory import MemoryStore
from store.models import Callback, CallbackQuery
from store.port import Callbacks
from tests.contract.test_contract_store import _sql_store


@pytest.fixture(params=["postgresql", "sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Callbacks]:
    if request.param == "memory":
        yield MemoryStore()
        return
    s = await _sql_store(request.param, request, tmp_path)
    if request.param == "postgresql":  # (the session's database is shared by the tests)
        await s._db.execute("TRUNCATE callbacks")
    try:
        yield s
    finally:
        await s.close()


def held(call_id: str, due_at: float = 100.0, **changes: Any) -> Callback:
    row = Callback(
        id=f"cb-{call_id}",
        due_at=due_at,
        call_id=call_id,
        customer_id="C042",
        number="+12127360001",
        created_at=due_at,
        queue="billing",
        skills={"billing": 3, "es": 1},
        priority=2,
        attributes={"language": "es", "tier": "gold"},
        kind="virtual_hold",
        arrived_at=due_at - 40.0,
    )
    return replace(row, **changes)


async def test_every_field_of_a_promise_round_trips(store: Callbacks) -> None:
    row = held("c1", agent_id="agent07", notes="asked for Ann", attempts=1, state="dialing", outcome="not_answered")
    await store.put_callback(row)
    assert await store.callbacks_between(0, 1e12) == [row]
    assert await store.open_callbacks() == [row]


async def test_each_step_replaces_the_row_and_a_kept_promise_is_no_longer_open(store: Callbacks) -> None:
    await store.put_callback(held("c1", due_at=100.0))
    await store.put_callback(held("c2", due_at=50.0))
    await store.put_callback(held("c3", due_at=500.0))
    assert [c.id for c in await store.open_callbacks()] == ["cb-c2", "cb-c1", "cb-c3"]
    assert [c.id for c in await store.open_callbacks(due_before=100.0)] == ["cb-c2"]
    await store.put_callback(held("c2", due_at=50.0, state="dialing", attempts=1))
    await store.put_callback(held("c1", due_at=100.0, state="done", attempts=1, outcome="connected"))
    await store.put_callback(held("c3", due_at=500.0, state="failed", attempts=3, outcome="not_answered"))
    [open_row] = await store.open_callbacks()
    assert (open_row.id, open_row.state, open_row.attempts) == ("cb-c2", "dialing", 1)
    kept = {c.id: c for c in await store.callbacks_between(0, 1e12)}
    assert kept["cb-c1"].done and kept["cb-c3"].done and not kept["cb-c2"].done
    assert kept["cb-c1"].outcome == "connected"


async def test_an_agents_scheduled_call_backs_are_found_by_agent_and_due_time(store: Callbacks) -> None:
    a = Callback(id="w1", due_at=100.0, call_id="c1", agent_id="agent01", number="5551", created_at=50.0)
    b = Callback(id="w2", due_at=200.0, agent_id="agent02", created_at=51.0)
    await store.put_callback(a)
    await store.put_callback(b)
    assert await store.callbacks_between(0, 1000) == [a, b]
    assert await store.callbacks_between(0, 1000, agent_id="agent02") == [b]
    assert await store.callbacks_between(150, 1000) == [b]
    assert a.kind == "scheduled" and a.state == "pending"


async def test_promises_are_listed_by_state_queue_agent_and_due_range(store: Callbacks) -> None:
    a = held("a", due_at=100.0, agent_id="sue")
    b = held("b", due_at=200.0, queue="support", state="done", attempts=1, outcome="connected")
    c = held("c", due_at=300.0, agent_id="sue", state="dialing", attempts=1)
    for row in (c, a, b):
        await store.put_callback(row)
    assert [r.id for r in await store.list_callbacks(CallbackQuery())] == ["cb-a", "cb-b", "cb-c"]
    assert await store.list_callbacks(CallbackQuery(state="pending")) == [a]
    assert await store.list_callbacks(CallbackQuery(queue="support")) == [replace(b, done=True)]
    assert [r.id for r in await store.list_callbacks(CallbackQuery(agent_id="sue"))] == ["cb-a", "cb-c"]
    assert [r.id for r in await store.list_callbacks(CallbackQuery(due_from=100.0, due_to=300.0))] == ["cb-a", "cb-b"]
    assert [r.id for r in await store.list_callbacks(CallbackQuery(agent_id="sue", state="dialing", due_from=250))] == [
        "cb-c"
    ]
    assert [r.id for r in await store.list_callbacks(CallbackQuery(limit=1))] == ["cb-a"]
    assert await store.get_callback("cb-c") == c


async def test_a_cancelled_promise_stays_cancelled_whatever_is_written_after(store: Callbacks) -> None:
    from store.port import NotFound

    await store.put_callback(held("p"))
    await store.put_callback(held("d", state="dialing", attempts=1))
    cancelled = await store.cancel_callback("cb-p", by="sue")
    assert (cancelled.state, cancelled.done, cancelled.outcome) == ("cancelled", True, "cancelled by sue")
    # the live loop's next step, taken from what it had in memory: not written
    assert await store.put_callback(held("p", state="dialing", attempts=1)) is False
    assert (await store.get_callback("cb-p")).state == "cancelled"
    assert await store.open_callbacks() == [held("d", state="dialing", attempts=1)]
    # being dialled: not cancelled (nor a kept or cancelled one again)
    assert (await store.cancel_callback("cb-d", by="sue")).state == "dialing"
    assert (await store.cancel_callback("cb-p", by="bob")).outcome == "cancelled by sue"
    assert await store.put_callback(held("d", state="done", attempts=1, outcome="connected")) is True
    with pytest.raises(NotFound):
        await store.cancel_callback("nope", by="sue")
    with pytest.raises(NotFound):
        await store.get_callback("nope")
