"""One contract suite over the leader lease (`store.port.LeaderLeases`): PostgreSQL
(asyncpg), SQLite and the in-memory adapter. The lease elects the one `hotline serve`
that runs the live loop (cti/leadership.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from store.memory import MemoryStore
from store.port import LeaderLeases
from tests.contract.test_contract_store import _sql_store


@pytest.fixture(params=["postgresql", "sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[LeaderLeases]:
    if request.param == "memory":
        yield MemoryStore()
        return
    s = await _sql_store(request.param, request, tmp_path)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def name() -> str:  # (the session's PostgreSQL database is shared by the tests)
    return f"live-{uuid.uuid4().hex[:8]}"


async def test_the_first_claim_takes_the_lease_and_a_second_holder_waits(store: LeaderLeases, name: str) -> None:
    first = await store.claim_lease(name, "a", 5.0)
    assert first.held_by("a") and first.epoch == 1
    assert 4.5 < first.expires_at - first.now <= 5.0
    other = await store.claim_lease(name, "b", 5.0)
    assert other.holder == "a" and not other.held_by("b") and other.epoch == 1
    assert await store.current_lease(name) is not None


async def test_the_holder_renews_in_the_same_term(store: LeaderLeases, name: str) -> None:
    first = await store.claim_lease(name, "a", 5.0)
    await asyncio.sleep(0.05)
    again = await store.claim_lease(name, "a", 5.0)
    assert again.held_by("a") and again.epoch == first.epoch
    assert again.acquired_at == first.acquired_at and again.expires_at > first.expires_at


async def test_a_lease_that_ran_out_changes_hands_in_a_new_term(store: LeaderLeases, name: str) -> None:
    await store.claim_lease(name, "a", 0.2)
    await asyncio.sleep(0.3)
    taken = await store.claim_lease(name, "b", 5.0)
    assert taken.held_by("b") and taken.epoch == 2
    late = await store.claim_lease(name, "a", 5.0)  # the old holder, back: refused
    assert not late.held_by("a") and late.holder == "b" and late.epoch == 2


async def test_a_holder_back_after_its_lease_ran_out_starts_a_new_term(store: LeaderLeases, name: str) -> None:
    # (it stopped acting when its lease ran out: what it does now is a new term's)
    await store.claim_lease(name, "a", 0.2)
    await asyncio.sleep(0.3)
    back = await store.claim_lease(name, "a", 5.0)
    assert back.held_by("a") and back.epoch == 2


async def test_a_released_lease_is_taken_at_once(store: LeaderLeases, name: str) -> None:
    await store.claim_lease(name, "a", 30.0)
    await store.release_lease(name, "b")  # not b's to release
    assert not (await store.claim_lease(name, "b", 5.0)).held_by("b")
    await store.release_lease(name, "a")
    taken = await store.claim_lease(name, "b", 5.0)
    assert taken.held_by("b") and taken.epoch == 2


async def test_claims_racing_elect_one_holder(store: LeaderLeases, name: str) -> None:
    leases = await asyncio.gather(*(store.claim_lease(name, f"h{i}", 5.0) for i in range(8)))
    holders = {lease.holder for lease in leases}
    assert len(holders) == 1
    (holder,) = holders
    assert sum(lease.held_by(holder) for lease in leases) == 8 and {lease.epoch for lease in leases} == {1}


async def test_a_non_positive_ttl_is_refused(store: LeaderLeases, name: str) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        await store.claim_lease(name, "a", 0)
    assert await store.current_lease(name) is None
