"""Run scenarios and summarise them with the KPI library (the same code the wallboard
and the history reports use). Synchronous: call from a thread or process when an
asyncio loop is running."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reports.kpi import KpiReport, batch_report, collect_facts
from reports.kpi_fold import Outcome
from sim.model import CallCenterModel, SimStats, load_replay
from sim.scenario import Scenario

# keys of the quick form's JSON, in order
SUMMARY_KEYS = (
    "offered", "answered", "abandoned", "p_wait", "abandon_rate", "asa", "service_level",
    "occupancy", "sim_calls_per_s",
)  # fmt: skip


@dataclass
class SimResult:
    scenario: Scenario
    seed: int
    rules_version: int | None
    stats: SimStats
    report: KpiReport
    events: list[object] = field(repr=False, default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The headline numbers. `service_level` = answered within T / offered; the
        three REFERENCE.md variants are there too, by name."""
        o = self.report.overall
        out: dict[str, Any] = {
            "offered": o["offered"],
            "answered": o["answered"],
            "abandoned": o["abandoned"],
            "p_wait": o["p_wait"],
            "abandon_rate": o["abandon_rate"],
            "asa": o["asa"],
            "service_level": o["service_level_offered"],
            "occupancy": o["occupancy"],
            "sim_calls_per_s": self.stats.calls / self.stats.wall_s if self.stats.wall_s > 0 else None,
            "sl_threshold_s": self.report.config["sl_threshold_s"],
            "service_level_answered": o["service_level"],
            "service_level_2": o["service_level_2"],
            "service_level_3": o["service_level_3"],
            "short_abandoned": o["short_abandoned"],
            "avg_wait": o["avg_wait"],
            "max_wait": o["max_wait"],
            "aht": o["aht"],
            "transfer_rate": o["transfer_rate"],
            "utilization": o["utilization"],
            "rona": o["rona"],
            "seed": self.seed,
            "rules_version": self.rules_version,
            "simulated_calls": self.stats.calls,
            "wall_s": self.stats.wall_s,
            "router_build": self.stats.router_build,
        }
        return out

    def waits(self) -> tuple[list[float], list[float]]:
        """(waits of answered calls, waits of abandoned calls) counted in the report."""
        lo = self.scenario.start_s + self.scenario.warmup_s
        facts, _ = collect_facts(self.events)
        ans = [f.wait for f in facts if isinstance(f, Outcome) and f.answered and f.offered_at >= lo]
        ab = [
            f.wait
            for f in facts
            if isinstance(f, Outcome) and not f.answered and not f.deflected and f.offered_at >= lo
        ]
        return ans, ab


def load_rules_text(text: str, filename: str) -> Any:
    from routing import load_rules

    return load_rules(text, filename)


def run_scenario(
    sc: Scenario,
    seed: int | None = None,
    rules: Any = None,
    progress: Callable[[float], None] | None = None,
    arrivals: list | None = None,
) -> SimResult:
    """One seeded run. `rules`: a RuleSet (default: the scenario's rules)."""
    if rules is None:
        rules = load_rules_text(sc.rules_text, sc.rules_filename)
    model = CallCenterModel(sc, rules, seed=seed, arrivals=arrivals)
    stats = model.run(progress=progress)
    lo = sc.start_s + sc.warmup_s
    end_arrivals = sc.end_s if sc.duration_s else (model.loop.now)
    report = batch_report(
        model.events,
        sc.kpi,
        start=lo,
        end=max(model.loop.now, end_arrivals),
        agents_until=end_arrivals,
    )
    return SimResult(sc, model.seed, model.router.rules_version, stats, report, model.events)


def run_streaming(sc: Scenario, seed: int | None = None, rules: Any = None) -> tuple[dict[str, Any], SimStats]:
    """A long run that keeps no event list: the incremental KPI engine reads the events
    as they happen (hourly buckets); KPIs of calls offered after the warm-up, agent time
    up to the last arrival. start_s, warmup_s and duration_s must be whole hours."""
    from dataclasses import replace

    from reports.kpi import KpiEngine

    if rules is None:
        rules = load_rules_text(sc.rules_text, sc.rules_filename)
    engine = KpiEngine(replace(sc.kpi, interval_s=3600), window=False)
    model = CallCenterModel(sc, rules, seed=seed, sink=engine.apply, keep_events=False)
    stats = model.run()
    lo = sc.start_s + sc.warmup_s
    kpis = engine.overall_between(lo, sc.end_s, now=model.loop.now)
    return kpis, stats


def what_if(
    sc: Scenario,
    candidate_rules: Any,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[SimResult, SimResult, dict[str, Any]]:
    """The scenario's rules and a candidate on the same callers (common random numbers:
    same seed, same per-purpose streams, replays loaded once)."""
    arrivals = load_replay(sc) if sc.replay is not None else None
    half = (lambda f: progress(f / 2)) if progress else None
    half2 = (lambda f: progress(0.5 + f / 2)) if progress else None
    current = run_scenario(sc, seed, None, half, arrivals)
    cand = run_scenario(sc, seed, candidate_rules, half2, arrivals)
    return current, cand, compare(current.summary(), cand.summary())


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Side by side: {key: {current, candidate, difference}} for numeric KPIs."""
    out: dict[str, Any] = {}
    for k in a:
        x, y = a[k], b.get(k)
        if k in ("seed", "wall_s", "sim_calls_per_s", "router_build"):
            continue
        diff = None
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            diff = y - x
            if isinstance(diff, float) and math.isnan(diff):
                diff = None
        out[k] = {"current": x, "candidate": y, "difference": diff}
    return out
