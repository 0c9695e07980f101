"""Shifts that cover a staffing requirement at the fewest paid hours: an integer
program solved by HiGHS (highspy), then a roster naming who works which shift. Pure:
numbers in, numbers out.

The program, over a week of intervals (or any whole number of days):

- y[d, t, s] >= 0 integer: shifts of template t starting at s on day d;
- n[t] >= 0 integer: agents on template t (its headcount);
- each interval: the shifts on the phones then (a shift's break is off the phones)
  >= the requirement (agents to schedule, shrinkage included), or a shortfall at a
  prohibitive cost where no template reaches (reported as `uncovered`, not hidden);
- each day: shifts of t <= n[t]; the week: shifts of t <= days_per_week[t] * n[t] (the
  days off); a part-time template's paid hours <= max_share[t] * all paid hours;
- blended: o[i] >= 0 integer agents dialling out in interval i (inside the outbound
  window), on top of the inbound requirement, with each day's outbound agent-hours
  reached; slack the inbound shifts leave costs nothing, so outbound goes there first;
- minimise paid hours (+ a small cost per head, so that ties go to fewer people).

Those day and week bounds are exactly what lets the roster exist: dealing each day's
shifts round the n[t] agents in turn (McNaughton's wrap-around) gives nobody two
shifts in a day nor more than days_per_week shifts in the week. Days off are not made
consecutive, and shifts end by midnight (no rest rule between days is needed).
"""

from __future__ import annotations

import math
import os
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DAY = 86400
SHORT_COST_H = 1000.0  # paid hours one missing agent-interval costs: only when no shift can help


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class ShiftTemplate:
    name: str
    hours: float  # paid length, break included
    earliest: float = 7 * 3600.0  # first start, seconds after midnight
    latest: float = 16 * 3600.0  # last start
    step: float = 1800.0
    break_after: float | None = None  # seconds after the start (None: no break)
    break_s: float = 0.0
    days_per_week: int = 5
    max_share: float | None = None  # part-timers: at most this share of the paid hours

    def off_phone(self, start: float) -> tuple[float, float] | None:
        if self.break_after is None or self.break_s <= 0:
            return None
        return start + self.break_after, start + self.break_after + self.break_s

    def starts(self) -> list[float]:
        last = min(self.latest, DAY - self.hours * 3600.0)
        n = math.floor((last - self.earliest) / self.step + 1e-9) + 1
        return [self.earliest + i * self.step for i in range(max(n, 0))]


DEFAULT_TEMPLATES = (
    ShiftTemplate("full", 8.5, 6 * 3600.0, 15.5 * 3600.0, 1800.0, 4 * 3600.0, 1800.0, 5),
    ShiftTemplate("part", 4.0, 7 * 3600.0, 20 * 3600.0, 1800.0, None, 0.0, 5, 0.4),
)


@dataclass(frozen=True)
class Shift:
    agent: str
    template: str
    start: float  # epoch seconds
    end: float
    break_: tuple[float, float] | None

    def on_phone(self) -> list[tuple[float, float]]:
        if self.break_ is None:
            return [(self.start, self.end)]
        return [(self.start, self.break_[0]), (self.break_[1], self.end)]

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "template": self.template, "start": self.start, "end": self.end,
                "break": list(self.break_) if self.break_ else None}  # fmt: skip


@dataclass
class Schedule:
    shifts: list[Shift]
    headcount: dict[str, int]
    paid_hours: float
    scheduled: list[int]  # agents on the phones per interval
    status: str
    extra: dict[str, Any] = field(default_factory=dict)
    uncovered: dict[int, int] = field(default_factory=dict)  # interval -> agents short (no shift reaches it)
    outbound: list[int] = field(default_factory=list)  # agents dialling per interval (blended)


def _covers(lo: float, hi: float, t0: float, interval_s: int, n: int) -> range:
    """Intervals [t0 + i*interval_s, ...) wholly inside [lo, hi)."""
    first = math.ceil((lo - t0) / interval_s - 1e-9)
    last = math.floor((hi - t0) / interval_s + 1e-9)  # exclusive
    return range(max(first, 0), min(last, n))


def solve(
    required: Sequence[int],
    start: float,
    interval_s: int,
    templates: Sequence[ShiftTemplate] = DEFAULT_TEMPLATES,
    time_limit_s: float = 60.0,
    head_cost_h: float = 0.01,
    outbound_h: Sequence[float] = (),
    outbound_window: tuple[float, float] = (9 * 3600.0, 20 * 3600.0),
) -> Schedule:
    """Shifts covering required[i] agents in [start + i*interval_s, ...) (start at a
    midnight, whole days) at the fewest paid hours. Blended: outbound_h[d] agent-hours
    of outbound calling on day d, inside outbound_window (seconds of the day), on top of
    the inbound requirement: they go where inbound leaves slack first, since slack is
    already paid for (Schedule.outbound: agents dialling per interval)."""
    n = len(required)
    if n * interval_s % DAY or start % DAY:
        raise ScheduleError("the requirement must cover whole days from a midnight")
    days = n * interval_s // DAY
    h = _highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    heads = {t.name: h.addIntegral(lb=0, name=f"n_{t.name}") for t in templates}
    shifts: dict[tuple[int, str, float], Any] = {}
    covering: list[list[Any]] = [[] for _ in range(n)]
    for d in range(days):
        for t in templates:
            for s in t.starts():
                v = h.addIntegral(lb=0, name=f"y_{d}_{t.name}_{int(s)}")
                shifts[(d, t.name, s)] = v
                lo = start + d * DAY + s
                pieces = [(lo, lo + t.hours * 3600.0)]
                brk = t.off_phone(lo)
                if brk is not None:
                    pieces = [(lo, brk[0]), (brk[1], lo + t.hours * 3600.0)]
                for a, b in pieces:
                    for i in _covers(a, b, start, interval_s, n):
                        covering[i].append(v)
    dialling: dict[int, Any] = {}  # agents on outbound per interval (blended)
    for d, hours in enumerate(outbound_h[:days]):
        if hours <= 0:
            continue
        window = [i for i in range(d * DAY // interval_s, (d + 1) * DAY // interval_s)
                  if outbound_window[0] <= (i * interval_s) % DAY < outbound_window[1] and covering[i]]  # fmt: skip
        if not window:
            raise ScheduleError(f"day {d}: no shift reaches the outbound window")
        for i in window:
            dialling[i] = h.addIntegral(lb=0, name=f"out_{i}")
        h.addConstr(sum((dialling[i] * (interval_s / 3600.0) for i in window[1:]),
                        dialling[window[0]] * (interval_s / 3600.0)) >= hours)  # fmt: skip
    short: dict[int, Any] = {}  # agents missing in an interval no shift can cover enough
    for i, r in enumerate(required):
        if r > 0:
            short[i] = h.addVariable(lb=0, name=f"short_{i}")
            need = sum(covering[i], short[i]) - dialling[i] if i in dialling else sum(covering[i], short[i])
            h.addConstr(need >= r)
        elif i in dialling:
            h.addConstr(sum(covering[i][1:], covering[i][0]) - dialling[i] >= 0)
    by_t = {t.name: t for t in templates}
    for t in templates:
        week = [v for (d, name, _), v in shifts.items() if name == t.name]
        if not week:
            continue
        h.addConstr(sum(week[1:], week[0]) <= t.days_per_week * heads[t.name])
        for d in range(days):
            day = [v for (dd, name, _), v in shifts.items() if name == t.name and dd == d]
            h.addConstr(sum(day[1:], day[0]) <= heads[t.name])
        if t.max_share is not None:
            mine = [t.hours * v for v in week]
            every = [by_t[name].hours * v for (_, name, _), v in shifts.items()]
            h.addConstr(sum(mine[1:], mine[0]) <= t.max_share * sum(every[1:], every[0]))
    cost = [by_t[name].hours * v for (_, name, _), v in shifts.items()] + [head_cost_h * v for v in heads.values()]
    cost += [SHORT_COST_H * v for v in short.values()]
    cost += [1e-4 * v for v in dialling.values()]  # no more outbound than asked for
    h.minimize(sum(cost[1:], cost[0]))
    status = h.modelStatusToString(h.getModelStatus())
    if h.getInfo().primal_solution_status != 2:  # kSolutionStatusFeasible
        raise ScheduleError(f"no schedule found ({status})")
    counts = {k: round(h.val(v)) for k, v in shifts.items()}
    headcount = {name: round(h.val(v)) for name, v in heads.items()}
    roster = _roster(counts, headcount, by_t, start)
    paid = sum(by_t[name].hours * c for (_, name, _), c in counts.items())
    on_phone = [0] * n
    for sh in roster:
        for a, b in sh.on_phone():
            for i in _covers(a, b, start, interval_s, n):
                on_phone[i] += 1
    outbound = [round(h.val(dialling[i])) if i in dialling else 0 for i in range(n)]
    uncovered = {i: required[i] + outbound[i] - on_phone[i] for i in short if on_phone[i] < required[i] + outbound[i]}
    return Schedule(roster, headcount, paid, on_phone, status, {"mip_gap": h.getInfo().mip_gap}, uncovered,
                    outbound)  # fmt: skip


def _highs() -> Any:
    """A silent HiGHS instance (its first construction prints a banner on stdout, which
    would spoil `--json -`: fd 1 is pointed at /dev/null meanwhile)."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def _roster(
    counts: dict[tuple[int, str, float], int],
    headcount: dict[str, int],
    templates: dict[str, ShiftTemplate],
    start: float,
) -> list[Shift]:
    """Deal each day's shifts of a template round its agents in turn (see the module)."""
    out: list[Shift] = []
    for name, heads in headcount.items():
        t = templates[name]
        width = len(str(max(heads, 1)))
        turn = 0
        for (d, tname, s), c in sorted(counts.items()):
            if tname != name:
                continue
            for _ in range(c):
                lo = start + d * DAY + s
                agent = f"{name}{turn % heads + 1:0{width}d}"
                out.append(Shift(agent, name, lo, lo + t.hours * 3600.0, t.off_phone(lo)))
                turn += 1
    return sorted(out, key=lambda sh: (sh.start, sh.agent))


# ---------------------------------------------------------------- templates file

_KEYS = {"name", "hours", "earliest", "latest", "step_min", "break_after_h", "break_min", "days_per_week", "max_share"}


def _clock(v: Any, where: str) -> float:
    if not isinstance(v, str) or len(v.split(":")) != 2:
        raise ScheduleError(f"{where}: {v!r} is not HH:MM")
    hh, mm = v.split(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) <= 24 and int(mm) < 60):
        raise ScheduleError(f"{where}: {v!r} is not HH:MM")
    return int(hh) * 3600.0 + int(mm) * 60.0


def load_templates(path: str | Path) -> list[ShiftTemplate]:
    """Shift templates from TOML: [[shift]] name, hours, earliest = "HH:MM", latest,
    step_min, break_after_h, break_min, days_per_week, max_share (part-timers)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScheduleError(f"{p}: {exc}") from None
    items = data.get("shift")
    if not isinstance(items, list) or not items:
        raise ScheduleError(f"{p}: no [[shift]] table")
    out = []
    for i, t in enumerate(items):
        where = f"{p}: shift[{i}]"
        extra = set(t) - _KEYS
        if extra:
            raise ScheduleError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        try:
            hours = float(t["hours"])
            tpl = ShiftTemplate(
                name=str(t.get("name", f"shift{i}")),
                hours=hours,
                earliest=_clock(t.get("earliest", "07:00"), f"{where}.earliest"),
                latest=_clock(t.get("latest", "16:00"), f"{where}.latest"),
                step=float(t.get("step_min", 30)) * 60.0,
                break_after=float(t["break_after_h"]) * 3600.0 if "break_after_h" in t else None,
                break_s=float(t.get("break_min", 0)) * 60.0,
                days_per_week=int(t.get("days_per_week", 5)),
                max_share=float(t["max_share"]) if "max_share" in t else None,
            )
        except KeyError as exc:
            raise ScheduleError(f"{where}.{exc.args[0]}: required") from None
        except (TypeError, ValueError) as exc:
            raise ScheduleError(f"{where}: {exc}") from None
        if not 0 < tpl.hours <= 24 or not 1 <= tpl.days_per_week <= 7 or tpl.step <= 0:
            raise ScheduleError(f"{where}: hours in (0, 24], days_per_week in 1..7, step_min > 0")
        if not tpl.starts():
            raise ScheduleError(f"{where}: no start between earliest and latest that ends by midnight")
        out.append(tpl)
    return out
