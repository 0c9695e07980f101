"""Reports over a month (or a year) of a 10,000-agent center: the main report of the
whole range from the per-day bucket cache (reports/report_days.py) against refolding
the raw event log (what /reports did before).

The events come from the simulator: the 1,000-agent multi-skill day of
config/examples/scenario-day.toml (five queues, five teams, an hourly profile, the real
router) with every agent group scaled to `--agents`, and its calls per hour scaled to
`--agents` too, then by `--calls-scale` (1 = the example's calls per agent: about
1 million calls a day for 10,000 agents, 8 million events; the default 0.03 keeps
10,000 agents logged in through the day with about 30,000 calls, 270,000 events a
day, so that a month loads in minutes). Simulating every day is too slow: `--variants`
distinct days are simulated (seeds 1, 2, ... and loads x1, x0.85, x1.15, ...) and tiled
over the range, each copy's times moved to its date and its call ids made its own;
agents still logged in at a simulated day's end log out then. The simulated days are
written to a SQLite event log with `append_many`, their copies inside the database
(INSERT ... SELECT with json_set: the same rows, moved); then the report of the whole
range is asked `--repeat` times.

Prints one JSON line (and writes it to `--out`): events, days, agents, calls_per_day,
refold_ms (one fold of the raw log of `refold_days` days: the request's cost per that
many days before the cache), cold_ms (the first report with an empty cache: every
day folded in the request; measured up to 31 days, beyond it is the warm job's work
again), warm_job_s and warmed_first_ms (the background job folding the closed days,
then the first report after it), p50_ms/p95_ms (the report by day afterwards, from
the cache), p95_hourly_ms (the hourly report, ranges up to 31 days), and
p95_week_ms/p95_month_ms.

    .venv/bin/python bench/bench_reports.py                       # 30 days -> bench/results/reports.json
    .venv/bin/python bench/bench_reports.py --quick               # 3 days -> bench/results/reports_quick.json
    .venv/bin/python bench/bench_reports.py --days 365 --calls-scale 0.01 --out bench/results/reports_year.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from config.schema import StoreConfig  # noqa: E402
from events import AgentLoggedIn, AgentLoggedOut, CallQueued, Event  # noqa: E402
from reports.kpi import KpiConfig, batch_report  # noqa: E402
from reports.report_days import DAY_S, HOURLY_S, DayCache, day_start, range_report  # noqa: E402
from reports.report_warm import warm  # noqa: E402
from sim.model import CallCenterModel  # noqa: E402
from sim.run import load_rules_text  # noqa: E402
from sim.scenario import Scenario, load_scenario  # noqa: E402
from store import open_store  # noqa: E402

SCENARIO = ROOT / "config/examples/scenario-day.toml"
LOADS = (1.0, 0.85, 1.15, 0.7, 1.3)  # the simulated days' loads, one per variant
COLD_MAX_DAYS = 31
CHUNK = 20_000
# a tiled day: a simulated day's rows moved by `shift` seconds, its call ids prefixed
COPY_DAY = """INSERT INTO events (at, kind, call_id, agent_id, payload, epoch)
SELECT at + $1, kind, CASE WHEN call_id = '' THEN '' ELSE $2 || call_id END, agent_id,
       CASE WHEN call_id = '' THEN json_set(payload, '$.at', at + $1)
            ELSE json_set(payload, '$.at', at + $1, '$.call_id', $2 || call_id) END,
       epoch
FROM events WHERE at >= $3 AND at < $4 ORDER BY seq"""


def scaled(sc: Scenario, agents: int, calls_scale: float) -> Scenario:
    """The example day with `agents` agents (each group scaled alike) and its calls per
    hour scaled by the agents and `calls_scale`."""
    base = sum(g.count for g in sc.agents)
    groups = tuple(replace(g, count=max(1, round(g.count * agents / base))) for g in sc.agents)
    factor = agents / base * calls_scale
    queues = tuple(replace(q, calls_per_hour=tuple(c * factor for c in q.calls_per_hour)) for q in sc.queues)
    return replace(sc, agents=groups, queues=queues)


def simulate_day(sc: Scenario, seed: int, load: float) -> list[Event]:
    """One simulated day through the real router, times in seconds from midnight; the
    agents still logged in at its end log out a second after its last event."""
    queues = tuple(replace(q, calls_per_hour=tuple(c * load for c in q.calls_per_hour)) for q in sc.queues)
    day = replace(sc, queues=queues)
    model = CallCenterModel(day, load_rules_text(sc.rules_text, sc.rules_filename), seed=seed)
    model.run()
    events: list[Event] = model.events  # type: ignore[assignment]
    logged: set[str] = set()
    for e in events:
        if isinstance(e, AgentLoggedIn):
            logged.add(e.agent_id)
        elif isinstance(e, AgentLoggedOut):
            logged.discard(e.agent_id)
    end = max(e.at for e in events) + 1  # type: ignore[attr-defined]
    return sorted(events + [AgentLoggedOut(end, a) for a in sorted(logged)], key=lambda e: e.at)  # type: ignore[attr-defined]


def moved(events: Sequence[Event], day: date, n: int) -> list[Event]:
    """A simulated day's events on `day`, its call ids made unique to copy `n`."""
    base = day_start(day)
    out: list[Event] = []
    for e in events:
        cid = getattr(e, "call_id", "")
        changes: dict[str, object] = {"at": base + e.at, "call_id": f"d{n}-{cid}"} if cid else {"at": base + e.at}
        out.append(replace(e, **changes))  # type: ignore[arg-type]
    return out


async def timed(repeat: int, ask: Callable[[], Awaitable[object]]) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await ask()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)


def p95(times: list[float]) -> float:
    return round(times[max(0, int(len(times) * 0.95) - 1)], 1)


async def run(args: argparse.Namespace) -> dict[str, object]:
    sc = scaled(load_scenario(SCENARIO), args.agents, args.calls_scale)
    t0 = time.perf_counter()
    variants = await asyncio.gather(
        *(asyncio.to_thread(simulate_day, sc, n + 1, LOADS[n % len(LOADS)]) for n in range(args.variants))
    )
    sim_s = time.perf_counter() - t0
    first = date(2026, 1, 5)
    last = first + timedelta(days=args.days - 1)
    cfg = KpiConfig(sl_threshold_s=sc.kpi.sl_threshold_s, interval_s=DAY_S, teams=sc.teams())
    start, end = day_start(first), day_start(last + timedelta(days=1))
    now = end + DAY_S
    out: dict[str, object] = {"bench": "reports", "source": f"simulator: {SCENARIO.name} scaled"}
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(StoreConfig(url=f"sqlite:///{tmp}/bench.sqlite3"))
        try:
            await store.migrate()
            events = 0
            t0 = time.perf_counter()
            for n in range(args.days):
                day, source = first + timedelta(days=n), first + timedelta(days=n % len(variants))
                if day == source:  # a simulated day: through the event log's own writes
                    batch = moved(variants[n], day, n)
                    for k in range(0, len(batch), CHUNK):
                        part = batch[k : k + CHUNK]
                        await store.append_many(part, [f"{n}:{k + i}" for i in range(len(part))])
                else:  # a copy of it: in the database (append_many's 15,000 events/s: 45 min for a year)
                    shift = day_start(day) - day_start(source)
                    bounds = (day_start(source), day_start(source + timedelta(days=1)))
                    await store._db.execute(COPY_DAY, shift, f"d{n}-", *bounds)
                events += len(variants[n % len(variants)])
            load_s = time.perf_counter() - t0
            calls = sum(1 for v in variants for e in v if isinstance(e, CallQueued)) / len(variants)
            del variants  # (the bench's own million events: every full GC pass of the timed reports walked them)
            gc.collect()
            refold_days = min(args.refold_days, args.days)
            refold_end = day_start(first + timedelta(days=refold_days))
            t0 = time.perf_counter()
            raw = [s.event async for s in store.iter_events(start, refold_end, page=10_000)]
            batch_report(raw, replace(cfg, interval_s=HOURLY_S), start, refold_end)
            refold_ms = (time.perf_counter() - t0) * 1000
            del raw
            cold_ms = None
            if args.days <= COLD_MAX_DAYS:
                t0 = time.perf_counter()
                await range_report(store, DayCache(), cfg, first, last, "", now)
                cold_ms = round((time.perf_counter() - t0) * 1000)
            cache = DayCache()  # the background job (reports/report_warm.py), then a first request
            t0 = time.perf_counter()
            await warm(store, cache, cfg, now, back=args.days + 1, queues=())
            warm_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            await range_report(store, cache, cfg, first, last, "", now)
            warmed_first_ms = (time.perf_counter() - t0) * 1000
            times = await timed(args.repeat, lambda: range_report(store, cache, cfg, first, last, "", now))
            weeks = await timed(args.repeat, lambda: range_report(store, cache, cfg, first, last, "", now, "week"))
            months = await timed(args.repeat, lambda: range_report(store, cache, cfg, first, last, "", now, "month"))
            hourly = None
            if args.days <= COLD_MAX_DAYS:
                hcfg = replace(cfg, interval_s=HOURLY_S)
                hourly = p95(await timed(args.repeat, lambda: range_report(store, cache, hcfg, first, last, "", now)))
            assert cache.folded == args.days, cache.folded  # every report above came from the cache
        finally:
            await store.close()
    out.update(
        {
            "events": events,
            "days": args.days,
            "agents": sum(g.count for g in sc.agents),
            "calls_per_day": round(calls),
            "calls_scale": args.calls_scale,
            "simulated_days": args.variants,
            "sim_s": round(sim_s, 1),
            "load_s": round(load_s, 1),
            "refold_days": refold_days,
            "refold_ms": round(refold_ms),
            "cold_ms": cold_ms,
            "warm_job_s": round(warm_s, 1),
            "warmed_first_ms": round(warmed_first_ms, 1),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": p95(times),
            "p95_hourly_ms": hourly,
            "p95_week_ms": p95(weeks),
            "p95_month_ms": p95(months),
        }
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--calls-scale", type=float, default=0.03, help="1 = the example day's calls per agent")
    parser.add_argument("--variants", type=int, default=3, help="distinct simulated days tiled over the range")
    parser.add_argument("--refold-days", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="default: bench/results/reports.json")
    parser.add_argument("--quick", action="store_true", help="3 days, 5 repeats (make bench BENCH_ARGS=--quick)")
    args = parser.parse_args()
    if args.quick:
        args.days, args.repeat = 3, 5
    args.out = args.out or ROOT / f"bench/results/reports{'_quick' if args.quick else ''}.json"
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # the router's info lines: off
    result = asyncio.run(run(args))
    line = json.dumps(result)
    print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(line + "\n")


if __name__ == "__main__":
    main()
