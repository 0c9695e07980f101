"""Reports over long ranges without refolding the raw event log on every request.

A report is the merge of one additive bucket set per local day (`kpi.batch_buckets`
of the day's events, with a lead-in so agents logged in before midnight are known and
a lead-out so calls offered before midnight finish). A closed day cannot change any
more (its lead-out is in the past), so its buckets are kept, keyed by the day, the
KPI settings and the queue filter: a year's report folds each day once, then merges
365 small bucket sets. Today (and a day whose lead-out is not over) is folded afresh.

Per day only the range-wide buckets and the per-interval buckets of the summary and
the queues are kept: agents and teams have totals, not interval series, in a report.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from events import CallQueued, Event, call_id_of
from reports.day_extras import Extras, day_extras, empty
from reports.day_extras import merge as merge_extras
from reports.kpi import KpiConfig, KpiReport, Totals, batch_buckets, merge_buckets, report_of_buckets
from store.port import EventLog

LEAD_IN_S = 86_400.0  # an agent's login up to a day before still counts (night shifts)
LEAD_OUT_S = 6 * 3600.0  # a call offered before midnight is followed this long after it
DAY_S = 86_400
HOURLY_S = 3600
EVENT_PAGE = 10_000
SERIES_DIMS = frozenset({"all", "queue", "outbound"})  # dims whose interval series a report shows

Buckets = dict[tuple[str, str, float | None], Totals]


@dataclass(frozen=True, slots=True)
class Day:
    """One day's buckets and how many events of the day (lead-in/out aside) it read."""

    buckets: Buckets
    events: int
    extras: Extras  # pauses by reason, dispositions, campaigns (reports/day_extras.py)


def day_start(day: date) -> float:
    return time.mktime(day.timetuple())


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def only_queue(events: list[Event], queue: str) -> list[Event]:
    """The events of calls that queued in `queue` (and every agent event)."""
    calls = {e.call_id for e in events if isinstance(e, CallQueued) and e.queue == queue}
    return [e for e in events if not call_id_of(e) or call_id_of(e) in calls]


def fold_day(events: Iterable[Event], cfg: KpiConfig, start: float, end: float, until: float) -> Day:
    """The buckets of calls offered in [start, end) and agent time in [start, until)."""
    events = list(events)
    buckets = batch_buckets(events, cfg, start, until, end_open=True)  # today: states open count up to now
    kept: Buckets = {k: t for k, t in buckets.items() if k[2] is None or k[0] in SERIES_DIMS}
    counted = sum(1 for e in events if start <= getattr(e, "at", 0.0) < end)
    return Day(kept, counted, day_extras(events, start, until))


def _by_day(buckets: Buckets, day: float) -> Buckets:
    """A day's buckets as one interval of a by-day report: its totals keyed by the day."""
    return {(dim, name, day): t for (dim, name, period), t in buckets.items() if period is None and dim in SERIES_DIMS}


class DayCache:
    """Closed days' buckets, least recently used first out."""

    def __init__(self, max_days: int = 4000) -> None:
        self._days: OrderedDict[str, Day] = OrderedDict()
        self._max = max_days
        self.folded = 0  # days folded from the raw log (for the tests and the benchmark)

    @staticmethod
    def key(cfg: KpiConfig, queue: str, day: date) -> str:
        return json.dumps([day.isoformat(), queue, cfg.echo(), sorted(cfg.teams.items())], sort_keys=True)

    def cached(self, cfg: KpiConfig, queue: str, day: date) -> bool:
        return self.key(cfg, queue, day) in self._days

    async def day(self, log: EventLog, cfg: KpiConfig, queue: str, day: date, now: float) -> Day:
        start, end = day_start(day), day_start(day + timedelta(days=1))
        key = self.key(cfg, queue, day)
        hit = self._days.get(key)
        if hit is not None:
            self._days.move_to_end(key)
            return hit
        until = min(end, now)
        events = [
            s.event async for s in log.iter_events(start - LEAD_IN_S, min(end + LEAD_OUT_S, now), page=EVENT_PAGE)
        ]
        # (the fold is pure CPU: in a thread, so the web process's loop still answers meanwhile)
        picked = only_queue(events, queue) if queue else events
        found = await asyncio.to_thread(fold_day, picked, cfg, start, end, until)
        self.folded += 1
        if end + LEAD_OUT_S <= now:  # closed: nothing can still change it
            self._days[key] = found
            while len(self._days) > self._max:
                self._days.popitem(last=False)
        return found


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
) -> RangeReport:
    """The report of the days first..last (an interval of a day: `cfg.interval_s` 86400
    gives one row per local day)."""
    merged: Buckets = {}
    extras = empty()
    events = 0
    by_day = cfg.interval_s == DAY_S
    found_days: list[tuple[float, Day]] = []
    # (a by-day report reads only each day's totals, the same whatever the interval: the
    # hourly days serve it, so one cached day, warmed ahead by reports/report_warm.py, serves both)
    day_cfg = replace(cfg, interval_s=HOURLY_S) if by_day else cfg
    for day in days(first, last):
        if day_start(day) > now:
            break
        found = await cache.day(log, day_cfg, queue, day, now)
        merge_buckets(merged, _by_day(found.buckets, day_start(day)) if by_day else found.buckets)
        if by_day:
            merge_buckets(merged, {k: t for k, t in found.buckets.items() if k[2] is None})
        merge_extras(extras, found.extras)
        events += found.events
        found_days.append((day_start(day), found))
    start, end = day_start(first), min(day_start(last + timedelta(days=1)), max(now, day_start(first)))
    return RangeReport(report_of_buckets(merged, cfg, start, end), events, extras, found_days)
