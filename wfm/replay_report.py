"""Recorded and simulated figures side by side, interval by interval: what a replay
shows beside what the log says happened (the same KPI definitions for both)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from reports.kpi import KpiConfig, KpiReport, batch_report
from wfm.history import CallRecord, Rejected, call_events, read_anonymous_bank

PAIRED = ("offered", "answered", "abandoned", "asa", "service_level_offered", "abandon_rate")


def pair_intervals(
    simulated: Sequence[dict[str, Any]], recorded: Sequence[dict[str, Any]], offset: float = 0.0
) -> list[dict[str, Any]]:
    """One row per simulated interval: `sim_<kpi>` and `recorded_<kpi>` (None where the
    log has no call). `offset` turns the simulation clock into the log's."""
    rec = {round(i["start"]): i for i in recorded}
    out = []
    for i in simulated:
        r = rec.get(round(i["start"] + offset), {})
        row: dict[str, Any] = {"start": i["start"] + offset}
        for k in PAIRED:
            row[f"recorded_{k}"] = r.get(k)
            row[f"sim_{k}"] = i.get(k)
        out.append(row)
    return out


def recorded_intervals(calls: Sequence[CallRecord], cfg: KpiConfig) -> list[dict[str, Any]]:
    return batch_report(call_events(calls, presence=False), cfg).intervals


def _bank_calls(path: Any, dates: Sequence[str]) -> list[CallRecord]:
    """The log's calls on those dates, on the replay's clock (0 = midnight of the first)."""
    with open(path, newline="", encoding="utf-8") as fh:
        calls = [c for _, c in read_anonymous_bank(fh) if c is not None and not isinstance(c, Rejected)]
    if dates:
        days = {datetime.strptime(d, "%y%m%d").replace(tzinfo=UTC).timestamp() for d in dates}
        calls = [c for c in calls if c.queued_at // 86400 * 86400 in days]
    if not calls:
        return []
    d0 = min(c.queued_at for c in calls) // 86400 * 86400
    return [dataclasses.replace(c, queued_at=c.queued_at - d0) for c in calls]


def recorded_side_by_side(sc: Any, simulated: KpiReport) -> list[dict[str, Any]] | None:
    """For a scenario that replays a log: the log's own figures beside the simulation's,
    per interval (None for a queue_log, whose outcomes are not read here)."""
    r = sc.replay
    if r is None or r.kind == "queue_log":
        return None
    if r.kind == "anonymous_bank":
        recorded = recorded_intervals(_bank_calls(r.path, r.dates), sc.kpi)
    else:
        from events import from_record

        with open(r.path, encoding="utf-8") as fh:
            events = [from_record(json.loads(line)) for line in fh if line.strip()]
        recorded = batch_report(events, sc.kpi).intervals
    return pair_intervals(simulated.intervals, recorded)
