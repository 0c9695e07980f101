"""Forecast -> requirement -> schedule -> simulated check, end to end (what `hotline
plan` prints). Each step is its own module; this one only chains them."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from wfm.forecast import DAY, forecast
from wfm.history import CallRecord
from wfm.plan_check import check_plan, plan_scenario
from wfm.schedule import DEFAULT_TEMPLATES, ShiftTemplate, solve
from wfm.staffing import mean_patience, requirements

BUSY_CALLS = 5  # an interval with fewer simulated calls says little about its service level


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def make_plan(
    calls: Sequence[CallRecord],
    interval_s: int = 1800,
    holdout_days: int = 7,
    days: int = 7,
    target_sl: float = 0.8,
    threshold_s: float = 20.0,
    shrinkage: float = 0.2,
    templates: Sequence[ShiftTemplate] = DEFAULT_TEMPLATES,
    holidays: Sequence[date] = (),
    replications: int = 5,
    seed: int = 1,
    progress: Callable[[float], None] | None = None,
    *,
    outbound_h_per_day: float = 0.0,
    outbound_window: tuple[float, float] = (9 * 3600.0, 20 * 3600.0),
) -> dict[str, Any]:
    """The plan for the held-out days (checked by replaying what was recorded on them)
    or, with holdout_days = 0, for the `days` after the history (not checkable).
    Blended: `outbound_h_per_day` agent-hours of outbound calling each day inside
    `outbound_window`, placed where inbound leaves slack first; the check takes the
    dialling agents off inbound."""
    fc = forecast(calls, interval_s, holdout_days, days, holidays)
    train = [c for c in calls if c.queued_at < fc.train_end]
    patience = mean_patience(train)
    req = requirements(
        [i.start for i in fc.intervals],
        [i.volume for i in fc.intervals],
        [i.aht for i in fc.intervals],
        interval_s,
        patience,
        target_sl,
        threshold_s,
        shrinkage,
    )
    start = fc.intervals[0].start
    n_days = len(fc.intervals) * interval_s // DAY
    sched = solve([r.scheduled for r in req], start, interval_s, templates)
    inbound_paid = sched.paid_hours
    if outbound_h_per_day > 0:
        sched = solve([r.scheduled for r in req], start, interval_s, templates,
                      outbound_h=[outbound_h_per_day] * n_days, outbound_window=outbound_window)  # fmt: skip
    out: dict[str, Any] = {
        "start": _iso(start),
        "days": n_days,
        "interval_s": interval_s,
        "target_sl": target_sl,
        "sl_threshold_s": threshold_s,
        "shrinkage": shrinkage,
        "patience_s": round(patience, 1),
        "forecast_wape": fc.wape,
        "headcount": sched.headcount,
        "paid_hours": sched.paid_hours,
        "required_hours": sum(r.scheduled for r in req) * interval_s / 3600.0,
        "solver": {"status": sched.status, **sched.extra},
        "outbound": {
            "hours_per_day": outbound_h_per_day,
            "window": [outbound_window[0], outbound_window[1]],
            "placed_hours": sum(sched.outbound) * interval_s / 3600.0,
            "extra_paid_hours": sched.paid_hours - inbound_paid,
        },
        "uncovered": [{"start": _iso(start + i * interval_s), "short": k} for i, k in sorted(sched.uncovered.items())],
        "intervals": [
            {
                "start": _iso(r.start),
                "calls": round(r.calls, 2),
                "aht": r.aht and round(r.aht, 1),
                "agents": r.agents,
                "required": r.scheduled,
                "scheduled": sched.scheduled[i],
                "outbound": sched.outbound[i],
                "forecast_low": fc.intervals[i].low,
                "forecast_high": fc.intervals[i].high,
                "actual": fc.intervals[i].actual,
            }
            for i, r in enumerate(req)
        ],
        "shifts": [
            {
                **sh.to_dict(),
                "start": _iso(sh.start),
                "end": _iso(sh.end),
                "break": [_iso(b) for b in sh.break_] if sh.break_ else None,
            }
            for sh in sched.shifts
        ],
    }
    if holdout_days and replications > 0:
        by_q: dict[str, list[float]] = {}
        for c in train:
            if c.answered:
                by_q.setdefault(c.queue, []).append(c.talk)
        aht = {q: statistics.fmean(v) for q, v in by_q.items()}
        end = start + out["days"] * DAY
        recorded = [c for c in calls if start <= c.queued_at < end]
        sc, arrivals = plan_scenario(
            calls, sched.shifts, start, out["days"], patience, aht, threshold_s, interval_s, shrinkage, sched.outbound
        )
        check = check_plan(sc, arrivals, replications, seed, recorded, start, progress)
        out["simulated"] = check.summary
        out["side_by_side"] = [{**row, "start": _iso(row["start"])} for row in check.per_interval]
        busy = [r for r in check.per_interval if (r["sim_offered"] or 0) >= BUSY_CALLS]
        out["intervals_meeting_target"] = (
            sum(1 for r in busy if (r["sim_service_level_offered"] or 0) >= target_sl) / len(busy) if busy else None
        )
    return out
