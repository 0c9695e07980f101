"""The server's garbage collector paced for latency (issue 15: p99 offer).

CPython frees most objects by reference counting; its collector is only there to find
reference cycles, and a full (generation 2) collection walks every object the server
holds. With 10,000 agents (their records, the router's tables, calls, KPI buckets,
wallboard cells) one took 0.1-0.3 s on a quiet machine and up to 2.8 s under load, a
stop of the whole loop several times a minute (bench/bench_live_scale.py, 43 full
collections in 2 minutes): every call offered meanwhile waited for it.

Here:
- the young generations are collected every `YOUNG_THRESHOLD` allocations (the
  youngest) and every `MIDDLE_THRESHOLD` of those (the middle one), each walking only
  what is young: a collection every 50,000 allocations walked up to 500,000 objects at
  its middle-generation turn, 60-160 ms at 10,000 agents, and at every tenth of 5,000
  still 50-90 ms (bench_live_scale, 60 calls/s: a few ms now);
- the old generation is never collected by the collector's own count (`OLD_THRESHOLD`):
  20 s after start, and then every `freeze_every_s`, the young generations are collected
  and what survives is frozen (`gc.freeze`: out of the generations; still freed by
  reference counting when released);
- at `full_at` (local time, a quiet hour) the heap is unfrozen and collected once (its
  pause and what it freed are logged), then frozen again.

A reference cycle that becomes garbage once it is old waits for that daily collection.
The server makes almost none: with the collector off, a 10,000-agent run at 60 calls/s
left some 600 objects in cycles, all made at start (bench/stall_watch.py
`census_garbage`, BENCH_GARBAGE=FILE in bench_live_scale).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from aiohttp import web

from config.schema import HotlineConfig

log = structlog.get_logger()

YOUNG_THRESHOLD = 5_000  # allocations between young collections (CPython's default: 700)
MIDDLE_THRESHOLD = 2  # young collections between middle ones (CPython: 10; each walked 50-90 ms of survivors)
OLD_THRESHOLD = 1_000_000  # middle-generation collections between old ones: never, in a day


@dataclass(frozen=True, slots=True)
class GcPace:
    start_after_s: float = 20.0  # the first freeze: once the agents and the live loop are loaded
    freeze_every_s: float = 60.0
    full_at: str = "04:00"  # HH:MM local time: the daily full collection


def next_full(now: float, full_at: str) -> float:
    """The next `full_at` (HH:MM, local time) after `now`."""
    hour, minute = (int(part) for part in full_at.split(":"))
    at = datetime.fromtimestamp(now).replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at.timestamp() <= now:
        at += timedelta(days=1)
    return at.timestamp()


def freeze(full: bool = True) -> tuple[int, float]:
    """Collect what is not frozen yet (`full`; else the young generations only: a full
    walk of a minute's survivors at 60 calls/s took 0.1-0.2 s, and one at the first
    freeze found nothing in 0.2 s), then freeze the survivors: (objects freed, ms)."""
    began = time.perf_counter()
    found = gc.collect() if full else gc.collect(1)
    gc.freeze()
    return found, (time.perf_counter() - began) * 1000


def full_collection() -> tuple[int, float]:
    """Unfreeze, collect everything, freeze again: (objects freed, ms)."""
    began = time.perf_counter()
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    return found, (time.perf_counter() - began) * 1000


async def pace_gc(pace: GcPace, clock: Callable[[], float] = time.time) -> None:
    """Until cancelled (then the heap is unfrozen and the thresholds restored)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    try:
        await asyncio.sleep(pace.start_after_s)
        found, ms = freeze(full=False)
        log.info("gc_frozen", freed=found, took_ms=round(ms, 1), frozen=gc.get_freeze_count())
        full = next_full(clock(), pace.full_at)
        while True:
            await asyncio.sleep(pace.freeze_every_s)
            if clock() >= full:
                found, ms = full_collection()
                log.info("gc_full_collection", freed=found, took_ms=round(ms, 1), frozen=gc.get_freeze_count())
                full = next_full(clock(), pace.full_at)
            else:
                freeze(full=False)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def gc_pace(config: HotlineConfig) -> GcPace | None:
    """The pace `[server]` asks for (None: gc_pace = false)."""
    return GcPace(full_at=config.server.gc_full_at) if config.server.gc_pace else None


def pace_gc_in(app: web.Application, pace: GcPace | None) -> None:
    """Run `pace_gc` for the life of an aiohttp app (`hotline serve` only: a test
    process holding many apps keeps its collector as it is). None: leave it alone."""
    if pace is None:
        return

    async def pacing(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(pace_gc(pace), name="gc-pacer")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    app.cleanup_ctx.append(pacing)
