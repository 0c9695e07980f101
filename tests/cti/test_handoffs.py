"""A standby's FastAGI hands its callers to the leader through the store
(cti/handoffs.py), on a real SQLite store: what the leader takes is what the IVR
submitted, a queued caller's session waits until the leader took it, and a call-back
request is a promise row before any leader takes it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.schema import StoreConfig
from cti.handoffs import StoreHandOff, take_handoffs, take_into
from cti.live_items import CallbackRequested, InboxItem, IvrHandOff
from events import CallQueued, IvrStepped
from store import SqlStore, open_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/handoffs.sqlite3"))
    await s.migrate()
    try:
        yield s
    finally:
        await s.close()


QUEUED = IvrHandOff(
    CallQueued(
        at=100.0,
        call_id="1700000000.1",
        queue="support",
        skills={"support": 1},
        priority=2,
        customer_id="cust-9",
        attributes={"language": "es", "ivr_path": ["main", "spanish"]},
    )
)
CALLBACK = CallbackRequested(
    call_id="1700000000.7",
    number="+15550100",
    queue="sales",
    skills={"sales": 2},
    priority=1,
    attributes={"language": "es"},
)


async def test_the_leader_takes_what_the_standbys_ivr_submitted_and_the_session_waits_for_it(store: SqlStore) -> None:
    got: list[InboxItem] = []
    leader = asyncio.create_task(take_handoffs(store, 5, got.append, lambda: None, every_s=0.01))
    try:
        hand = StoreHandOff(store, wait_s=5.0, poll_s=0.01)
        step = IvrStepped(at=99.0, call_id="1700000000.1", node="main", result="1")
        await hand(step)
        await asyncio.wait_for(hand(QUEUED), 5)
        assert got[:2] == [step, QUEUED]  # (taken before the session went on to the hold music)
        assert hand.health() == {"handed": 2, "not_taken": 0, "failed": 0}
    finally:
        leader.cancel()
        await asyncio.gather(leader, return_exceptions=True)


async def test_with_no_leader_the_session_goes_on_after_wait_s_and_the_next_leader_takes_it(store: SqlStore) -> None:
    hand = StoreHandOff(store, wait_s=0.2, poll_s=0.01)
    started = time.monotonic()
    await hand(QUEUED)
    assert 0.2 <= time.monotonic() - started < 2 and hand.unseen == 1
    got: list[InboxItem] = []
    assert await take_into(store, 6, got.append) == 1 and got == [QUEUED]
    assert await take_into(store, 7, got.append) == 0  # once


async def test_a_call_back_request_is_a_promise_row_before_any_leader_takes_it(store: SqlStore) -> None:
    hand = StoreHandOff(store, wait_s=0.05, poll_s=0.01)
    await hand(CALLBACK)
    (row,) = await store.open_callbacks()
    assert (row.id, row.call_id, row.number, row.queue, row.kind, row.state) == (
        "cb-1700000000.7",
        "1700000000.7",
        "+15550100",
        "sales",
        "virtual_hold",
        "pending",
    )
    assert row.attributes == {"language": "es"} and row.skills == {"sales": 2}
    got: list[InboxItem] = []
    await take_into(store, 3, got.append)
    assert got == [CALLBACK]
