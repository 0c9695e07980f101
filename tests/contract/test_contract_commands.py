"""One contract suite over the kept agent commands (`store.port.AgentCommands`):
PostgreSQL (asyncpg), SQLite and the in-memory adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from store.memory import MemoryStore
from store.models import AgentCommand
from store.port import AgentCommands, NotFound
from tests.contract.test_contract_store import _sql_store


@pytest.fixture(params=["postgresql", "sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[AgentCommands]:
    if request.param == "memory":
        yield MemoryStore()
        return
    s = await _sql_store(request.param, request, tmp_path)
    if request.param == "postgresql":  # (the session's database is shared by the tests)
        await s._db.execute("TRUNCATE agent_commands RESTART IDENTITY")
    try:
        yield s
    finally:
        await s.close()


def kept(request_id: str, at: float = 100.0, agent_id: str = "agent01", **body: Any) -> AgentCommand:
    return AgentCommand(request_id, agent_id, {"action": "available", **body}, created_at=at)


async def test_a_kept_command_round_trips_and_waits_for_its_answer(store: AgentCommands) -> None:
    row = AgentCommand(
        "r-1",
        "agent01",
        {"action": "blind_transfer", "call_id": "c1", "target_kind": "queue", "target": "billing"},
        created_at=1_700_000_000.25,
    )
    assert await store.put_command(row) == row
    assert await store.get_command("r-1") == row
    assert await store.pending_commands() == [row]
    assert (row.state, row.error, row.answered_at, row.action) == ("pending", "", 0.0, "blind_transfer")


async def test_a_request_id_keeps_its_first_command(store: AgentCommands) -> None:
    first = kept("r-1", at=100.0)
    await store.put_command(first)
    again = AgentCommand("r-1", "agent02", {"action": "pause", "reason": "lunch"}, created_at=200.0, state="applied")
    assert await store.put_command(again) == first  # a retry (or a clash) finds the first row
    assert await store.get_command("r-1") == first
    assert await store.pending_commands() == [first]


async def test_pending_commands_come_in_the_order_they_were_kept(store: AgentCommands) -> None:
    # kept order, not the clocks' (two web processes' clocks may disagree) nor the ids'
    for request_id, at in (("r-c", 300.0), ("r-a", 100.0), ("r-b", 200.0), ("r-d", 50.0)):
        await store.put_command(kept(request_id, at=at))
    assert [c.request_id for c in await store.pending_commands()] == ["r-c", "r-a", "r-b", "r-d"]
    assert [c.request_id for c in await store.pending_commands(limit=2)] == ["r-c", "r-a"]
    await store.answer_command("r-a", "applied", "", 400.0)
    await store.answer_command("r-d", "expired", "too old", 400.0)
    assert [c.request_id for c in await store.pending_commands()] == ["r-c", "r-b"]


async def test_the_first_answer_stands(store: AgentCommands) -> None:
    await store.put_command(kept("r-1"))
    refused = await store.answer_command("r-1", "refused", "no call 'c1' for agent01", 101.5)
    assert (refused.state, refused.error, refused.answered_at) == ("refused", "no call 'c1' for agent01", 101.5)
    # a second answer (a duplicate wake-up, a restart's replay) changes nothing
    assert await store.answer_command("r-1", "applied", "", 102.0) == refused
    assert await store.get_command("r-1") == refused
    assert await store.pending_commands() == []
    with pytest.raises(NotFound):
        await store.answer_command("r-unknown", "applied", "", 102.0)
    with pytest.raises(NotFound):
        await store.get_command("r-unknown")
    await store.put_command(kept("r-2"))
    with pytest.raises(ValueError, match="state"):
        await store.answer_command("r-2", "done", "", 103.0)
    assert (await store.get_command("r-2")).state == "pending"


async def test_what_was_read_is_a_copy(store: AgentCommands) -> None:
    body = {"action": "wrap_up_done", "call_id": "c1", "disposition": "resolved", "notes": "ñ \N{SNOWMAN} done"}
    await store.put_command(AgentCommand("r-1", "agent01", body, created_at=1.0))
    body["notes"] = "changed by the caller"
    read = await store.get_command("r-1")
    assert read.body["notes"] == "ñ \N{SNOWMAN} done"
    read.body["notes"] = "changed by the reader"  # type: ignore[index]
    assert (await store.get_command("r-1")).body["notes"] == "ñ \N{SNOWMAN} done"


async def test_answered_commands_are_forgotten_after_a_while_pending_ones_never(store: AgentCommands) -> None:
    for request_id in ("old-applied", "old-refused", "new-applied", "old-pending"):
        await store.put_command(kept(request_id, at=10.0))
    await store.answer_command("old-applied", "applied", "", 100.0)
    await store.answer_command("old-refused", "refused", "no", 150.0)
    await store.answer_command("new-applied", "applied", "", 500.0)
    assert await store.forget_commands(answered_before=200.0) == 2
    with pytest.raises(NotFound):
        await store.get_command("old-applied")
    assert (await store.get_command("new-applied")).state == "applied"
    assert [c.request_id for c in await store.pending_commands()] == ["old-pending"]
    assert await store.forget_commands(answered_before=200.0) == 0
