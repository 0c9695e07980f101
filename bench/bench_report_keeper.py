"""The report keeper's cost (reports/report_keeper.py): a 10,000-agent center's day
logged hour by hour while the keeper follows the log, the day kept when it closes, and
a month of kept days read back by a web process that just started.

The day comes from the simulator as in bench/bench_reports.py (the 1,000-agent
multi-skill example scaled to `--agents`, its calls scaled by `--calls-scale`). It is
appended to a SQLite event log an hour at a time, and the keeper steps after each
hour (as it would every second, in bigger steps). Views: the center and the example's
five queues, all from one fold.

Prints one JSON line (and writes it to `--out`): events, agents, views,
keeper_us_per_event (the keeper's steps, log reads included, over the day's events),
keep_ms (the close: the views compacted, encoded and written), publish_ms (the open
day written for the other web processes, every 2 minutes live), publish_loop_ms (of
it, the CPU time of the event loop's thread: what the live call loop, in the same
process, waits behind), publish_block_ms (the longest the loop ran without letting
another task in during a publish: how late a call routed then is; publish_gc_ms, the
longest garbage collection meanwhile, is part of it), compact_view_ms (a view's
compaction in one call, the slowest view: what the loop did before the rows were
built in a worker thread) and place_view_ms (its half on the loop now), kept_kb_per_view,
rebuild_s (the same day rebuilt from the log, every view in one fold: the warm-up's
and `hotline db report-days`' cost per day), read_back_ms (a fresh process's first
report of `--days` kept days: every day read from the store) and p95_ms (the same
report afterwards, from memory), rss_mb.

    .venv/bin/python bench/bench_report_keeper.py            # -> bench/results/report_keeper.json
    .venv/bin/python bench/bench_report_keeper.py --quick    # 2,000 agents
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import resource
import sys
import tempfile
import time
from collections.abc import Coroutine, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import structlog  # noqa: E402
from bench_reports import SCENARIO, moved, p95, scaled, simulate_day, timed  # noqa: E402

from config.schema import StoreConfig  # noqa: E402
from reports.day_fold import DayParts  # noqa: E402
from reports.kpi import KpiConfig  # noqa: E402
from reports.report_days import HOURLY_S, LEAD_OUT_S, DayCache, day_rows, day_start, range_report  # noqa: E402
from reports.report_keeper import ReportKeeper  # noqa: E402
from reports.report_rebuild import rebuild_days  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from store import open_store  # noqa: E402
from store.report_day_rows import ReportDayRow  # noqa: E402

DAY = date(2026, 1, 5)


async def longest_block(work: Coroutine[Any, Any, None]) -> tuple[float, float]:
    """How long, at most, the loop ran other work between two turns of a task that
    only yields (s): the delay `work` adds to a task that is ready meanwhile; and the
    longest garbage collection meanwhile (any thread's: it stops them all)."""
    passes: list[float] = []

    def collected(phase: str, info: dict[str, int]) -> None:
        passes.append(time.perf_counter() if phase == "start" else time.perf_counter() - passes.pop())

    gc.callbacks.append(collected)
    task = asyncio.create_task(work)
    longest = 0.0
    t0 = time.perf_counter()
    try:
        while not task.done():
            await asyncio.sleep(0)
            t1 = time.perf_counter()
            longest, t0 = max(longest, t1 - t0), t1
        await task
    finally:
        gc.callbacks.remove(collected)
    return longest, max(passes, default=0.0)


def compaction_ms(cache: DayCache, parts: Mapping[str, DayParts]) -> tuple[float, float]:
    """The longest view's compaction in one call (all of it on the loop, before the
    split), and its half on the loop now (`DayCache.place`), in ms; garbage collection
    aside (publish_gc_ms: one pass can take longer than either)."""
    whole, placed = 0.0, 0.0
    gc.disable()
    try:
        for part in parts.values():
            t0 = time.perf_counter()
            cache.compact(part)
            whole = max(whole, time.perf_counter() - t0)
            rows = day_rows(part)
            t0 = time.perf_counter()
            cache.place(rows)
            placed = max(placed, time.perf_counter() - t0)
    finally:
        gc.enable()
    return whole * 1000, placed * 1000


async def run(args: argparse.Namespace) -> dict[str, object]:
    sc = scaled(load_scenario(SCENARIO), args.agents, args.calls_scale)
    events = moved(await asyncio.to_thread(simulate_day, sc, 1, 1.0), DAY, 0)
    queues = sorted({q.name for q in sc.queues})
    cfg = KpiConfig(
        sl_threshold_s=sc.kpi.sl_threshold_s,
        interval_s=HOURLY_S,
        teams=sc.teams(),
        sl_thresholds=dict.fromkeys(queues, sc.kpi.sl_threshold_s),
    )

    async def config() -> KpiConfig:
        return cfg

    clock = [day_start(DAY)]
    out: dict[str, object] = {"bench": "report_keeper", "source": f"simulator: {SCENARIO.name} scaled"}
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(StoreConfig(url=f"sqlite:///{tmp}/keeper.sqlite3"))
        try:
            await store.migrate()
            cache = DayCache(store=store)
            keeper = ReportKeeper(store, cache, config, lambda: clock[0])
            keeper.publish_every_s = math.inf  # (measured on its own below: every 2 minutes live, not every step)
            publish_ms = publish_loop_ms = block_s = gc_s = compact_ms = place_ms = 0.0
            stepping = 0.0
            at, end = day_start(DAY), day_start(DAY + timedelta(days=1)) + LEAD_OUT_S
            k = 0
            while at < end:
                hour = [e for e in events[k:] if e.at < at + 3600]  # type: ignore[attr-defined]
                k += len(hour)
                if hour:
                    await store.append_many(hour)
                at += 3600
                clock[0] = at
                if at >= end:
                    break
                t0 = time.perf_counter()
                await keeper.step()
                stepping += time.perf_counter() - t0
                if at == day_start(DAY) + 16 * 3600:  # the open day written once, mid-afternoon
                    t0, c0 = time.perf_counter(), time.thread_time()
                    await keeper.publish_open(at)
                    publish_ms = (time.perf_counter() - t0) * 1000
                    publish_loop_ms = (time.thread_time() - c0) * 1000
                    block_s, gc_s = await longest_block(keeper.publish_open(at))  # (written again)
                    assert keeper.fold is not None
                    parts = await asyncio.to_thread(keeper.fold.peek, DAY, at)
                    compact_ms, place_ms = compaction_ms(cache, parts)
            clock[0] = end + 1
            t0 = time.perf_counter()
            await keeper.step()
            keep_ms = (time.perf_counter() - t0) * 1000
            assert keeper.kept == 1 + len(queues), keeper.kept
            rows = await store.report_days(cache.settings(cfg), "", [DAY.isoformat()])
            sizes = [
                len(r.body)
                for v in ("", *queues)
                for r in (await store.report_days(cache.settings(cfg), v, [DAY.isoformat()])).values()
            ]
            t0 = time.perf_counter()
            await rebuild_days(store, cfg, DAY, DAY, clock[0])
            rebuild_s = time.perf_counter() - t0
            body = rows[DAY.isoformat()]
            for n in range(1, args.days):  # the same day kept again on the next days (a month of rows)
                copy = ReportDayRow((DAY + timedelta(days=n)).isoformat(), "", body.settings, body.events, body.body)
                await store.put_report_day(copy, 0.0)
            last = DAY + timedelta(days=args.days - 1)
            now = day_start(last + timedelta(days=2))
            fresh = DayCache(store=store)
            t0 = time.perf_counter()
            await range_report(store, fresh, cfg, DAY, last, "", now, "day")
            read_back_ms = (time.perf_counter() - t0) * 1000
            times = await timed(args.repeat, lambda: range_report(store, fresh, cfg, DAY, last, "", now, "day"))
            assert fresh.folded == 0 and fresh.loaded == args.days, (fresh.folded, fresh.loaded)
        finally:
            await store.close()
    out.update(
        {
            "events": len(events),
            "agents": sum(g.count for g in sc.agents),
            "calls_scale": args.calls_scale,
            "views": 1 + len(queues),
            "keeper_us_per_event": round(stepping / len(events) * 1e6, 1),
            "keep_ms": round(keep_ms),
            "publish_ms": round(publish_ms),
            "publish_loop_ms": round(publish_loop_ms),
            "publish_block_ms": round(block_s * 1000),
            "publish_gc_ms": round(gc_s * 1000),
            "compact_view_ms": round(compact_ms, 1),
            "place_view_ms": round(place_ms, 1),
            "kept_kb_per_view": round(sum(sizes) / len(sizes) / 1024),
            "rebuild_s": round(rebuild_s, 1),
            "days": args.days,
            "read_back_ms": round(read_back_ms),
            "p95_ms": p95(times),
            "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--calls-scale", type=float, default=0.03, help="1 = the example day's calls per agent")
    parser.add_argument("--days", type=int, default=30, help="kept days read back")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="default: bench/results/report_keeper.json")
    parser.add_argument("--quick", action="store_true", help="2,000 agents, 7 days")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.days, args.repeat = 2_000, 7, 3
    args.out = args.out or ROOT / f"bench/results/report_keeper{'_quick' if args.quick else ''}.json"
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    result = asyncio.run(run(args))
    line = json.dumps(result)
    print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(line + "\n")


if __name__ == "__main__":
    main()
