"""Replications: one scenario run with several seeds, each KPI given as its mean and a
95 % confidence interval (Student t over the replications); a what-if's differences
paired replication by replication (common random numbers: seed k drives both arms, so
the difference's interval is far narrower than the two KPIs' intervals suggest)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.run import SimResult
    from sim.scenario import Scenario

# summary keys that describe the run, not the call centre (no interval for them)
NOT_KPIS = frozenset({"seed", "rules_version", "router_build", "wall_s", "sim_calls_per_s", "simulated_calls",
                      "sl_threshold_s"})  # fmt: skip


def t95(n: int) -> float:
    """Two-sided 95 % Student t quantile for n - 1 degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def mean_ci(values: Sequence[float]) -> tuple[float, tuple[float, float] | None]:
    """Mean and 95 % interval (None with fewer than two values)."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, None
    half = t95(len(values)) * statistics.stdev(values) / math.sqrt(len(values))
    return m, (m - half, m + half)


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def combine(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each KPI's mean under its usual key, `ci95: {kpi: [low, high]}`, the seeds and
    the replication count. A KPI undefined in some replication (no call answered...) is
    averaged over those where it is defined."""
    out: dict[str, Any] = dict(summaries[0])
    ci: dict[str, list[float] | None] = {}
    for k in summaries[0]:
        if k in NOT_KPIS:
            continue
        vals = [s[k] for s in summaries if _numeric(s.get(k))]
        if not vals:
            continue
        m, iv = mean_ci(vals)
        out[k] = m
        ci[k] = None if iv is None else [iv[0], iv[1]]
    out["ci95"] = ci
    out["replications"] = len(summaries)
    out["seeds"] = [s.get("seed") for s in summaries]
    for k in ("wall_s", "simulated_calls"):
        if all(_numeric(s.get(k)) for s in summaries):
            out[k] = sum(s[k] for s in summaries)
    if _numeric(out.get("wall_s")) and out["wall_s"] > 0 and _numeric(out.get("simulated_calls")):
        out["sim_calls_per_s"] = out["simulated_calls"] / out["wall_s"]
    out.pop("seed", None)
    return out


def paired(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per KPI: the mean difference b - a over paired replications, its 95 % interval
    and whether that interval excludes 0 (`significant`)."""
    out: dict[str, dict[str, Any]] = {}
    for k in a[0]:
        if k in NOT_KPIS:
            continue
        diffs = [y[k] - x[k] for x, y in zip(a, b, strict=True) if _numeric(x.get(k)) and _numeric(y.get(k))]
        if not diffs:
            continue
        m, iv = mean_ci(diffs)
        out[k] = {
            "current": statistics.fmean(x[k] for x in a if _numeric(x.get(k))),
            "candidate": statistics.fmean(y[k] for y in b if _numeric(y.get(k))),
            "difference": m,
            "ci95": None if iv is None else [iv[0], iv[1]],
            "significant": None if iv is None else not iv[0] <= 0 <= iv[1],
        }
    return out


def seeds_for(base: int, n: int) -> list[int]:
    """Seeds of n replications: base, base + 1, ... (one per replication, the same in
    every arm of a what-if)."""
    return [base + i for i in range(n)]


def run_replications(
    scenarios: Sequence[Scenario],
    rules: Sequence[Any],
    seeds: Sequence[int],
    progress: Callable[[float], None] | None = None,
    arrivals: list[Any] | None = None,
) -> tuple[list[SimResult], list[list[dict[str, Any]]]]:
    """Each arm (scenario i with rules i) run once per seed, on the same recorded
    callers (a replay is loaded once; or `arrivals`) and the same seeds: common random
    numbers. Returns
    each arm's first run (for the reports) and every run's summary, arm by arm."""
    from sim.model import load_replay
    from sim.run import run_scenario

    if arrivals is None and scenarios[0].replay is not None:
        arrivals = load_replay(scenarios[0])
    firsts: list[SimResult] = []
    summaries: list[list[dict[str, Any]]] = [[] for _ in scenarios]
    total = len(seeds) * len(scenarios)
    done = 0
    for seed in seeds:
        for arm, (sc, rs) in enumerate(zip(scenarios, rules, strict=True)):
            base = done / total
            step = (lambda f, b=base: progress(b + f / total)) if progress else None
            r = run_scenario(sc, seed, rs, step, arrivals)
            summaries[arm].append(r.summary())
            if len(firsts) <= arm:
                firsts.append(r)
            done += 1
    return firsts, summaries
