"""A schedule checked by simulation: the recorded calls of its days replayed through
the real router (sim.model) with the scheduled agents logged in shift by shift (off
the phones during breaks), over several seeds. What a replication draws: the patience
of callers who were served in the log (exponential, the history's mean) and the
handle time of those who hung up in the log but get served now (exponential, their
type's mean); everything else is as recorded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reports.kpi import KpiConfig
from sim.arrivals import Arrival
from sim.dists import constant, exponential
from sim.replicate import combine, run_replications, seeds_for
from sim.scenario import AgentGroup, QueueSpec, Scenario
from wfm.history import CallRecord
from wfm.replay_report import pair_intervals, recorded_intervals
from wfm.schedule import Shift


@dataclass(frozen=True)
class PlanCheck:
    summary: dict[str, Any]  # KPI means, ci95, replications
    per_interval: list[dict[str, Any]]  # recorded vs simulated (first replication)


def rules_for(queues: Sequence[str]) -> str:
    """Any agent takes any call, longest idle first, no wrap-up (the logs record none)."""
    body = '[defaults]\nstrategy = "longest_idle"\nwrap_up_s = 0\n\n[rona]\nmax_misses = 0\n'
    return body + "".join(f"\n[queues.{q}]\n" for q in queues)


def plan_scenario(
    calls: Sequence[CallRecord],
    shifts: Sequence[Shift],
    start: float,
    days: int,
    patience_s: float,
    aht_by_queue: dict[str, float],
    sl_threshold_s: float = 20.0,
    interval_s: int = 1800,
    shrinkage: float = 0.0,
    outbound: Sequence[int] = (),
) -> tuple[Scenario, list[Arrival]]:
    """The scenario (clock 0 = `start`) and the recorded arrivals of [start, start + days);
    the shrinkage the plan allowed for takes each agent off the phones for that share
    of every hour of its shifts (see `shrink`); outbound[i] agents on the phones in
    interval i are dialling out, off inbound (see `take_for_outbound`)."""
    end = start + days * 86400.0
    week = sorted((c for c in calls if start <= c.queued_at < end), key=lambda c: c.queued_at)
    arrivals = [
        Arrival(
            c.queued_at - start,
            c.queue,
            patience=None if c.answered else c.wait,
            handle=c.talk if c.answered else None,
            priority=c.priority,
        )
        for c in week
    ]
    queues = sorted({c.queue for c in week} | set(aht_by_queue))
    qspecs = tuple(
        QueueSpec(
            q, patience=exponential(patience_s), handle=exponential(aht_by_queue.get(q, 180.0)), wrap_up=constant(0.0)
        )
        for q in queues
    )
    by_agent: dict[str, list[tuple[float, float]]] = {}
    names = sorted({sh.agent for sh in shifts})
    for sh in shifts:
        offset = names.index(sh.agent) * 613.0  # staggered: not everyone away at once
        pieces = [(a - start, b - start) for a, b in sh.on_phone()]
        by_agent.setdefault(sh.agent, []).extend(shrink(pieces, shrinkage, offset))
    if any(outbound):
        by_agent = take_for_outbound(by_agent, outbound, interval_s)
    agents = tuple(
        AgentGroup(f"{a}-", 1, {}, a.rstrip("0123456789"), shifts=tuple(sorted(sh)))
        for a, sh in sorted(by_agent.items())
    )
    sc = Scenario(
        name="schedule check",
        seed=1,
        duration_s=days * 86400.0,
        queues=qspecs,
        agents=agents,
        rules_text=rules_for(queues),
        rules_filename="<schedule check rules>",
        kpi=KpiConfig(sl_threshold_s=sl_threshold_s, interval_s=interval_s),
    )
    return sc, arrivals


def shrink(pieces: Sequence[tuple[float, float]], share: float, offset: float) -> list[tuple[float, float]]:
    """On-phone pieces less `share` of every hour (absence, coaching, meetings: what
    shrinkage stands for), in one block per hour starting `offset` s (mod the hour's
    free part) into it."""
    if share <= 0:
        return list(pieces)
    away = share * 3600.0
    out = []
    for a, b in pieces:
        t = a
        hour = a
        while hour < b:
            lo = hour + offset % (3600.0 - away)
            hi = lo + away
            if lo > t:
                out.append((t, min(lo, b)))
            t = max(t, hi)
            hour += 3600.0
        if t < b:
            out.append((t, b))
    return [(x, y) for x, y in out if y > x]


def take_for_outbound(
    pieces: dict[str, list[tuple[float, float]]], outbound: Sequence[int], interval_s: int
) -> dict[str, list[tuple[float, float]]]:
    """Take outbound[i] of the agents on the phones through interval i off inbound for
    that interval (in turn, so that dialling is spread over the agents)."""
    out = {a: sorted(p) for a, p in pieces.items()}
    turn = 0
    for i, k in enumerate(outbound):
        if k <= 0:
            continue
        lo, hi = i * interval_s, (i + 1) * interval_s
        present = [a for a in sorted(out) if any(x <= lo and hi <= y for x, y in out[a])]
        for j in range(min(k, len(present))):
            a = present[(turn + j) % len(present)]
            cut: list[tuple[float, float]] = []
            for x, y in out[a]:
                if x <= lo and hi <= y:
                    cut += [(x, lo), (hi, y)]
                else:
                    cut.append((x, y))
            out[a] = [(x, y) for x, y in cut if y > x]
        turn += k
    return out


def check_plan(
    sc: Scenario,
    arrivals: list[Arrival],
    replications: int = 5,
    seed: int = 1,
    recorded: Sequence[CallRecord] = (),
    start: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> PlanCheck:
    """Run the scenario `replications` times (seeds seed, seed + 1, ...)."""
    firsts, summaries = run_replications([sc], [None], seeds_for(seed, replications), progress, arrivals)
    first = firsts[0]
    rows = pair_intervals(first.report.intervals, recorded_intervals(recorded, sc.kpi), start)
    return PlanCheck(combine(summaries[0]), rows)
