"""The live loop's PostgreSQL round trips, one at a time and batched: this process's CPU
(user + system: asyncpg's encoding, the socket's write and read) per lookup, per
interaction row and per idle hand-off poll.

- lookups: `find_customers_by_phone` one by one, then `find_customers_by_phones` of k;
- interaction rows: `put_interaction` one by one, then `put_interactions` of k;
- hand-offs: `take_handoffs` with nothing pending (the leader's 20 polls a second),
  and the leader's taker idle: polling every 50 ms, or woken by NOTIFY (and polling
  every 0.5 s).

    .venv/bin/python bench/bench_pg_batching.py [--n 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from config.schema import StoreConfig
from cti.handoffs import take_handoffs
from store import SqlStore, open_store
from store.models import Customer, Interaction
from store.phone_lookups import CoalescedLookup

ADMIN = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def phone(n: int) -> str:
    return f"5554{n:06d}"  # bench_live_scale's callers


async def cpu_us(rounds: int, per_round: int, step: Callable[[int], Awaitable[object]]) -> float:
    """CPU microseconds of this process per item (`per_round` items a round)."""
    for r in range(min(rounds, 50)):  # warm: prepared statements, pool
        await step(r)
    started = time.process_time()
    for r in range(rounds):
        await step(r)
    return (time.process_time() - started) / (rounds * per_round) * 1e6


async def run(store: SqlStore, n: int, seconds: float = 5.0) -> dict[str, float]:
    await store.put_customers(Customer(id=f"c{i}", name=f"Caller {i}", phones=(phone(i),)) for i in range(n))
    out: dict[str, float] = {}
    out["lookup_single_us"] = await cpu_us(n, 1, lambda r: store.find_customers_by_phone(phone(r)))
    lookups = CoalescedLookup(store)  # one at a time, as the live loop asks: no batch forms
    out["lookup_coalesced_alone_us"] = await cpu_us(n, 1, lambda r: lookups.find_customers_by_phone(phone(r)))

    async def together(r: int, k: int = 8) -> object:
        return await asyncio.gather(*(lookups.find_customers_by_phone(phone(r * k + j)) for j in range(k)))

    out["lookup_coalesced_8_together_us"] = await cpu_us(n // 8, 8, together)
    for k in (2, 4, 8):
        out[f"lookup_batch{k}_us"] = await cpu_us(
            n // k, k, lambda r, k=k: store.find_customers_by_phones([phone(r * k + j) for j in range(k)])
        )

    def row(i: int) -> Interaction:
        return Interaction(id=f"i{i}", caller=phone(i), started_at=float(i), ended_at=i + 30.0, outcome="answered")

    out["row_single_us"] = await cpu_us(n, 1, lambda r: store.put_interaction(row(r)))
    for k in (2, 5, 20):
        out[f"row_batch{k}_us"] = await cpu_us(
            n // k, k, lambda r, k=k: store.put_interactions([row(r * k + j) for j in range(k)])
        )
    out["handoff_idle_poll_us"] = await cpu_us(n, 1, lambda r: store.take_handoffs(1))
    out["taker_idle_polling_cpu_ms_per_s"] = await idle_taker(NoWake(store), seconds)
    out["taker_idle_woken_cpu_ms_per_s"] = await idle_taker(store, seconds)
    return {k: round(v, 1) for k, v in out.items()}


class NoWake:
    """The store as one that cannot wake the taker (it polls every 50 ms)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def listen_handoffs(self, wake: Callable[[], None]) -> None:
        return None


async def idle_taker(store: Any, seconds: float) -> float:
    """CPU ms a second of the leader's hand-off taker with nothing handed off."""
    taker = asyncio.create_task(take_handoffs(store, 1, lambda item: None, lambda: None))
    await asyncio.sleep(0.5)  # listening
    started = time.process_time()
    await asyncio.sleep(seconds)
    used = time.process_time() - started
    taker.cancel()
    await asyncio.gather(taker, return_exceptions=True)
    return used / seconds * 1e3


async def main(n: int) -> dict[str, float]:
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        store = await open_store(StoreConfig(url=ADMIN.rsplit("/", 1)[0] + "/" + name))
        assert isinstance(store, SqlStore)
        await store.migrate()
        try:
            return await run(store, n)
        finally:
            await store.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    print(json.dumps(asyncio.run(main(ap.parse_args().n))))
