"""Phone lookups asked while one is under way share the next query.

A lookup of a caller's number is a round trip and asyncpg's per-query work (~150-200 us
of CPU; in a query of 8 numbers ~30-40 us a number, bench/bench_pg_batching.py). Here
a lookup with none under way is sent after one turn of the event loop (no timer:
~4 us; the lookups asked in that same turn join it); those asked while a query is
under way wait for it to end and then go together, as one `find_customers_by_phones`.
There is no background task: the caller whose query just ended hands the batch that
formed meanwhile to one of its waiting callers, who sends it.

Batches form where lookups overlap: the IVR's FastAGI sessions, and the live loop's
lookups, started as the calls' arrivals come in (cti/live_interactions.py
`look_ahead`), when calls arrive together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Protocol

from store.models import Customer
from store.phones import InvalidPhone


class PhonesDirectory(Protocol):
    async def find_customers_by_phones(self, phones: Iterable[str]) -> dict[str, list[Customer]]: ...


class PhoneLookup(Protocol):
    """What a lookup of one number needs: the store itself, or a `CoalescedLookup`."""

    async def find_customers_by_phone(self, phone: str) -> list[Customer]: ...


class LookupAbandoned(Exception):
    """The caller sending a batch was cancelled (its own timeout) before the answer."""


_YOUR_TURN = object()  # a waiter's result: send the batch that formed meanwhile


class CoalescedLookup:
    """`find_customers_by_phone` (the same answers, errors and order) with one query
    for the lookups that overlap. `queries` and `lookups` count what it did."""

    def __init__(self, directory: PhonesDirectory) -> None:
        self._directory = directory
        self._sending = False
        self._queued: dict[str, list[asyncio.Future[object]]] = {}
        self.queries = 0
        self.lookups = 0

    async def find_customers_by_phone(self, phone: str) -> list[Customer]:
        self.lookups += 1
        if self._sending:  # wait for the query under way, then go with the others
            waiter: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            self._queued.setdefault(phone, []).append(waiter)
            try:
                outcome = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.result() is _YOUR_TURN:
                    self._hand_over()  # cancelled as it was given the batch: to another
                raise
            if outcome is not _YOUR_TURN:
                return outcome  # type: ignore[return-value]  # a waiter's list of customers
        else:
            self._sending = True
            self._queued.setdefault(phone, [])  # ours: answered by the return
            try:
                await asyncio.sleep(0)  # the lookups asked in this same turn of the loop join
            except asyncio.CancelledError:
                self._hand_over()
                raise
        batch, self._queued = self._queued, {}
        return await self._send(phone, batch)

    async def _send(self, phone: str, batch: dict[str, list[asyncio.Future[object]]]) -> list[Customer]:
        """Query the batch's numbers, answer its waiters, return `phone`'s customers."""
        try:
            self.queries += 1
            found = await self._directory.find_customers_by_phones(list(batch))
        except Exception as exc:
            failure = exc  # each waiter gets the store's error (as its own query would)
            _answer(batch, lambda _: failure)
            raise
        except BaseException:  # cancelled (our caller's timeout): the others are told
            _answer(batch, lambda _: LookupAbandoned())
            raise
        finally:
            self._hand_over()
        _answer(batch, lambda p: list(found[p]) if p in found else InvalidPhone(p))
        if phone not in found:
            raise InvalidPhone(phone)
        return found[phone]

    def _hand_over(self) -> None:
        """The batch queued meanwhile to one of its waiters (who sends it), or done."""
        for waiters in self._queued.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(_YOUR_TURN)
                    return
        self._queued = {}  # every waiter gave up (or none came)
        self._sending = False


def _answer(batch: dict[str, list[asyncio.Future[object]]], outcome: Callable[[str], object]) -> None:
    """Each waiter not gone yet gets `outcome(its phone)`: a result, or an exception raised."""
    for phone, waiters in batch.items():
        for waiter in waiters:
            if waiter.done():
                continue
            result = outcome(phone)
            if isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)
