"""A leader whose live loop takes longer than a term to start (a cold build for thousands
of agents) keeps its term meanwhile: before, its first term ran out during the start, it
deposed itself at once, and every takeover started over (bench/bench_live_scale.py saw
39 terms in 5 minutes at 10,000 agents)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from config.schema import StoreConfig
from cti.leadership import Leadership
from store import open_store


class _Terms:
    def __init__(self, start_s: float = 0.0) -> None:
        self.start_s = start_s
        self.seen: list[str] = []

    async def elected(self, epoch: int) -> None:
        self.seen.append(f"elected {epoch}")
        await asyncio.sleep(self.start_s)  # the live loop's start
        self.seen.append(f"started {epoch}")

    async def deposed(self, reason: str) -> None:
        self.seen.append("deposed")


async def test_a_start_longer_than_a_term_keeps_the_term(tmp_path: Path) -> None:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/lease.sqlite3"))
    await store.migrate()
    slow, other = _Terms(start_s=2.0), _Terms()
    a = Leadership(store, on_elected=slow.elected, on_deposed=slow.deposed, ttl_s=0.6, renew_s=0.2, holder="a")
    b = Leadership(store, on_elected=other.elected, on_deposed=other.deposed, ttl_s=0.6, renew_s=0.2, holder="b")
    tasks = [asyncio.create_task(a.run())]
    try:
        for _ in range(200):
            if a.role == "leader":
                break
            await asyncio.sleep(0.01)
        tasks.append(asyncio.create_task(b.run()))  # a standby claiming all along
        for _ in range(200):  # (the start takes 2 s)
            if "started 1" in slow.seen:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.0)  # more terms, renewed by the claim loop now
        assert slow.seen == ["elected 1", "started 1"]  # never deposed during its start
        assert (a.role, a.epoch, a.fence()) == ("leader", 1, None)
        assert (b.role, b.leader, other.seen) == ("standby", "a", [])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()
