"""One contract suite over the customer chat's conversations (`store.chat_sessions`):
PostgreSQL (asyncpg), SQLite and the in-memory adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from store.chat_sessions import ChatSession, ChatSessions
from store.memory import MemoryStore
from store.port import Conflict
from tests.contract.test_contract_store import _sql_store


@pytest.fixture(params=["postgresql", "sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[ChatSessions]:
    if request.param == "memory":
        yield MemoryStore()
        return
    s = await _sql_store(request.param, request, tmp_path)
    if request.param == "postgresql":  # (the session's database is shared by the tests)
        await s._db.execute("TRUNCATE chat_sessions")
    try:
        yield s
    finally:
        await s.close()


def chat(n: int, **changes: Any) -> ChatSession:
    row = ChatSession(
        token_hash=f"h{n}",
        task_id=f"t{n}",
        queue="support",
        name="Ann <b>O'Neil</b>",
        email="ann@example.com",
        customer_id="C042",
        address="198.51.100.7",
        created_at=100.0 + n,
    )
    return replace(row, **changes)


async def test_a_conversation_round_trips_and_is_found_only_by_its_token_hash(store: ChatSessions) -> None:
    await store.add_chat_session(chat(1))
    assert await store.get_chat_session("h1") == chat(1)
    assert await store.get_chat_session("t1") is None
    with pytest.raises(Conflict):
        await store.add_chat_session(chat(1))
    with pytest.raises(Conflict):  # another token for the same task
        await store.add_chat_session(chat(1, token_hash="other"))


async def test_detach_and_return(store: ChatSessions) -> None:
    await store.add_chat_session(chat(1))
    await store.set_chat_detached("h1", 150.5)
    assert (await store.get_chat_session("h1")) == chat(1, detached_at=150.5)
    await store.set_chat_detached("h1", None)
    assert (await store.get_chat_session("h1")) == chat(1)


async def test_a_conversation_ends_exactly_once(store: ChatSessions) -> None:
    await store.add_chat_session(chat(1))
    ended = await store.end_chat_session("h1", 200.0, "customer_left")
    assert ended == chat(1, ended_at=200.0, end_reason="customer_left")
    assert await store.end_chat_session("h1", 201.0, "again") is None
    assert await store.get_chat_session("h1") == ended
    assert await store.end_chat_session("missing", 1.0, "x") is None


async def test_the_sweep_ends_only_pages_gone_long_enough_and_each_once(store: ChatSessions) -> None:
    for n in range(1, 5):
        await store.add_chat_session(chat(n))
    await store.set_chat_detached("h1", 110.0)
    await store.set_chat_detached("h2", 130.0)  # not long enough
    await store.set_chat_detached("h3", 105.0)
    await store.end_chat_session("h3", 106.0, "closed")  # already ended
    # h4: the page is there
    sweeps = await asyncio.gather(*(store.end_detached_chats(120.0, 121.0, "gone") for _ in range(3)))
    assert sorted(s.token_hash for sweep in sweeps for s in sweep) == ["h1"]
    assert (await store.get_chat_session("h1")) == chat(1, detached_at=110.0, ended_at=121.0, end_reason="gone")
    assert (await store.get_chat_session("h2")).ended_at is None  # type: ignore[union-attr]
    assert (await store.get_chat_session("h3")).end_reason == "closed"  # type: ignore[union-attr]
