"""Reports over a month: the main report (every day of the range, hourly or by day)
from the per-day bucket cache (reports/report_days.py) against refolding the raw event
log for the whole range (what /reports did before, at most 31 days).

A synthetic center (calls spread over 08:00-20:00, 10 % abandoned, agents logged in
for the day) is written to a SQLite event log; then the report of the whole range is
asked `--repeat` times. Prints one JSON line: events, days, agents, refold_ms (one
fold of the raw log), cold_ms (first report: every closed day folded once, in the
request), warm_job_s and warmed_first_ms (the background job folding the closed days,
then the first report after it), p95_ms (the report afterwards, from the cache).

    .venv/bin/python bench/bench_reports.py [--days 30] [--agents 100] [--calls-per-day 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.schema import StoreConfig  # noqa: E402
from events import (  # noqa: E402
    AgentLoggedIn,
    AgentLoggedOut,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallQueued,
    Event,
    WrapUpEnded,
)
from reports.kpi import KpiConfig, batch_report  # noqa: E402
from reports.report_days import DAY_S, DayCache, day_start, range_report  # noqa: E402
from reports.report_warm import warm  # noqa: E402
from store import open_store  # noqa: E402

QUEUES = ("billing", "support", "sales")


def day_events(day: date, agents: int, calls: int) -> list[Event]:
    base = day_start(day)
    out: list[Event] = [AgentLoggedIn(base + 8 * 3600 - 60, f"a{n:05d}") for n in range(agents)]
    span = 12 * 3600
    for i in range(calls):
        t = base + 8 * 3600 + span * i / calls
        cid, queue, agent = f"{day.isoformat()}-{i}", QUEUES[i % 3], f"a{i % agents:05d}"
        wait = (i * 7) % 60
        out.append(CallQueued(t, cid, queue=queue))
        if i % 10 == 9:
            out.append(CallAbandoned(t + wait, cid))
            continue
        talk = 120 + (i * 37) % 240
        out += [CallConnected(t + wait, cid, agent, queue), CallEnded(t + wait + talk, cid)]
        out.append(WrapUpEnded(t + wait + talk + 20, cid, agent))
    out += [AgentLoggedOut(base + 20 * 3600 + 1800, f"a{n:05d}") for n in range(agents)]
    return sorted(out, key=lambda e: e.at)  # type: ignore[attr-defined]


async def run(days: int, agents: int, calls: int, repeat: int, interval: int) -> dict[str, object]:
    first = date(2026, 1, 5)
    last = first + timedelta(days=days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(StoreConfig(url=f"sqlite:///{tmp}/bench.sqlite3"))
        try:
            await store.migrate()
            events = 0
            t0 = time.perf_counter()
            for n in range(days):
                batch = day_events(first + timedelta(days=n), agents, calls)
                for k in range(0, len(batch), 5000):
                    await store.append_many(batch[k : k + 5000])
                events += len(batch)
            load_s = time.perf_counter() - t0
            cfg = KpiConfig(interval_s=interval)
            start, end = day_start(first), day_start(last + timedelta(days=1))
            now = end + DAY_S
            t0 = time.perf_counter()
            raw = [s.event async for s in store.iter_events(start, end, page=10_000)]
            batch_report(raw, KpiConfig(interval_s=3600), start, end)
            refold_ms = (time.perf_counter() - t0) * 1000
            del raw
            cache = DayCache()
            t0 = time.perf_counter()
            await range_report(store, cache, cfg, first, last, "", now)
            cold_ms = (time.perf_counter() - t0) * 1000
            warmed = DayCache()  # the background job (reports/report_warm.py), then a first request
            t0 = time.perf_counter()
            await warm(store, warmed, cfg, now, back=days + 1)
            warm_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            await range_report(store, warmed, cfg, first, last, "", now)
            warmed_first_ms = (time.perf_counter() - t0) * 1000
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await range_report(store, cache, cfg, first, last, "", now)
                times.append((time.perf_counter() - t0) * 1000)
        finally:
            await store.close()
    times.sort()
    return {
        "bench": "reports",
        "events": events,
        "days": days,
        "agents": agents,
        "calls_per_day": calls,
        "interval_s": interval,
        "load_s": round(load_s, 1),
        "refold_ms": round(refold_ms),
        "cold_ms": round(cold_ms),
        "warm_job_s": round(warm_s, 1),
        "warmed_first_ms": round(warmed_first_ms, 1),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--calls-per-day", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--interval", type=int, default=DAY_S, help="report interval: 3600 (hourly) or 86400 (days)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.days, args.agents, args.calls_per_day, args.repeat, args.interval))))


if __name__ == "__main__":
    main()
