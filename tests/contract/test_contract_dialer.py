"""One contract suite over the dialer's role ports (`DialerState`, `DoNotCallList`):
PostgreSQL (asyncpg), SQLite and the in-memory adapter. The last tests run parts of
it over deliberately broken adapters: the suite must catch each of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

import pytest

from store.memory import MemoryStore
from store.models import DncEntry, LeadRecord
from store.phones import InvalidPhone
from store.port import DialerState, DoNotCallList, NotFound
from tests.contract.test_contract_store import _sql_store

DIALER_TABLES = ("dialer_leads", "dnc")


class DialerPorts(DialerState, DoNotCallList, Protocol):
    """What every adapter implements."""


@pytest.fixture(params=["postgresql", "sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[DialerPorts]:
    if request.param == "memory":
        yield MemoryStore()
        return
    s = await _sql_store(request.param, request, tmp_path)
    if request.param == "postgresql":  # (the session's database is shared by the tests)
        await s._db.execute("TRUNCATE " + ", ".join(DIALER_TABLES))
    try:
        yield s
    finally:
        await s.close()


def lead(lead_id: str, campaign: str = "spring") -> LeadRecord:
    details = {"time_zones": ["America/New_York"], "first_name": "Ann", "priority": 2, "attributes": {"plan": "gold"}}
    return LeadRecord(campaign, lead_id, f"+1212736{int(lead_id[1:]):04d}", details=details)


async def test_leads_are_added_once_and_keep_their_stored_state(store: DialerPorts) -> None:
    assert await store.add_lead_states([lead("L1"), lead("L2"), lead("L1", campaign="autumn")]) == 3
    dialled = replace(lead("L1"), status="pending", attempts=2, next_at=1_000.5, last_outcome="busy", updated_at=990.0)
    await store.put_lead_states([dialled])
    # the lead list read again at start: the stored lead keeps its row, the new one is added
    assert await store.add_lead_states([lead("L1"), lead("L3")]) == 1
    rows = await store.lead_states("spring")
    assert [r.lead_id for r in rows] == ["L1", "L2", "L3"]
    assert rows[0] == dialled
    assert rows[1] == lead("L2") and rows[1].details["attributes"] == {"plan": "gold"}
    assert [r.lead_id for r in await store.lead_states("autumn")] == ["L1"]
    assert await store.lead_states("winter") == []
    assert await store.add_lead_states([]) == 0


async def test_every_field_of_a_lead_state_round_trips(store: DialerPorts) -> None:
    record = replace(
        lead("L7"),
        status="connected",
        attempts=3,
        cycle=1,
        next_at=1_234_567_890.25,
        last_outcome="human",
        disposition="callback",
        callback=True,
        call_id="1700000000.42",
        updated_at=1_234_567_891.5,
    )
    await store.put_lead_states([record])
    assert await store.get_lead_state("spring", "L7") == record
    await store.put_lead_states([replace(record, status="done", callback=False, call_id="")])
    again = await store.get_lead_state("spring", "L7")
    assert (again.status, again.callback, again.call_id, again.attempts) == ("done", False, "", 3)
    shown = replace(record, status="preview", call_id="pv-0123", offered_to="olga", callback=False)
    await store.put_lead_states([shown])  # a preview shown to olga, not dialled
    assert await store.get_lead_state("spring", "L7") == shown
    with pytest.raises(NotFound):
        await store.get_lead_state("spring", "L8")
    with pytest.raises(NotFound):
        await store.get_lead_state("autumn", "L7")


async def test_lead_batches_are_all_or_nothing(store: DialerPorts) -> None:
    bad = replace(lead("L2"), details={"not json": object()})
    with pytest.raises(TypeError):
        await store.put_lead_states([lead("L1"), bad])
    with pytest.raises(TypeError):
        await store.add_lead_states([lead("L1"), bad])
    assert await store.lead_states("spring") == []


async def test_what_is_read_back_is_a_copy(store: DialerPorts) -> None:
    await store.put_lead_states([lead("L1")])
    first = await store.get_lead_state("spring", "L1")
    first.details["attributes"]["plan"] = "changed"
    assert (await store.get_lead_state("spring", "L1")).details["attributes"] == {"plan": "gold"}
    assert (await store.lead_states("spring"))[0].details["attributes"] == {"plan": "gold"}


async def test_dnc_lists_global_and_per_campaign(store: DialerPorts) -> None:
    added = await store.add_dnc(
        [
            DncEntry("(212) 736-0001", "", "api", 100.0, "sup"),
            DncEntry("+1 212 736 0002", "spring", "disposition", 101.0, "olga"),
            DncEntry("12127360003", "autumn", "import:dnc.csv", 102.0, "cli"),
        ]
    )
    assert added == 3
    # listed again (another form of the same number): the first entry stays
    assert await store.add_dnc([DncEntry("+12127360001", "", "import:x.csv", 200.0, "cli")]) == 0
    assert await store.dnc_entries("") == [DncEntry("+12127360001", "", "api", 100.0, "sup")]
    assert await store.dnc_entries("spring") == [DncEntry("+12127360002", "spring", "disposition", 101.0, "olga")]
    everything = await store.dnc_entries()
    assert [(e.campaign, e.number) for e in everything] == [
        ("", "+12127360001"),
        ("autumn", "+12127360003"),
        ("spring", "+12127360002"),
    ]
    assert [e.campaign for e in await store.dnc_entries(number="2127360003")] == ["autumn"]
    assert await store.dnc_entries("spring", number="+12127360003") == []
    assert len(await store.dnc_entries(limit=2)) == 2

    numbers = ["+12127360001", "+12127360002", "+12127360003", "+12127360004"]
    assert await store.dnc_blocked(numbers, "spring") == {"+12127360001", "+12127360002"}
    assert await store.dnc_blocked(numbers, "autumn") == {"+12127360001", "+12127360003"}
    assert await store.dnc_blocked(["212-736-0002", "not a number"], "spring") == {"+12127360002"}
    assert await store.dnc_blocked([], "spring") == set()


async def test_dnc_remove_takes_one_list_entry(store: DialerPorts) -> None:
    await store.add_dnc([DncEntry("+12127360001", ""), DncEntry("+12127360001", "spring")])
    assert await store.remove_dnc("(212) 736-0001", "spring") is True
    assert await store.remove_dnc("+12127360001", "spring") is False
    assert await store.dnc_blocked(["+12127360001"], "spring") == {"+12127360001"}  # still global
    assert await store.remove_dnc("+12127360001") is True
    assert await store.dnc_blocked(["+12127360001"], "spring") == set()
    assert await store.dnc_entries() == []


async def test_dnc_batches_are_all_or_nothing_and_checked(store: DialerPorts) -> None:
    with pytest.raises(InvalidPhone):
        await store.add_dnc([DncEntry("+12127360001"), DncEntry("call me maybe")])
    assert await store.dnc_entries() == []
    assert await store.add_dnc([]) == 0


async def test_dnc_blocked_reads_many_numbers(store: DialerPorts) -> None:
    listed = [f"+1212736{n:04d}" for n in range(0, 1200, 3)]
    await store.add_dnc(DncEntry(n, "spring", "import", 1.0) for n in listed)
    asked = [f"+1212736{n:04d}" for n in range(1200)]
    assert await store.dnc_blocked(asked, "spring") == set(listed)
    assert await store.dnc_blocked(asked, "autumn") == set()


# ---------------------------------------------------------------- the suite can fail


class _ReimportResets(MemoryStore):
    """A lead list read again overwrites the stored state (the bug of issue 14)."""

    async def add_lead_states(self, records: Any) -> int:
        rows = list(records)
        await self.put_lead_states(rows)
        return len(rows)


class _GlobalOnly(MemoryStore):
    """Checks the global list only."""

    async def dnc_blocked(self, numbers: Any, campaign: str) -> set[str]:
        return await super().dnc_blocked(numbers, "")


class _RawNumbers(MemoryStore):
    """Keeps numbers as typed."""

    async def add_dnc(self, entries: Any) -> int:
        for e in entries:
            self._dnc[(e.campaign, e.number)] = e
        return 0


class _LastEntryWins(MemoryStore):
    async def add_dnc(self, entries: Any) -> int:
        rows = list(entries)
        for e in rows:
            await self.remove_dnc(e.number, e.campaign)
        return await super().add_dnc(rows)


class _SharedDetails(MemoryStore):
    async def get_lead_state(self, campaign: str, lead_id: str) -> LeadRecord:
        return self._leads[(campaign, lead_id)]


class _HalfALeadBatch(MemoryStore):
    async def put_lead_states(self, records: Any) -> None:
        for r in records:
            await super().put_lead_states([r])


BROKEN: list[tuple[type[MemoryStore], Callable[[Any], Awaitable[None]]]] = [
    (_ReimportResets, test_leads_are_added_once_and_keep_their_stored_state),
    (_GlobalOnly, test_dnc_lists_global_and_per_campaign),
    (_RawNumbers, test_dnc_lists_global_and_per_campaign),
    (_LastEntryWins, test_dnc_lists_global_and_per_campaign),
    (_SharedDetails, test_what_is_read_back_is_a_copy),
    (_HalfALeadBatch, test_lead_batches_are_all_or_nothing),
]


@pytest.mark.parametrize(("broken", "contract"), BROKEN, ids=[b.__name__.strip("_") for b, _ in BROKEN])
async def test_the_suite_catches_a_broken_adapter(
    broken: type[MemoryStore], contract: Callable[[Any], Awaitable[None]]
) -> None:
    await contract(MemoryStore())  # the sound adapter passes...
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        await contract(broken())  # ...and the broken one is caught
