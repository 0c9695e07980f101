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
the cache), p95_hourly_ms (the hourly report, ranges up to 31 days),
p95_week_ms/p95_month_ms, and render_p50_ms/render_p95_ms/page_bytes: the /reports
page of the whole range by day as a supervisor of every team gets it, GET through the
real web app (cti/server.py's composition root, on the same SQLite log, served over
HTTP on 127.0.0.1) with the warm day cache, `--repeat` times. The agents are users of
the directory (their names and teams: what the page shows and groups by) and the
scenario's queues are the queue settings, so the page's KPI settings are the bench's.
The range starts on Monday 2025-01-06 and must end before the last 62 real days (the
app's own warm-up job folds those, for every queue).
`--profile FILE` writes a cProfile of the timed page requests (the loop's thread:
the range's numpy sums run in a worker thread, timed by p95_ms).

    .venv/bin/python bench/bench_reports.py                       # 30 days -> bench/results/reports.json
    .venv/bin/python bench/bench_reports.py --quick               # 3 days -> bench/results/reports_quick.json
    .venv/bin/python bench/bench_reports.py --days 365 --calls-scale 0.01 --out bench/results/reports_year.json
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import re
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

import aiohttp  # noqa: E402
import structlog  # noqa: E402
from aiohttp import web  # noqa: E402

from config.schema import BusConfig, HotlineConfig, ServerConfig, StoreConfig  # noqa: E402
from cti.server import create_app  # noqa: E402
from events import AgentLoggedIn, AgentLoggedOut, CallQueued, Event  # noqa: E402
from reports.kpi import KpiConfig, batch_report  # noqa: E402
from reports.report_days import DAY_S, HOURLY_S, DayCache, day_start, range_report  # noqa: E402
from reports.report_warm import DAYS, closed_days, warm  # noqa: E402
from reports.web import REPORT_DAYS, kpi_config  # noqa: E402
from sim.model import CallCenterModel  # noqa: E402
from sim.run import load_rules_text  # noqa: E402
from sim.scenario import Scenario, load_scenario  # noqa: E402
from store import open_store  # noqa: E402
from store.models import User  # noqa: E402
from store.sql import SqlStore  # noqa: E402
from web.settings import validate_section  # noqa: E402

SCENARIO = ROOT / "config/examples/scenario-day.toml"
SUPERVISOR, PASSWORD = "sup", "bench-password"
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


async def seed_directory(store: SqlStore, sc: Scenario) -> dict[str, dict[str, object]]:
    """The agents as users (the page names them and groups them by team), a supervisor
    of every team, and the scenario's queues as the stored queue settings; returns them."""
    from argon2 import PasswordHasher

    teams = sc.teams()
    for group in sc.agents:
        for login in group.agent_ids():
            await store.put_user(User(login, f"Agent {login}", "agent", team=teams.get(login, "")))
    hashed = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    await store.put_user(
        User(SUPERVISOR, "Bench Supervisor", "supervisor", hashed, ",".join(sorted(set(teams.values()))))
    )
    queues = validate_section("queues", {q.name: {"sl_threshold_s": sc.kpi.sl_threshold_s} for q in sc.queues})
    await store.put_settings_version("queues", json.dumps(queues), author="bench")
    return queues


async def page_times(
    url: str, cache: DayCache, hourly: KpiConfig, query: str, repeat: int, profile: Path | None
) -> tuple[list[float], int, int]:
    """GET /reports?`query` `repeat` times through the web app, with `cache` as its day
    cache, once its own warm-up job is done (it folds the last DAYS real days, not the
    bench's); the times, the page's size in bytes and the days the requests folded."""
    config = HotlineConfig(
        store=StoreConfig(url=url), bus=BusConfig(url="memory://"), server=ServerConfig(session_secret="bench")
    )
    app = create_app(config)
    app[REPORT_DAYS] = cache  # (before start-up: the app is not frozen yet)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    try:
        queues = ("", *sorted(hourly.sl_thresholds))
        while not all(cache.cached(hourly, q, d) for q in queues for d in closed_days(time.time(), DAYS)):
            await asyncio.sleep(0.2)  # (the app's own warm-up round: not to be timed with the page)
        async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            login = await (await http.get("/login")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', login)
            assert token, "the login page has no CSRF token"
            form = {"login": SUPERVISOR, "password": PASSWORD, "csrf_token": token.group(1)}
            r = await http.post("/login", data=form, allow_redirects=False)
            assert r.status == 302, r.status

            async def page() -> bytes:
                async with http.get(f"/reports?{query}") as r:
                    body = await r.read()
                    assert r.status == 200, (r.status, body[:200])
                    return body

            size = len(await page())  # (the first: Jinja compiles the template)
            folded = cache.folded
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            times = await timed(repeat, page)
            if profiler:
                profiler.disable()
                profiler.dump_stats(str(profile))
            return times, size, cache.folded - folded
    finally:
        await runner.cleanup()


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
    first = date(2025, 1, 6)  # a Monday
    last = first + timedelta(days=args.days - 1)
    if last >= date.today() - timedelta(days=DAYS + 1):  # (its folds of 10,000 agents' days per queue: hours)
        raise SystemExit(f"--days: the range must end before the last {DAYS} days, which the web app's warm-up folds")
    sc = scaled(load_scenario(SCENARIO), args.agents, args.calls_scale)
    t0 = time.perf_counter()
    variants = await asyncio.gather(
        *(asyncio.to_thread(simulate_day, sc, n + 1, LOADS[n % len(LOADS)]) for n in range(args.variants))
    )
    sim_s = time.perf_counter() - t0
    start, end = day_start(first), day_start(last + timedelta(days=1))
    now = end + DAY_S
    out: dict[str, object] = {"bench": "reports", "source": f"simulator: {SCENARIO.name} scaled"}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        store = await open_store(StoreConfig(url=url))
        try:
            await store.migrate()
            # the KPI settings the web app makes of the directory and the queue settings
            cfg = replace((await kpi_config(store, await seed_directory(store, sc)))[0], interval_s=DAY_S)
            assert dict(cfg.teams) == sc.teams()
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
            query = f"from={first.isoformat()}&to={last.isoformat()}&interval={DAY_S}"
            hourly_cfg = replace(cfg, interval_s=HOURLY_S)
            renders, page_bytes, page_folded = await page_times(
                url, cache, hourly_cfg, query, args.repeat, args.profile
            )
            assert page_folded == 0, page_folded  # the page, too, from the bench's warm cache
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
            "render_p50_ms": round(statistics.median(renders), 1),
            "render_p95_ms": p95(renders),
            "page_bytes": page_bytes,
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
    parser.add_argument("--profile", type=Path, default=None, help="a cProfile of the page requests (pstats file)")
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
