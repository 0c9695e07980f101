"""CoalescedLookup over the real stores: lookups that overlap share one query, and each
caller gets what a lookup of its own would have given (customers, order, errors)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

from config.schema import StoreConfig
from cti.live_root import customer_lookup
from store import SqlStore, open_store
from store.models import Customer
from store.phone_lookups import CoalescedLookup
from store.phone_matches import PhoneMatches
from store.phones import InvalidPhone

CUSTOMERS = [
    Customer(id="b", name="B", phones=("4155550100", "4155550101")),
    Customer(id="a", name="A", phones=("4155550100",)),
    Customer(id="c", name="C", phones=("4155550101",)),
    Customer(id="d", name="D", phones=("4155550102",)),
]
PHONES = ["4155550100", "4155550101", "+1 (415) 555-0102", "4155550199", "4155550100"]


@pytest.fixture(params=["postgresql", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[SqlStore]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/s.sqlite3"
    s = await open_store(StoreConfig(url=url))
    await s.migrate()
    if request.param == "postgresql":
        await s._db.execute("TRUNCATE customer_phones, customers")
    await s.put_customers(CUSTOMERS)
    try:
        yield s
    finally:
        await s.close()


class Counted:
    """The store's own batch query, counted (each query's numbers kept)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.batches: list[list[str]] = []

    async def find_customers_by_phones(self, phones: Iterable[str]) -> dict[str, list[Customer]]:
        asked = list(phones)
        self.batches.append(asked)
        return await self.store.find_customers_by_phones(asked)


async def test_lookups_asked_together_share_one_query(store: SqlStore) -> None:
    counted = Counted(store)
    lookups = CoalescedLookup(counted)
    found = await asyncio.wait_for(asyncio.gather(*(lookups.find_customers_by_phone(p) for p in PHONES)), 5)
    assert found == [await store.find_customers_by_phone(p) for p in PHONES]
    assert [[c.id for c in f] for f in found] == [["a", "b"], ["c", "b"], ["d"], [], ["a", "b"]]
    assert found[0] is not found[4]  # the same number asked twice: a list each
    assert len(counted.batches) == 1 and sorted(counted.batches[0]) == sorted(set(PHONES))
    assert (lookups.queries, lookups.lookups) == (1, 5)


async def test_lookups_asked_during_a_query_go_together_in_the_next(store: SqlStore) -> None:
    counted = Counted(store)
    lookups = CoalescedLookup(counted)
    first = asyncio.create_task(lookups.find_customers_by_phone("4155550100"))
    while not counted.batches:  # the first query is under way
        await asyncio.sleep(0)
    later = [asyncio.create_task(lookups.find_customers_by_phone(p)) for p in PHONES[1:4]]
    gone = asyncio.create_task(lookups.find_customers_by_phone("4155550102"))
    await asyncio.sleep(0)
    gone.cancel()  # one waiter's own timeout: the others are still answered
    found = await asyncio.wait_for(asyncio.gather(first, *later), 5)
    assert [[c.id for c in f] for f in found] == [["a", "b"], ["c", "b"], ["d"], []]
    assert counted.batches == [["4155550100"], [*PHONES[1:4], "4155550102"]]
    # the lookup after that is sent at once, alone
    assert [c.id for c in await asyncio.wait_for(lookups.find_customers_by_phone("4155550102"), 5)] == ["d"]
    assert len(counted.batches) == 3


async def test_an_unreadable_number_fails_its_own_lookup_only(store: SqlStore) -> None:
    lookups = CoalescedLookup(store)
    asked = [lookups.find_customers_by_phone(p) for p in ("not a number", "4155550102")]
    bad, good = await asyncio.wait_for(asyncio.gather(*asked, return_exceptions=True), 5)
    assert isinstance(bad, InvalidPhone) and [c.id for c in good] == ["d"]


async def test_a_failing_store_fails_every_lookup_of_the_batch_and_the_next_goes_on(store: SqlStore) -> None:
    class Failing(Counted):
        async def find_customers_by_phones(self, phones: Iterable[str]) -> dict[str, list[Customer]]:
            if not self.batches:
                self.batches.append(list(phones))
                await self.store._db.fetch("SELECT * FROM no_such_table")
            return await super().find_customers_by_phones(phones)

    failing = Failing(store)
    lookups = CoalescedLookup(failing)
    asked = [lookups.find_customers_by_phone(p) for p in PHONES[:3]]
    outcomes = await asyncio.wait_for(asyncio.gather(*asked, return_exceptions=True), 5)
    assert all(isinstance(o, Exception) and not isinstance(o, InvalidPhone) for o in outcomes)
    assert [c.id for c in await asyncio.wait_for(lookups.find_customers_by_phone("4155550102"), 5)] == ["d"]


async def test_the_live_loops_lookup_notes_each_callers_customers(store: SqlStore) -> None:
    counted = Counted(store)
    matches = PhoneMatches()
    lookup = customer_lookup(CoalescedLookup(counted), matches)
    ids = await asyncio.wait_for(asyncio.gather(*(lookup(p) for p in [*PHONES, "not a number"])), 5)
    assert ids == ["a", "c", "d", "", "a", ""]
    assert len(counted.batches) == 1
    assert [c.id for c in matches.recent("4155550101") or ()] == ["c", "b"]
    assert matches.recent("4155550199") == () and matches.recent("not a number") is None
