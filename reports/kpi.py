"""KPI library: one set of definitions for the live wallboard,
the stored history and the simulator's output. Pure: no I/O, time passed in.

Two forms over the same facts (see `reports.kpi_fold` for what events mean):

- `KpiEngine` (incremental, live): `apply(event)` is O(1) per event (an agent state that
  ends also adds one step per interval boundary it spans and at most window_s/slot_s
  window slots); `report(now)` gives everything so far (O(buckets));
  `window(now)` gives the "last 30 minutes" (configurable) from a ring of 1-minute
  slots, so it costs O(slots + agents), not O(events); `live(now)` gives calls waiting,
  longest current wait and agents by state.
- `batch_report(events, config, start, end)` (history): folds a stored stream and
  aggregates per group.

`KpiEngine.report(now).to_dict() == batch_report(events, cfg, end=now).to_dict()` (up to
float rounding), and `KpiEngine.window(now)` equals `batch_report` over the window's
range — the tests check both with generated event streams.

Output: `KpiReport` (plain dataclass) / `to_dict()` (JSON-ready dicts and lists, None
where a ratio has no denominator) — what a web page renders.

Attribution: call metrics go to the interval (and window slot) in which the call was
offered, agent-time metrics are split at interval boundaries. Buckets: overall,
interval, queue, team (agent -> team mapping in the config) and agent, each also per
interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from reports.agent_slots import AgentSlots, OpenTime, SlotGroups
from reports.kpi_fold import (
    AGENT_STATES,
    CallFact,
    Fact,
    Handled,
    KpiFold,
    Offered,
    Outcome,
    Ring,
    Span,
    Transfer,
)

__all__ = [
    "INTERVALS",
    "TOTALS_FIELDS",
    "KpiConfig",
    "KpiEngine",
    "KpiReport",
    "Totals",
    "add_agent_time",
    "batch_buckets",
    "batch_report",
    "call_fact_keys",
    "merge_buckets",
    "metrics",
    "metrics_rows",
    "report_of_buckets",
    "tally",
]

INTERVALS = (900, 1800, 3600)

# A bucket: (dimension "all" | "queue" | "team" | "agent", its name ("" for "all"),
# interval start or None for the whole range).
BucketKey = tuple[str, str, float | None]


@dataclass(frozen=True)
class KpiConfig:
    """Thresholds and bucket sizes. `teams` maps agent id -> team name."""

    sl_threshold_s: float = 20.0
    short_abandon_s: float = 5.0
    interval_s: int = 900
    abandon_rate_excludes_short: bool = False
    window_s: int = 1800
    slot_s: int = 60
    teams: Mapping[str, str] = field(default_factory=dict)
    # a queue's own service-level threshold (else sl_threshold_s): the overall service
    # level counts each call answered within its own queue's threshold
    sl_thresholds: Mapping[str, float] = field(default_factory=dict)

    def threshold(self, queue: str) -> float:
        return self.sl_thresholds.get(queue, self.sl_threshold_s)

    def __post_init__(self) -> None:
        if not self.sl_threshold_s >= 0:
            raise ValueError(f"kpi.sl_threshold_s: must be >= 0, got {self.sl_threshold_s!r}")
        for queue, seconds in self.sl_thresholds.items():
            if not seconds >= 0:
                raise ValueError(f"kpi.sl_thresholds.{queue}: must be >= 0, got {seconds!r}")
        if not self.short_abandon_s >= 0:
            raise ValueError(f"kpi.short_abandon_s: must be >= 0, got {self.short_abandon_s!r}")
        if not (isinstance(self.interval_s, int) and self.interval_s > 0):
            raise ValueError(f"kpi.interval_s: must be a positive integer, got {self.interval_s!r}")
        if not (isinstance(self.slot_s, int) and self.slot_s > 0):
            raise ValueError(f"kpi.slot_s: must be a positive integer, got {self.slot_s!r}")
        if not (isinstance(self.window_s, int) and self.window_s >= self.slot_s and self.window_s % self.slot_s == 0):
            raise ValueError(f"kpi.window_s: must be a multiple of slot_s ({self.slot_s}), got {self.window_s!r}")

    def echo(self) -> dict[str, Any]:
        return {
            "sl_threshold_s": self.sl_threshold_s,
            "short_abandon_s": self.short_abandon_s,
            "interval_s": self.interval_s,
            "abandon_rate_excludes_short": self.abandon_rate_excludes_short,
            "window_s": self.window_s,
            **({"sl_thresholds": dict(self.sl_thresholds)} if self.sl_thresholds else {}),
        }


_FIELDS = (
    "offered", "answered", "abandoned", "deflected", "short_abandoned", "answered_within",
    "abandoned_within", "waited", "wait_answered", "wait_abandoned", "max_wait",
    "transferred", "handled", "talk", "hold", "wrap", "offers", "rona",
    "t_available", "t_reserved", "t_on_call", "t_wrap_up", "t_paused", "t_other",
)  # fmt: skip
TOTALS_FIELDS = _FIELDS  # a bucket's counters in a fixed order (the report day cache's table columns)


class Totals:
    """Additive counters of one bucket (max_wait merges by max)."""

    __slots__ = _FIELDS

    def __init__(self) -> None:
        self.offered = self.answered = self.abandoned = self.deflected = self.short_abandoned = 0.0
        self.answered_within = self.abandoned_within = self.waited = 0.0
        self.wait_answered = self.wait_abandoned = self.max_wait = 0.0
        self.transferred = self.handled = self.talk = self.hold = self.wrap = 0.0
        self.offers = self.rona = 0.0
        self.t_available = self.t_reserved = self.t_on_call = self.t_wrap_up = 0.0
        self.t_paused = self.t_other = 0.0

    def merge(self, other: Totals) -> None:
        for name in _FIELDS:
            if name == "max_wait":
                if other.max_wait > self.max_wait:
                    self.max_wait = other.max_wait
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def copy(self) -> Totals:
        t = Totals()
        t.merge(self)
        return t

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in _FIELDS}

    def as_row(self) -> list[float]:
        return [getattr(self, name) for name in _FIELDS]

    @classmethod
    def of_row(cls, row: Iterable[float]) -> Totals:
        """The inverse of `as_row`."""
        t = cls()
        for name, value in zip(_FIELDS, row, strict=True):
            setattr(t, name, value)
        return t


Buckets = dict[BucketKey, Totals]


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def metrics(t: Totals, cfg: KpiConfig) -> dict[str, Any]:
    """The KPIs of one bucket, JSON-ready (None when undefined)."""
    return _metrics(t, cfg, _ratio, int)


class _Columns:
    """A table's columns by counter name: `_metrics` reads them as it reads a Totals."""

    def __init__(self, values: npt.NDArray[np.float64]) -> None:
        for i, name in enumerate(_FIELDS):
            setattr(self, name, values[:, i])

    def __getattr__(self, name: str) -> npt.NDArray[np.float64]:  # (for the type checker: set in __init__)
        raise AttributeError(name)


def _ratio_column(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> list[float | None]:
    out = np.divide(a, b, out=np.full(len(b), np.nan), where=b > 0)
    return [None if v != v else v for v in out.tolist()]  # NaN: no denominator


def metrics_rows(values: npt.NDArray[np.float64], cfg: KpiConfig) -> list[dict[str, Any]]:
    """`metrics` of many buckets at once, one row of TOTALS_FIELDS each: the same
    formulas on numpy columns, so the same numbers, for 10,000 agents' totals."""
    columns = _metrics(_Columns(values), cfg, _ratio_column, lambda a: a.astype(np.int64))
    names = list(columns)
    lists = [v.tolist() if isinstance(v, np.ndarray) else v for v in columns.values()]
    return [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]


def _metrics(t: Any, cfg: KpiConfig, _ratio: Callable[[Any, Any], Any], int: Callable[[Any], Any]) -> dict[str, Any]:
    """The formulas, over one bucket's counters or over columns of them."""
    resolved = t.answered + t.abandoned
    excl = t.abandoned - t.short_abandoned
    handle = t.talk + t.hold + t.wrap
    working = t.t_available + t.t_reserved + t.t_on_call + t.t_wrap_up
    logged_in = working + t.t_paused + t.t_other
    if cfg.abandon_rate_excludes_short:
        abandon_rate = _ratio(excl, t.offered - t.short_abandoned)
    else:
        abandon_rate = _ratio(t.abandoned, t.offered)
    return {
        "offered": int(t.offered),
        "answered": int(t.answered),
        "abandoned": int(t.abandoned),
        # left the queue by design: a call-back taken, voicemail, a preview skipped
        "deflected": int(t.deflected),
        "short_abandoned": int(t.short_abandoned),
        "answered_within": int(t.answered_within),
        # answered within T / answered (Asterisk SL, Wazo QoS)
        "service_level": _ratio(t.answered_within, t.answered),
        # (answered + abandoned within T) / (answered + abandoned) (Asterisk SL2)
        "service_level_2": _ratio(t.answered_within + t.abandoned_within, resolved),
        # answered within T / (answered + abandoned - short abandons) ("80/20")
        "service_level_3": _ratio(t.answered_within, resolved - t.short_abandoned),
        # answered within T / offered
        "service_level_offered": _ratio(t.answered_within, t.offered),
        "p_wait": _ratio(t.waited, t.offered),
        "asa": _ratio(t.wait_answered, t.answered),
        "avg_wait": _ratio(t.wait_answered + t.wait_abandoned, resolved),
        "avg_abandon_wait": _ratio(t.wait_abandoned, t.abandoned),
        "max_wait": t.max_wait,
        "abandon_rate": abandon_rate,
        "transferred": int(t.transferred),
        "transfer_rate": _ratio(t.transferred, t.answered),
        "handled": int(t.handled),
        "aht": _ratio(handle, t.handled),
        "avg_talk": _ratio(t.talk, t.handled),
        "avg_hold": _ratio(t.hold, t.handled),
        "avg_wrap": _ratio(t.wrap, t.handled),
        "offers": int(t.offers),
        "rona": int(t.rona),
        "occupancy": _ratio(t.t_on_call + t.t_wrap_up, working),
        "utilization": _ratio(working, logged_in),
        "logged_in_s": logged_in,
        "available_s": t.t_available,
        "reserved_s": t.t_reserved,
        "on_call_s": t.t_on_call,
        "wrap_up_s": t.t_wrap_up,
        "paused_s": t.t_paused,
    }


# ---------------------------------------------------------------- attribution


def _call_deltas(f: CallFact, cfg: KpiConfig) -> tuple[tuple[str, float], ...]:
    if isinstance(f, Offered):
        return (("offered", 1.0),)
    if isinstance(f, Outcome):
        waited = 1.0 if f.wait > 0 else 0.0
        within = 1.0 if f.wait <= cfg.threshold(f.queue) else 0.0
        if f.deflected:
            return (("deflected", 1.0), ("waited", waited))
        if f.answered:
            return (("answered", 1.0), ("answered_within", within), ("waited", waited),
                    ("wait_answered", f.wait))  # fmt: skip
        short = 1.0 if f.wait < cfg.short_abandon_s else 0.0
        return (("abandoned", 1.0), ("short_abandoned", short), ("abandoned_within", within),
                ("waited", waited), ("wait_abandoned", f.wait))  # fmt: skip
    if isinstance(f, Transfer):
        return (("transferred", 1.0),)
    if isinstance(f, Ring):
        return (("rona", 1.0),) if f.rona else (("offers", 1.0),)
    if isinstance(f, Handled):
        return (("handled", 1.0), ("talk", f.talk), ("hold", f.hold), ("wrap", f.wrap))
    raise TypeError(f"not a call fact: {f!r}")


def _bump(t: Totals, f: CallFact, threshold: float, short: float) -> None:
    """Apply one call fact to one bucket (the incremental engine's hot path; the batch
    report sums `_call_deltas` instead, so the equality tests compare two codings)."""
    if isinstance(f, Offered):
        t.offered += 1.0
    elif isinstance(f, Outcome):
        w = f.wait
        if w > 0:
            t.waited += 1.0
        if f.deflected:
            t.deflected += 1.0
        elif f.answered:
            t.answered += 1.0
            t.wait_answered += w
            if w <= threshold:
                t.answered_within += 1.0
        else:
            t.abandoned += 1.0
            t.wait_abandoned += w
            if w < short:
                t.short_abandoned += 1.0
            if w <= threshold:
                t.abandoned_within += 1.0
        if w > t.max_wait:
            t.max_wait = w
    elif isinstance(f, Handled):
        t.handled += 1.0
        t.talk += f.talk
        t.hold += f.hold
        t.wrap += f.wrap
    elif isinstance(f, Ring):
        if f.rona:
            t.rona += 1.0
        else:
            t.offers += 1.0
    elif isinstance(f, Transfer):
        t.transferred += 1.0


_STATE_ATTR = {s: "t_" + s for s in AGENT_STATES}


def _floor(t: float, size: int) -> float:
    return math.floor(t / size) * size


def _pieces(start: float, end: float, size: int) -> Iterable[tuple[float, float]]:
    """(bucket_start, seconds) of [start, end) cut at multiples of size."""
    b = _floor(start, size)
    while b < end:
        nxt = b + size
        lo = start if start > b else b
        hi = end if end < nxt else nxt
        if hi > lo:
            yield b, hi - lo
        b = nxt


def _agent_keys(agent: str, period: float | None, cfg: KpiConfig) -> list[BucketKey]:
    keys: list[BucketKey] = [("agent", agent, period)]
    team = cfg.teams.get(agent)
    if team:
        keys.append(("team", team, period))
    return keys


def _add(bucket: Buckets, key: BucketKey, deltas: Iterable[tuple[str, float]]) -> None:
    t = bucket.get(key)
    if t is None:
        t = bucket[key] = Totals()
    for name, amount in deltas:
        if name == "max_wait":
            if amount > t.max_wait:
                t.max_wait = amount
        else:
            setattr(t, name, getattr(t, name) + amount)


def _add_time(bucket: Buckets, keys: Iterable[BucketKey], name: str, secs: float) -> None:
    """`secs` more of the time counter `name` in each of the keys' buckets."""
    for key in keys:
        t = bucket.get(key)
        if t is None:
            t = bucket[key] = Totals()
        setattr(t, name, getattr(t, name) + secs)


def _add_open_time(buckets: Buckets, acc: OpenTime) -> None:
    """The agents' open time (`_open_time`) on the overall and the teams' totals only,
    summed per state and team first: with 10,000 agents, one bucket update per agent and
    key was most of a wallboard push."""
    for (state, team), secs in acc.items():
        keys: list[BucketKey] = [("all", "", None), ("team", team, None)] if team else [("all", "", None)]
        _add_time(buckets, keys, _STATE_ATTR.get(state, "t_" + state), secs)


def call_fact_keys(f: CallFact, period: float | None, cfg: KpiConfig) -> list[BucketKey]:
    """The buckets a call fact counts in (the day fold's, reports/day_fold.py)."""
    return _call_fact_keys(f, period, cfg)


def tally(t: Totals, f: CallFact, threshold: float, short: float) -> None:
    """One call fact on one bucket (the incremental engine's and the day fold's)."""
    _bump(t, f, threshold, short)


def add_agent_time(buckets: Buckets, agent: str, state: str, start: float, end: float, cfg: KpiConfig) -> None:
    """[start, end) of `state` on the summary, the agent and their team (whole range) and
    on the summary's intervals: `batch_buckets` with interval_dims of the report days."""
    name, secs = "t_" + state, end - start
    _add(buckets, ("all", "", None), ((name, secs),))
    for key in _agent_keys(agent, None, cfg):
        _add(buckets, key, ((name, secs),))
    for iv, part in _pieces(start, end, cfg.interval_s):
        _add(buckets, ("all", "", iv), ((name, part),))


def _summary(f: CallFact) -> str:
    """The summary a call fact counts in: "all" (inbound: the headline and the intervals)
    or "outbound" (a campaign's call); its queue, agent and team count it either way."""
    return "outbound" if f.outbound else "all"


def _call_fact_keys(f: CallFact, period: float | None, cfg: KpiConfig) -> list[BucketKey]:
    keys: list[BucketKey] = [(_summary(f), "", period), ("queue", f.queue, period)]
    if f.outbound:
        keys.append(("outbound", f.queue, period))  # names the campaigns' queues
    agent = "" if isinstance(f, Offered) else f.agent
    if agent:
        keys.extend(_agent_keys(agent, period, cfg))
    return keys


def _with_max(f: Fact, deltas: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    if isinstance(f, Outcome):
        return (*deltas, ("max_wait", f.wait))
    return deltas


# ---------------------------------------------------------------- report


@dataclass
class KpiReport:
    """Plain result: every bucket's KPIs. `to_dict()` is the JSON/web form."""

    config: dict[str, Any]
    start: float | None
    end: float | None
    overall: dict[str, Any]
    intervals: list[dict[str, Any]]
    queues: dict[str, dict[str, Any]]
    teams: dict[str, dict[str, Any]]
    agents: dict[str, dict[str, Any]]
    # the campaigns' calls, kept out of `overall` and `intervals`: {"total", "queues": names}
    outbound: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "start": self.start,
            "end": self.end,
            "overall": self.overall,
            "intervals": self.intervals,
            "queues": self.queues,
            "teams": self.teams,
            "agents": self.agents,
            "outbound": self.outbound,
        }


def _build_report(
    buckets: Mapping[BucketKey, Totals],
    cfg: KpiConfig,
    start: float | None,
    end: float | None,
    with_intervals: bool = True,
) -> KpiReport:
    """Buckets of periods are read only `with_intervals`; a dimension without buckets
    (e.g. no agent keys: KpiEngine.report(agents=False)) is empty."""
    overall = metrics(buckets.get(("all", "", None)) or Totals(), cfg)
    intervals: dict[float, dict[str, Any]] = {}
    groups: dict[str, dict[str, dict[str, Any]]] = {"queue": {}, "team": {}, "agent": {}}
    outbound_queues = sorted({name for dim, name, _ in buckets if dim == "outbound" and name})
    outbound = {"total": metrics(buckets.get(("outbound", "", None)) or Totals(), cfg), "queues": outbound_queues}
    for (dim, name, period), tot in buckets.items():
        if dim == "outbound" or (period is not None and not with_intervals):
            continue
        m = metrics(tot, cfg)
        if dim == "all":
            if period is not None:
                intervals[period] = {"start": period, **m}
            continue
        g = groups[dim].setdefault(name, {"total": None, "intervals": {}})  # (no total: filled below)
        if period is None:
            g["total"] = m
        else:
            g["intervals"][period] = {"start": period, **m}

    def ordered(g: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        out = {}
        for name in sorted(g):
            entry = {"total": g[name]["total"] or metrics(Totals(), cfg)}
            if with_intervals:
                entry["intervals"] = [g[name]["intervals"][p] for p in sorted(g[name]["intervals"])]
            out[name] = entry
        return out

    return KpiReport(
        config=cfg.echo(),
        start=start,
        end=end,
        overall=overall,
        intervals=[intervals[p] for p in sorted(intervals)] if with_intervals else [],
        queues=ordered(groups["queue"]),
        teams=ordered(groups["team"]),
        agents=ordered(groups["agent"]),
        outbound=outbound,
    )


# ---------------------------------------------------------------- incremental


class KpiEngine:
    """Incremental KPIs for the live wallboard: feed every event with `apply`."""

    def __init__(
        self, config: KpiConfig | None = None, window: bool = True, on_agent: Callable[[str], None] | None = None
    ) -> None:
        """window=False skips the rolling "last 30 minutes" slots (for long offline runs);
        `on_agent` is told each agent whose state changed."""
        self.cfg = config or KpiConfig()
        self._window = window
        self._slots_now = AgentSlots(AGENT_STATES)
        self._slot_teams = SlotGroups(self.cfg.teams)
        self._fold = KpiFold(self, on_agent, self._slots_now)
        self._buckets: Buckets = {}
        # the whole-run, non-agent totals of `_buckets` (the same objects): what the live
        # wallboard's report reads, without a pass over every agent's interval buckets
        self._head: Buckets = {}
        # window ring: slot start -> {(dim, name, None): Totals}
        self._slots: dict[float, Buckets] = {}
        self._now = float("-inf")
        # the open time of the last push: ((now, the fold's agent changes, window start),
        # from the first event, from the window's start)
        self._open_memo: tuple[tuple[float, int, float], OpenTime, OpenTime] | None = None

    # FactSink
    def fact(self, f: Fact) -> None:
        cfg = self.cfg
        if isinstance(f, Span):
            self._span(f.agent, f.state, f.start, f.end, self._buckets, self._slots if self._window else None)
            return
        at = f.offered_at
        q = f.queue
        t_sl, t_short = cfg.threshold(q), cfg.short_abandon_s
        iv = math.floor(at / cfg.interval_s) * cfg.interval_s
        agent = "" if isinstance(f, Offered) else f.agent
        team = cfg.teams.get(agent) if agent else None
        dim = _summary(f)
        keys: list[BucketKey] = [(dim, "", None), (dim, "", iv), ("queue", q, None), ("queue", q, iv)]
        if f.outbound:
            keys += [("outbound", q, None), ("outbound", q, iv)]
        if agent:
            keys += [("agent", agent, None), ("agent", agent, iv)]
            if team:
                keys += [("team", team, None), ("team", team, iv)]
        b = self._buckets
        for key in keys:
            t = b.get(key)
            if t is None:
                t = b[key] = Totals()
                if key[2] is None and key[0] != "agent":
                    self._head[key] = t
            _bump(t, f, t_sl, t_short)
        if not self._window:
            return
        slot = math.floor(at / cfg.slot_s) * cfg.slot_s
        ring = self._slots.get(slot)
        if ring is None:
            if slot < self._oldest_slot():
                return  # older than any window we can still be asked for
            ring = self._slots[slot] = {}
        for key in keys[::2]:  # the whole-run keys (period None)
            t = ring.get(key)
            if t is None:
                t = ring[key] = Totals()
            _bump(t, f, t_sl, t_short)

    def _oldest_slot(self) -> float:
        if self._now == float("-inf"):
            return float("-inf")
        return _floor(self._now, self.cfg.slot_s) - self.cfg.window_s + self.cfg.slot_s

    def _span(
        self,
        agent: str,
        state: str,
        start: float,
        end: float,
        buckets: Buckets,
        slots: dict[float, Buckets] | None,
        agents: bool = True,
        intervals: bool = True,
    ) -> None:
        cfg = self.cfg
        name = _STATE_ATTR[state]
        team = cfg.teams.get(agent)
        whole: list[BucketKey] = [("all", "", None), ("agent", agent, None)] if agents else [("all", "", None)]
        if team:
            whole.append(("team", team, None))
        _add_time(buckets, whole, name, end - start)
        if buckets is self._buckets:
            for key in whole:
                if key[0] != "agent" and key not in self._head:
                    self._head[key] = buckets[key]
        for iv, part in _pieces(start, end, cfg.interval_s) if intervals else ():
            pieces: list[BucketKey] = [("all", "", iv), ("agent", agent, iv)]
            if team:
                pieces.append(("team", team, iv))
            _add_time(buckets, pieces, name, part)
        if slots is None:
            return
        oldest = self._oldest_slot()
        for slot, part in _pieces(max(start, oldest), end, cfg.slot_s):
            ring = slots.get(slot)
            if ring is None:
                ring = slots[slot] = {}
            _add_time(ring, whole, name, part)

    def apply(self, event: object) -> None:
        at = getattr(event, "at", None)
        if isinstance(at, (int, float)) and at > self._now:
            old_slot = _floor(self._now, self.cfg.slot_s) if self._now != float("-inf") else None
            self._now = float(at)
            if old_slot is not None and _floor(self._now, self.cfg.slot_s) != old_slot:
                oldest = self._oldest_slot()
                for s in [s for s in self._slots if s < oldest]:
                    del self._slots[s]
        self._fold.apply(event)

    def report(self, now: float | None = None, *, agents: bool = True, with_intervals: bool = True) -> KpiReport:
        """Everything since the first event, agent states still open counted up to now.
        The live wallboard asks for neither the agents' rows nor the intervals: with
        10,000 agents those are most of the cost, and the totals are the same."""
        now = self._now if now is None else now
        if agents or with_intervals:
            buckets = {
                k: v.copy()
                for k, v in self._buckets.items()
                if (agents or k[0] != "agent") and (with_intervals or k[2] is None)
            }
        else:
            buckets = {k: v.copy() for k, v in self._head.items()}
        if agents or with_intervals:
            for agent, state, since in self._fold.open_states(now):
                self._span(agent, state, since, now, buckets, None, agents, with_intervals)
        else:
            _add_open_time(buckets, self._open_time(now, float("-inf")))
        return _build_report(buckets, self.cfg, None, now if now != float("-inf") else None, with_intervals)

    def overall_between(self, start: float, end: float, now: float | None = None) -> dict[str, Any]:
        """Overall KPIs of the intervals in [start, end) (both multiples of interval_s):
        calls offered in them and agent time within them, states still open counted up
        to `now`. For long runs that keep no event list (the simulator's validation)."""
        cfg = self.cfg
        if start % cfg.interval_s or end % cfg.interval_s:
            raise ValueError(f"overall_between: start and end must be multiples of interval_s ({cfg.interval_s})")
        now = self._now if now is None else now
        extra: Buckets = {}
        for sp in self._fold.open_spans(now):
            self._span(sp.agent, sp.state, sp.start, sp.end, extra, None)
        total = Totals()
        for source in (self._buckets, extra):
            for (dim, _name, period), tot in source.items():
                if dim == "all" and period is not None and start <= period < end:
                    total.merge(tot)
        return metrics(total, cfg)

    def agent_total(self, agent: str, now: float | None = None) -> dict[str, Any]:
        """One agent's KPIs since the first event, their state still open counted up to
        `now` (the desktop's "my day": one bucket, not the whole report)."""
        now = self._now if now is None else now
        key: BucketKey = ("agent", agent, None)
        extra: Buckets = {key: (self._buckets.get(key) or Totals()).copy()}
        for sp in self._fold.open_spans(now):
            if sp.agent == agent:
                self._span(sp.agent, sp.state, sp.start, sp.end, extra, None)
        return metrics(extra[key], self.cfg)

    def window_start(self, now: float, span_s: int | None = None) -> float:
        return _floor(now, self.cfg.slot_s) - (span_s or self.cfg.window_s) + self.cfg.slot_s

    @property
    def last_event_at(self) -> float:
        """The latest event time folded so far (-inf before any): `now` may not be earlier."""
        return self._now

    def window(self, now: float | None = None, *, agents: bool = True, span_s: int | None = None) -> KpiReport:
        """The last `window_s` seconds at `slot_s` resolution: calls offered since
        window_start(now), agent time since then. Cost: O(slots + agents).
        agents=False leaves the agents' rows out (the totals are the same). `span_s`:
        a shorter window (a multiple of slot_s; an alert rule's "last N minutes")."""
        if not self._window:
            raise ValueError("window(): this engine was made with window=False")
        if span_s is not None and not (0 < span_s <= self.cfg.window_s and span_s % self.cfg.slot_s == 0):
            raise ValueError(f"window(span_s={span_s}): a multiple of {self.cfg.slot_s} up to {self.cfg.window_s}")
        now = self._now if now is None else now
        if now < self._now:
            raise ValueError(f"window(now={now}): earlier than the last event ({self._now})")
        start = self.window_start(now, span_s)
        merged: Buckets = {}
        for slot, ring in self._slots.items():
            if slot >= start:
                merge_buckets(merged, ring if agents else {k: t for k, t in ring.items() if k[0] != "agent"})
        teams = self.cfg.teams
        if not agents:
            _add_open_time(merged, self._open_time(now, start))
            return _build_report(merged, self.cfg, start, now, with_intervals=False)
        for agent, state, since in self._fold.open_states(now):
            s = max(since, start)
            if now > s:  # as _add(("t_" + state, now - s)) on the keys of _agent_keys, in that order
                name, secs = "t_" + state, now - s
                keys: list[BucketKey] = [("all", "", None), ("agent", agent, None)] if agents else [("all", "", None)]
                team = teams.get(agent)
                if team:
                    keys.append(("team", team, None))
                _add_time(merged, keys, name, secs)
        return _build_report(merged, self.cfg, start, now, with_intervals=False)

    def _open_time(self, now: float, start: float) -> OpenTime:
        """The agents' open time up to `now` from `start` (-inf: the report's), per state
        and team. The report's and the default window's are summed in one pass and kept
        while `now` and the agents' states are the same (a push asks for both)."""
        window_start = self.window_start(now) if self._window else float("-inf")
        teams = self._slot_teams
        if start not in (float("-inf"), window_start):  # an alert rule's shorter window
            return self._slots_now.open_time(teams.follow(self._slots_now), teams.names, now, start)[1]
        key = (now, self._fold.agent_changes, window_start)
        memo = self._open_memo
        if memo is None or memo[0] != key:
            memo = self._open_memo = (
                key,
                *self._slots_now.open_time(teams.follow(self._slots_now), teams.names, now, window_start),
            )
        return memo[1] if start == float("-inf") else memo[2]

    def agent_state(self, agent_id: str) -> tuple[str, float] | None:
        """The agent's state now and since when (None: logged out or never seen)."""
        return self._fold.state_of(agent_id)

    def agent_states(self) -> dict[str, tuple[str, float]]:
        """Each logged-in agent's state and since when (the alert rules' agent_state)."""
        return self._fold.agent_states()

    def waiting(self) -> list[tuple[str, str, float]]:
        """(call_id, queue, offered_at) of each call waiting or ringing now."""
        return list(self._fold.waiting())

    def live(self, now: float, *, agents: bool = True) -> dict[str, Any]:
        """Right now: calls waiting and longest current wait per queue, agents by state
        (agents=False: the queues only, for a board that keeps its agents itself)."""
        queues: dict[str, dict[str, Any]] = {}
        for _cid, queue, offered_at in self._fold.waiting():
            q = queues.setdefault(queue, {"waiting": 0, "longest_wait": 0.0})
            q["waiting"] += 1
            q["longest_wait"] = max(q["longest_wait"], now - offered_at)
        if not agents:
            return {"now": now, "queues": dict(sorted(queues.items()))}
        agents_now: dict[str, dict[str, Any]] = {}
        by_state = dict.fromkeys(AGENT_STATES, 0)
        for agent, (state, since) in self._fold.agent_states().items():
            agents_now[agent] = {"state": state, "since": since, "team": self.cfg.teams.get(agent, "")}
            by_state[state] = by_state.get(state, 0) + 1
        return {
            "now": now,
            "queues": dict(sorted(queues.items())),
            "agents_by_state": by_state,
            "agents": agents_now,
        }


# ---------------------------------------------------------------- batch


class _ListSink:
    __slots__ = ("facts",)

    def __init__(self) -> None:
        self.facts: list[Fact] = []

    def fact(self, f: Fact) -> None:
        self.facts.append(f)


def collect_facts(events: Iterable[object]) -> tuple[list[Fact], KpiFold]:
    sink = _ListSink()
    fold = KpiFold(sink)
    for e in sorted(events, key=lambda e: getattr(e, "at", 0.0)):
        fold.apply(e)
    return sink.facts, fold


def batch_report(
    events: Iterable[object],
    config: KpiConfig | None = None,
    start: float | None = None,
    end: float | None = None,
    with_intervals: bool = True,
    agents_until: float | None = None,
    queue: str = "",
) -> KpiReport:
    """KPIs of a stored event stream: calls offered in [start, end], agent time clipped
    to [start, end]; states still open at `end` (default: the last event) count up to it.
    `agents_until` clips agent time earlier than `end` (a simulation that drains the
    calls in progress after its last arrival counts occupancy up to that arrival).
    `queue`: only the calls' visits to that queue (every agent's time still counts)."""
    cfg = config or KpiConfig()
    events = list(events)
    if end is None:
        end = max((getattr(e, "at", 0.0) for e in events), default=None)
    buckets = batch_buckets(events, cfg, start, end, with_intervals, agents_until, queue=queue)
    return _build_report(buckets, cfg, start, end, with_intervals)


def batch_buckets(
    events: Iterable[object],
    cfg: KpiConfig,
    start: float | None,
    end: float | None,
    with_intervals: bool = True,
    agents_until: float | None = None,
    end_open: bool = False,
    interval_dims: frozenset[str] | None = None,
    queue: str = "",
) -> Buckets:
    """`batch_report`'s additive counters before they become KPIs: buckets of several
    ranges merge (`merge_buckets`) into the buckets of their union. `end_open` counts
    calls offered in [start, end) only (adjacent ranges then never count one twice).
    `interval_dims`: the dimensions given per-interval buckets (None: all); the report
    day cache keeps no agent's or team's interval series, and with 10,000 agents those
    were half the cost of folding a day."""
    facts, fold = collect_facts(events)
    lo = float("-inf") if start is None else start
    hi = float("inf") if end is None else end
    spans = [f for f in facts if isinstance(f, Span)]
    if end is not None:
        spans += fold.open_spans(end)
    # group call facts: key -> list of deltas, then sum each field per group
    groups: dict[BucketKey, list[CallFact]] = {}
    for f in facts:
        if isinstance(f, Span):
            continue
        if not lo <= f.offered_at <= hi or (end_open and f.offered_at >= hi) or (queue and f.queue != queue):
            continue
        for key in _call_fact_keys(f, None, cfg):
            groups.setdefault(key, []).append(f)
        if with_intervals:
            iv = _floor(f.offered_at, cfg.interval_s)
            for key in _call_fact_keys(f, iv, cfg):
                if interval_dims is None or key[0] in interval_dims:
                    groups.setdefault(key, []).append(f)
    buckets: Buckets = {}
    for key, fs in groups.items():
        t = Totals()
        sums: dict[str, float] = {}
        for f in fs:
            for name, amount in _call_deltas(f, cfg):
                sums[name] = sums.get(name, 0.0) + amount
        for name, v in sums.items():
            setattr(t, name, v)
        t.max_wait = max((f.wait for f in fs if isinstance(f, Outcome)), default=0.0)
        buckets[key] = t
    agent_hi = hi if agents_until is None else min(hi, agents_until)
    for sp in spans:
        s, e = max(sp.start, lo), min(sp.end, agent_hi)
        if e <= s:
            continue
        name = "t_" + sp.state
        _add(buckets, ("all", "", None), ((name, e - s),))
        for key in _agent_keys(sp.agent, None, cfg):
            _add(buckets, key, ((name, e - s),))
        if with_intervals:
            per_agent = interval_dims is None or "agent" in interval_dims or "team" in interval_dims
            for iv, secs in _pieces(s, e, cfg.interval_s):
                keys = [("all", "", iv), *_agent_keys(sp.agent, iv, cfg)] if per_agent else [("all", "", iv)]
                for key in keys:
                    if interval_dims is None or key[0] in interval_dims:
                        _add(buckets, key, ((name, secs),))
    return buckets


def merge_buckets(into: Buckets, other: Mapping[BucketKey, Totals]) -> None:
    """Add `other`'s counters to `into` (copies: `other` stays as it was)."""
    for key, tot in other.items():
        t = into.get(key)
        if t is None:
            into[key] = tot.copy()
        else:
            t.merge(tot)


def report_of_buckets(buckets: Mapping[BucketKey, Totals], cfg: KpiConfig, start: float, end: float) -> KpiReport:
    """The report of merged buckets (`batch_buckets` of adjacent ranges)."""
    return _build_report(buckets, cfg, start, end)
