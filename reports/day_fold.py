"""Days' report buckets folded from events as they are logged: the one fold behind both
the report keeper (reports/report_keeper.py, which follows the event log and keeps
each day as it closes) and a day rebuilt from the log on demand (reports/report_days.py).

Events go in in log (sequence) order; the fold needs them in time order, so they wait
`settle_s` in a heap and leave it by (time, sequence): what a sort of the log would
give, unless an event is logged more than `settle_s` after its time. Facts
(reports/kpi_fold.py, the KPI semantics) are counted in the day of the call's offer
(call facts) or cut at midnight (agent time), once per *view*: the whole center ('')
and each queue filter. A queue's view counts the calls of its visits to that queue,
and every agent's time (an agent's time is theirs whatever queue they served). The
interval series are kept for the summary, queues and outbound only (SERIES_DIMS): a
report shows no agent's or team's intervals over days.

Each day also counts its extras (reports/day_extras.py): pauses by reason (every view),
dispositions by the queue of the call's last visit, campaigns by the queue their calls
queue in, and how many events of the day there were.

A day is *closed* with `close`: its agents' open states and pauses counted up to its
end, its buckets returned, and anything arriving later for it dropped; `peek` gives
a day still going on, open states counted up to now.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallQueued,
    DialerAttempted,
    DialerDropped,
    DialerResulted,
    Event,
    WrapUpEnded,
)
from reports.day_extras import CONTACTS, Extras, empty
from reports.kpi import Buckets, KpiConfig, Totals, add_agent_time, call_fact_keys, merge_buckets, tally
from reports.kpi_fold import Fact, KpiFold, Span

SERIES_DIMS = frozenset({"all", "queue", "outbound"})  # dims whose interval series a report shows
SETTLE_S = 30.0
CALL_MEMORY_S = 6 * 3600.0  # a call's queue is remembered this long for its wrap-ups' dispositions
PRUNE_EVERY_S = 3600.0


def day_start(day: date) -> float:
    return time.mktime(day.timetuple())


def day_of(at: float) -> date:
    return date.fromtimestamp(at)


@dataclass(frozen=True, slots=True)
class DayParts:
    """One view of one day: its buckets (whole day: period None; hourly or the fold's
    interval: SERIES_DIMS), how many events of the day were logged, its extras."""

    buckets: Buckets
    events: int
    extras: Extras


@dataclass(slots=True)
class _Day:
    start: float
    end: float
    calls: dict[str, Buckets]  # view -> call facts' buckets
    time: Buckets = field(default_factory=dict)  # agent time, every view's
    pauses: dict[str, dict[str, float]] = field(default_factory=dict)  # reason -> agent -> seconds
    dispositions: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # view -> ...
    campaigns: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # view -> ...
    events: int = 0


class DayFold:
    """Feed events with `feed(event, seq)`; `close` or `peek` a day."""

    def __init__(self, cfg: KpiConfig, views: Iterable[str], first: date, settle_s: float = SETTLE_S) -> None:
        self.cfg = cfg
        self.views = ("", *sorted({v for v in views if v}))
        self._queues = frozenset(self.views[1:])
        self.first = first  # facts of earlier days are dropped (a lead-in only tells who was logged in)
        self.settle_s = settle_s
        self._fold = KpiFold(self)
        self._days: dict[date, _Day] = {}
        self._closed: set[date] = set()
        self._heap: list[tuple[float, int, int, Event]] = []
        self._order = 0  # ties of (time, seq): the feed's order
        self._newest = -math.inf
        self.clock = -math.inf  # the time of the last event folded
        self._call_queue: dict[str, tuple[str, float]] = {}  # call -> (queue of its last visit, when)
        self._campaign_queue: dict[str, str] = {}
        self._paused: dict[str, tuple[str, float]] = {}  # agent -> (reason, since)
        self._pruned_at = -math.inf

    # ------------------------------------------------------------ input

    def feed(self, event: Event, seq: int = 0) -> None:
        at = float(getattr(event, "at", 0.0))
        self._order += 1
        heapq.heappush(self._heap, (at, seq, self._order, event))
        if at > self._newest:
            self._newest = at
        self.settle(self._newest - self.settle_s, inclusive=True)

    def settle(self, until: float, inclusive: bool = False) -> None:
        """Fold the waiting events before `until` (all of them: `math.inf`)."""
        heap = self._heap
        while heap and (heap[0][0] < until or (inclusive and heap[0][0] == until)):
            self._apply(heapq.heappop(heap)[3])

    def _apply(self, e: Event) -> None:
        at = e.at
        if at > self.clock:
            self.clock = at
            if at - self._pruned_at >= PRUNE_EVERY_S:
                self._prune(at)
        day = self._day(day_of(at))
        if day is not None:
            day.events += 1
        if isinstance(e, (AgentStateChanged, AgentLoggedIn, AgentLoggedOut)):
            self._end_pause(e.agent_id, at)
            if isinstance(e, AgentStateChanged) and e.state == "paused":
                self._paused[e.agent_id] = (e.reason, at)
        elif isinstance(e, CallQueued):
            self._call_queue[e.call_id] = (e.queue, at)
            campaign = e.attributes.get("campaign") if e.attributes else None
            if campaign:
                self._campaign_queue[str(campaign)] = e.queue
        elif day is not None and isinstance(e, WrapUpEnded):
            queue = self._call_queue.get(e.call_id, ("", 0.0))[0]
            for view in self._views_of(queue):
                row = day.dispositions.setdefault(view, {}).setdefault(e.disposition or "(none)", {})
                row[e.agent_id or "(queue)"] = row.get(e.agent_id or "(queue)", 0.0) + 1
        elif day is not None and isinstance(e, (DialerAttempted, DialerResulted, DialerDropped)):
            for view in self._views_of(self._campaign_queue.get(e.campaign, "")):
                row = day.campaigns.setdefault(view, {}).setdefault(e.campaign, {})
                for column in _campaign_columns(e):
                    row[column] = row.get(column, 0.0) + 1
        self._fold.apply(e)

    def _prune(self, now: float) -> None:
        """Forget the queues of calls queued more than CALL_MEMORY_S ago (a million calls a
        day would otherwise stay until their day closes); a wrap-up later than that
        counts in the center's dispositions only."""
        horizon = now - CALL_MEMORY_S
        self._call_queue = {c: q for c, q in self._call_queue.items() if q[1] >= horizon}
        self._pruned_at = now

    def _views_of(self, queue: str) -> tuple[str, ...]:
        return ("", queue) if queue in self._queues else ("",)

    def _day(self, day: date) -> _Day | None:
        found = self._days.get(day)
        if found is None:
            if day < self.first or day in self._closed:
                return None
            found = self._days[day] = _Day(
                day_start(day), day_start(day + timedelta(days=1)), {v: {} for v in self.views}
            )
        return found

    # ------------------------------------------------------------ facts

    def fact(self, f: Fact) -> None:
        if isinstance(f, Span):
            self._time(f.agent, f.state, f.start, f.end)
            return
        day = self._day(day_of(f.offered_at))
        if day is None:
            return
        cfg = self.cfg
        iv = math.floor(f.offered_at / cfg.interval_s) * cfg.interval_s
        keys = call_fact_keys(f, None, cfg) + [k for k in call_fact_keys(f, iv, cfg) if k[0] in SERIES_DIMS]
        threshold, short = cfg.threshold(f.queue), cfg.short_abandon_s
        for view in self._views_of(f.queue):
            buckets = day.calls[view]
            for key in keys:
                t = buckets.get(key)
                if t is None:
                    t = buckets[key] = Totals()
                tally(t, f, threshold, short)

    def _time(self, agent: str, state: str, start: float, end: float, days: Iterable[_Day] | None = None) -> None:
        """[start, end) of `state` in each day it crosses (or only `days`)."""
        for day, lo, hi in self._cut(start, end, days):
            add_agent_time(day.time, agent, state, lo, hi, self.cfg)

    def _cut(self, start: float, end: float, days: Iterable[_Day] | None) -> Iterable[tuple[_Day, float, float]]:
        if days is not None:
            for day in days:
                lo, hi = max(start, day.start), min(end, day.end)
                if hi > lo:
                    yield day, lo, hi
            return
        d = day_of(start)
        while day_start(d) < end:
            found = self._day(d)
            if found is not None:
                lo, hi = max(start, found.start), min(end, found.end)
                if hi > lo:
                    yield found, lo, hi
            d += timedelta(days=1)

    def _end_pause(self, agent: str, at: float, days: Iterable[_Day] | None = None) -> None:
        was = self._paused.pop(agent, None) if days is None else self._paused.get(agent)
        if was is None:
            return
        reason = was[0] or "(no reason)"
        for day, lo, hi in self._cut(was[1], at, days):
            row = day.pauses.setdefault(reason, {})
            row[agent] = row.get(agent, 0.0) + (hi - lo)

    # ------------------------------------------------------------ output

    @property
    def open_days(self) -> list[date]:
        return sorted(self._days)

    def peek(self, day: date, until: float, views: Iterable[str] | None = None) -> dict[str, DayParts]:
        """The day's views so far (or only `views`), agents' open states and pauses
        counted up to `until`; copies, the fold goes on without them."""
        wanted = self.views if views is None else tuple(views)
        found = self._days.get(day)
        if found is None:
            return {v: DayParts({}, 0, empty()) for v in wanted}
        view = _Day(
            found.start, min(found.end, until), {}, _copy(found.time), {r: dict(a) for r, a in found.pauses.items()}
        )
        self._open_time(view, until)
        return {v: self._parts(found, v, view) for v in wanted}

    def close(self, day: date, until: float | None = None) -> dict[str, DayParts]:
        """The day's views, agents' open states and pauses counted up to its end (or
        `until`, earlier); later facts of the day are dropped."""
        found = self._days.pop(day, None)
        self._closed.add(day)
        if found is None:
            return {v: DayParts({}, 0, empty()) for v in self.views}
        if until is not None:
            found.end = min(found.end, until)
        self._open_time(found, found.end)
        return {v: self._parts(found, v, found) for v in self.views}

    def _open_time(self, day: _Day, until: float) -> None:
        for agent, state, since in self._fold.open_states(until):
            self._time(agent, state, since, until, (day,))
        for agent in list(self._paused):
            self._end_pause(agent, until, (day,))

    def _parts(self, found: _Day, view: str, timed: _Day) -> DayParts:
        buckets = _copy(found.calls[view]) if timed is not found else found.calls[view]
        merge_buckets(buckets, timed.time)
        extras: Extras = {
            "pauses": {r: dict(a) for r, a in timed.pauses.items()},
            "dispositions": {r: dict(a) for r, a in found.dispositions.get(view, {}).items()},
            "campaigns": {r: dict(a) for r, a in found.campaigns.get(view, {}).items()},
        }
        return DayParts(buckets, found.events, extras)


def _copy(buckets: Buckets) -> Buckets:
    return {k: t.copy() for k, t in buckets.items()}


def _campaign_columns(e: Event) -> tuple[str, ...]:
    if isinstance(e, DialerAttempted):
        return ("dials",)
    if isinstance(e, DialerResulted):
        return (e.result, "contacts") if e.result in CONTACTS else (e.result,)
    return ("drops",)


def rebuild(
    events: Sequence[Event], cfg: KpiConfig, views: Iterable[str], day: date, until: float
) -> dict[str, DayParts]:
    """One day folded from the log's events (the day with a lead-in and a lead-out, in
    sequence order), every view at once; agent time and extras up to `until`."""
    fold = DayFold(cfg, views, day)
    for e in events:
        fold.feed(e)
    fold.settle(math.inf)
    return fold.close(day, until)
