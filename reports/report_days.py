"""Reports over long ranges without refolding the raw event log on every request.

A report is the sum of one additive bucket set per local day, for the whole center or
one queue (a *view*), as reports/day_fold.py folds them: the report keeper as events
are logged (reports/report_keeper.py), or a rebuild of the day from the log with a
lead-in (agents logged in before midnight) and a lead-out (calls offered before
midnight followed 6 h). A closed day (its lead-out over) cannot change any more: it is
kept, keyed by the day, the KPI settings and the view, in this process's memory and in
the store's report_days rows, so a year's report adds 365 small tables (reports/
day_table.py: numpy rows, not Python objects: a year of a 10,000-agent center is 3.6
million agent-day buckets). A day still open comes from the keeper: its fold in its own
process, the rows it writes every 2 minutes in the others; else it is folded afresh.

Per day only the range-wide buckets and the per-interval buckets of the summary and
the queues are kept: agents and teams have totals, not interval series, in a report.
A report by day, week or month reads only the days' totals (`heads`), whatever the
interval they were folded with: the hourly days serve all three.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import structlog

from events import Event
from reports import day_codec
from reports.day_extras import Extras, empty
from reports.day_fold import SERIES_DIMS, DayParts, day_start, rebuild
from reports.day_table import Keys, Rows, Table, Values, add_up
from reports.kpi import (
    TOTALS_FIELDS,
    KpiConfig,
    KpiReport,
    Totals,
    merge_buckets,
    metrics_rows,
    report_of_buckets,
)
from store.port import EventLog
from store.report_day_rows import ReportDayRow, ReportDayRows

log = structlog.get_logger()

LEAD_IN_S = 86_400.0  # an agent's login up to a day before still counts (night shifts)
LEAD_OUT_S = 6 * 3600.0  # a call offered before midnight is followed this long after it
DAY_S = 86_400
HOURLY_S = 3600
EVENT_PAGE = 10_000
OPEN = ":open"  # the settings' suffix of the rows of a day still open (`DayCache.publish_open`)
OPEN_MAX_AGE_S = 600.0  # such a row older than this is not used (its keeper stopped): the day is folded
PERIODS = ("day", "week", "month")  # the report intervals made of whole days
WIDTH = len(TOTALS_FIELDS)
MAX_COL = TOTALS_FIELDS.index("max_wait")

Buckets = dict[tuple[str, str, float | None], Totals]


@dataclass(frozen=True, slots=True)
class Day:
    """One day's buckets and how many events of the day (lead-in/out aside) it read."""

    totals: Table  # every bucket of the whole day (period None): summary, queues, teams, agents
    series: Table  # the per-interval buckets of SERIES_DIMS
    heads: Buckets  # the SERIES_DIMS totals again: the day's row in a by-day/week/month report
    events: int
    extras: Table  # pauses by reason, dispositions, campaigns (reports/day_extras.py), flattened
    keys: Keys  # the row numbers `totals` uses

    @property
    def nbytes(self) -> int:
        return sum(t.ids.nbytes + t.values.nbytes for t in (self.totals, self.series, self.extras))

    def bucket(self, key: tuple[str, str, None]) -> Totals | None:
        """One of the day's totals (an agent's day in the agent drill-down)."""
        row = self.totals.row(self.keys.id_of(key))
        return None if row is None else Totals.of_row(row.tolist())


@dataclass(frozen=True, slots=True)
class DayRows:
    """A view of a day as rows not numbered yet (`day_rows`, in any thread): the bulk of
    compacting a day, off the loop; `DayCache.place` numbers them on it."""

    totals: Rows
    series: Rows
    heads: list[tuple[int, Totals]]  # the SERIES_DIMS totals: their place in `totals.keys`, as `Totals`
    events: int
    extras: Rows


def day_rows(parts: DayParts) -> DayRows:
    """The view's buckets and extras as float64 rows (pure: touches no `Keys`)."""
    totals: dict[Hashable, list[float]] = {}
    series: dict[Hashable, list[float]] = {}
    for k, t in parts.buckets.items():
        if k[2] is None:
            totals[k] = t.as_row()
        elif k[0] in SERIES_DIMS:
            series[k] = t.as_row()
    flat = {(s, r, c): [v] for s, rows in parts.extras.items() for r, cols in rows.items() for c, v in cols.items()}
    whole = Rows.of(totals, WIDTH)
    picked = [j for j, k in enumerate(whole.keys) if k[0] in SERIES_DIMS]  # type: ignore[index]
    heads = [(j, Totals.of_row(row)) for j, row in zip(picked, whole.values[picked].tolist(), strict=True)]
    return DayRows(whole, Rows.of(series, WIDTH), heads, parts.events, Rows.of(flat, 1))


def is_closed(day: date, now: float) -> bool:
    """Whether the day's report can no longer change (its lead-out is over)."""
    return day_start(day + timedelta(days=1)) + LEAD_OUT_S <= now


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def period_of(day: date, by: str) -> date:
    """The first day of the report row `day` counts in (weeks start on Monday)."""
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


class DayCache:
    """Closed days' buckets, least recently used first out, in this process's memory
    and, given a `store`, in the store's report_days rows (folded once for every
    process and restart; a day missing from memory is read back from there)."""

    def __init__(self, max_days: int = 4000, store: ReportDayRows | None = None, max_mb: float = 1024.0) -> None:
        self._days: OrderedDict[str, Day] = OrderedDict()
        self._max = max_days
        self._max_bytes = max_mb * 1e6
        self._bytes = 0
        self.store = store
        self.keys = Keys()  # bucket keys' row numbers, shared by every day
        self.extra_keys = Keys()  # (section, row, column) of the extras
        self.folded = 0  # days folded from the raw log (for the tests and the benchmark)
        self.loaded = 0  # days read back from the store
        # today's views from the report keeper in this process (reports/report_keeper.py), if any
        self.live: Callable[[KpiConfig, str, date, float], Awaitable[DayParts | None]] | None = None
        self._cfg: KpiConfig | None = None
        self._cfg_key = ""
        self._settings = ""

    def key(self, cfg: KpiConfig, queue: str, day: date) -> str:
        return f"{day.isoformat()} {queue!r} {self.settings(cfg)}"

    def settings(self, cfg: KpiConfig) -> str:
        """A digest of what a day's buckets depend on (thresholds, teams...): the store's key."""
        last = self._cfg
        if cfg is last:
            return self._settings
        # (each request makes its own KpiConfig: 10,000 agents' teams are compared, a
        # dictionary equality in C, and encoded again only when they changed)
        if last is None or cfg.echo() != last.echo() or cfg.teams != last.teams:
            self._cfg_key = json.dumps([cfg.echo(), sorted(cfg.teams.items())], sort_keys=True)
            self._settings = hashlib.sha256(self._cfg_key.encode()).hexdigest()[:40]
        self._cfg = cfg
        return self._settings

    def cached(self, cfg: KpiConfig, queue: str, day: date) -> bool:
        return self.key(cfg, queue, day) in self._days

    async def day(self, log: EventLog, cfg: KpiConfig, queue: str, day: date, now: float) -> Day:
        return (await self.days(log, cfg, queue, [day], now))[day]

    async def days(
        self, log: EventLog, cfg: KpiConfig, queue: str, wanted: Sequence[date], now: float
    ) -> dict[date, Day]:
        """The days' buckets: from memory, else the store (one query for all), else folded
        from the log (and kept, once closed)."""
        out: dict[date, Day] = {}
        for day in wanted:
            hit = self._days.get(self.key(cfg, queue, day))
            if hit is not None:
                self._days.move_to_end(self.key(cfg, queue, day))
                out[day] = hit
        missing = [d for d in wanted if d not in out and is_closed(d, now)]
        if missing and self.store is not None:
            out.update(await self._load(cfg, queue, missing))
        for day in wanted:
            if day not in out and self.live is not None and not is_closed(day, now):
                parts = await self.live(cfg, queue, day, now)
                if parts is not None:
                    out[day] = (await self.compact_off({queue: parts}))[queue]
        opened = [d for d in wanted if d not in out and not is_closed(d, now)]
        if opened and self.store is not None:
            out.update(await self._load(cfg, queue, opened, OPEN_MAX_AGE_S))
        for day in wanted:
            if day not in out:
                out[day] = (await self._fold(await self._read(log, day, now), cfg, [queue], day, now))[queue]
        return out

    async def fill(
        self,
        log: EventLog,
        cfg: KpiConfig,
        queues: Sequence[str],
        day: date,
        now: float,
        kept: Collection[tuple[str, str]] = (),
    ) -> int:
        """Fold the day for the whole center and for each of `queues` (a report's queue
        filter) not cached yet nor `kept` in the store ((day, view) pairs), reading its
        events once; how many were folded."""
        iso = day.isoformat()
        wanted = [q for q in ("", *queues) if not self.cached(cfg, q, day) and (iso, q) not in kept]
        if wanted:
            await self._fold(await self._read(log, day, now), cfg, wanted, day, now)
        return len(wanted)

    async def preload(self, cfg: KpiConfig, queue: str, wanted: Sequence[date]) -> int:
        """Read the kept days of `wanted` not in memory yet back from the store (a web
        process at start: its first long report then reads no row); how many."""
        missing = [d for d in wanted if not self.cached(cfg, queue, d)]
        return len(await self._load(cfg, queue, missing)) if missing and self.store is not None else 0

    async def _load(
        self, cfg: KpiConfig, queue: str, wanted: Sequence[date], open_max_age_s: float | None = None
    ) -> dict[date, Day]:
        """Closed days kept in the store; with `open_max_age_s`, days still open as the
        report keeper last wrote them, if it wrote them that recently (not remembered)."""
        assert self.store is not None
        settings = self.settings(cfg) + (OPEN if open_max_age_s is not None else "")
        rows = await self.store.report_days(settings, queue, [d.isoformat() for d in wanted])
        out: dict[date, Day] = {}
        for iso, row in rows.items():
            if open_max_age_s is not None and row.folded_at < time.time() - open_max_age_s:
                continue
            try:
                parsed = await asyncio.to_thread(day_codec.parse, row.body)
                totals, series, extras, events = day_codec.tables(parsed, self.keys, self.extra_keys, WIDTH)
            except ValueError as exc:  # (folded again below, and the row replaced)
                log.warning("report_day_unreadable", day=iso, view=queue, error=str(exc))
                continue
            day = date.fromisoformat(iso)
            found = self._day_of(totals, series, events, extras)
            if open_max_age_s is None:
                self._remember(self.key(cfg, queue, day), found)
            self.loaded += 1
            out[day] = found
        return out

    @staticmethod
    async def _read(log: EventLog, day: date, now: float) -> list[Event]:
        start, end = day_start(day), day_start(day + timedelta(days=1))
        return [s.event async for s in log.iter_events(start - LEAD_IN_S, min(end + LEAD_OUT_S, now), page=EVENT_PAGE)]

    async def _fold(
        self, events: list[Event], cfg: KpiConfig, views: Sequence[str], day: date, now: float
    ) -> dict[str, Day]:
        """The day's `views` rebuilt from its events (one fold for all), kept if closed."""
        # (the fold is pure CPU: in a thread, so the web process's loop still answers meanwhile)
        until = min(day_start(day + timedelta(days=1)), now)
        parts = await asyncio.to_thread(rebuild, events, cfg, views, day, until)
        self.folded += len(views)
        found = await self.compact_off({view: parts[view] for view in views})
        if is_closed(day, now):  # closed: nothing can still change it
            await self.keep(cfg, day, found)
        return found

    async def keep(self, cfg: KpiConfig, day: date, found: Mapping[str, Day]) -> None:
        """Remember a closed day's views, and keep them in the store (the rows the
        report keeper wrote while it was open go)."""
        for view, one in found.items():
            self._remember(self.key(cfg, view, day), one)
        await self._write(self.settings(cfg), day, found)
        if self.store is not None:
            await self.store.drop_report_day(self.settings(cfg) + OPEN, day.isoformat())

    async def publish_open(self, cfg: KpiConfig, day: date, found: Mapping[str, Day]) -> None:
        """Write a day still open as it stands (the report keeper, every few minutes), for
        the web processes that do not keep the days: their report of today reads it
        instead of folding the day from the log at each request."""
        await self._write(self.settings(cfg) + OPEN, day, found)

    async def _write(self, settings: str, day: date, found: Mapping[str, Day]) -> None:
        if self.store is None:
            return
        for view, one in found.items():
            body = await asyncio.to_thread(
                day_codec.encode, self.keys, self.extra_keys, one.totals, one.series, one.extras, one.events
            )
            await self.store.put_report_day(
                ReportDayRow(day.isoformat(), view, settings, one.events, body), time.time()
            )

    def _remember(self, key: str, found: Day) -> None:
        old = self._days.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._days[key] = found
        self._bytes += found.nbytes
        while len(self._days) > 1 and (len(self._days) > self._max or self._bytes > self._max_bytes):
            self._bytes -= self._days.popitem(last=False)[1].nbytes

    def compact(self, parts: DayParts) -> Day:
        """The day as tables (on the loop's thread: `Keys` is not shared between threads;
        from a coroutine, `compact_off` does the bulk of it in a worker thread)."""
        return self.place(day_rows(parts))

    async def compact_off(self, parts: Mapping[str, DayParts]) -> dict[str, Day]:
        """`compact` of each view, its rows built in a worker thread and only numbered on
        the loop (at 10,000 agents ~50-70 ms a view, of it ~10 left on the loop), one view a turn."""
        rows = await asyncio.to_thread(lambda: {view: day_rows(part) for view, part in parts.items()})
        found = {}
        for view, one in rows.items():
            found[view] = self.place(one)
            await asyncio.sleep(0)
        return found

    def place(self, rows: DayRows) -> Day:
        """The day's rows numbered into tables: the part of `compact` that must run on the
        loop's thread (the only one that gives keys row numbers)."""
        ids = self.keys.ids(rows.totals.keys)
        heads = sorted(rows.heads, key=lambda head: int(ids[head[0]]))  # (in row number order, as `_day_of`)
        return Day(
            Table.at(ids, rows.totals),
            Table.at(self.keys.ids(rows.series.keys), rows.series),
            {rows.totals.keys[j]: t for j, t in heads},  # type: ignore[misc]
            rows.events,
            Table.at(self.extra_keys.ids(rows.extras.keys), rows.extras),
            self.keys,
        )

    def _day_of(self, totals: Table, series: Table, counted: int, extras: Table) -> Day:
        keys = self.keys.keys
        ids = totals.ids.tolist()
        picked = [j for j, i in enumerate(ids) if keys[i][0] in SERIES_DIMS]  # type: ignore[index]
        heads: Buckets = {
            keys[ids[j]]: Totals.of_row(row)  # type: ignore[misc]
            for j, row in zip(picked, totals.values[picked].tolist(), strict=True)
        }
        return Day(totals, series, heads, counted, extras, self.keys)

    def add_up(self, tables: Iterable[Table]) -> tuple[Buckets, list[str], Values]:
        """The sum of `tables` (days' `totals` or `series`): its buckets but the agents'
        totals, and those as the agents' names and a table (no Python object per agent)."""
        keys = self.keys.keys
        ids, values = add_up(tables, len(keys), WIDTH, MAX_COL)
        found: list[tuple[str, str, float | None]] = [keys[i] for i in ids.tolist()]  # type: ignore[misc]
        agent = np.fromiter((k[0] == "agent" for k in found), dtype=bool, count=len(found))
        buckets = {found[i]: Totals.of_row(values[i].tolist()) for i in np.flatnonzero(~agent).tolist()}
        return buckets, [found[i][1] for i in np.flatnonzero(agent).tolist()], values[agent]

    def add_up_extras(self, tables: Iterable[Table]) -> Extras:
        keys = self.extra_keys.keys
        ids, values = add_up(tables, len(keys), 1)
        out = empty()
        for i, (value,) in zip(ids.tolist(), values.tolist(), strict=True):
            section, row, column = keys[i]  # type: ignore[misc]
            out.setdefault(section, {}).setdefault(row, {})[column] = value
        return out


@dataclass(frozen=True, slots=True)
class RangeReport:
    report: KpiReport
    events: int  # events of the range's days read (from the log or the cache)
    extras: Extras
    days: list[tuple[float, Day]]  # each day's start and buckets (drill-downs)


async def range_report(
    log: EventLog,
    cache: DayCache,
    cfg: KpiConfig,
    first: date,
    last: date,
    queue: str,
    now: float,
    by: str = "",
) -> RangeReport:
    """The report of the days first..last, its intervals `cfg.interval_s` long or, `by`
    "day", "week" or "month", one row per day, week (from Monday) or month (a
    `cfg.interval_s` of 86400 means by day)."""
    if by and by not in PERIODS:
        raise ValueError(f"by: one of {', '.join(PERIODS)}, not {by!r}")
    by = by or ("day" if cfg.interval_s == DAY_S else "")
    # (a report by periods reads only each day's totals, the same whatever the interval:
    # the hourly days serve it, so one cached day, warmed ahead by reports/report_warm.py, serves all)
    day_cfg = replace(cfg, interval_s=HOURLY_S) if by else cfg
    wanted = [d for d in days(first, last) if day_start(d) <= now]
    got = await cache.days(log, day_cfg, queue, wanted, now)
    found_days = [(day_start(d), got[d]) for d in wanted]
    start, end = day_start(first), min(day_start(last + timedelta(days=1)), max(now, day_start(first)))

    def build() -> tuple[KpiReport, Extras]:  # numpy adds and 10,000 agents' KPIs: off the loop
        tables = [d.totals for _, d in found_days]
        merged, agents, rows = cache.add_up(tables + ([] if by else [d.series for _, d in found_days]))
        for at, d in found_days if by else ():
            period = day_start(max(period_of(date.fromtimestamp(at), by), first))  # a part week/month: from `first`
            merge_buckets(merged, {(dim, name, period): t for (dim, name, _), t in d.heads.items()})
        report = report_of_buckets(merged, cfg, start, end)
        kpis = metrics_rows(rows, cfg)  # the agents' rows as report_of_buckets makes them (totals only)
        report.agents = {
            agents[i]: {"total": kpis[i], "intervals": []} for i in sorted(range(len(agents)), key=agents.__getitem__)
        }
        return report, cache.add_up_extras(d.extras for _, d in found_days)

    report, extras = await asyncio.to_thread(build)
    return RangeReport(report, sum(d.events for _, d in found_days), extras, found_days)
