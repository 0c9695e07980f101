"""Dialer benchmark: occupancy and abandon rate per agent count and mode, and the
drop cap over every rolling window in long runs.

    .venv/bin/python bench/bench_dialer.py [--quick] [--workers N]

Targets (issue 8), predictive, AHT 180 s exponential, answer rate 0.3, ring mean 10 s,
no-answer timeout 25 s: occupancy >= 0.86 / 0.93 / 0.96 at 20 / 50 / 100 agents, each
with abandon_rate <= 0.030; progressive gives about 0.725. Writes bench/results/dialer.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {20: 0.86, 50: 0.93, 100: 0.96}
CAP = 0.03


def _run(job: dict) -> dict:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from dialer.sim import DialerSimConfig, run_dialer_sim

    started = time.perf_counter()
    windows = job.pop("check_windows_h", [])
    result = run_dialer_sim(DialerSimConfig(**job))
    out = result.summary()
    out["wall_s"] = round(time.perf_counter() - started, 2)
    for hours in windows:
        out[f"max_window_rate_{hours}h"] = round(result.max_window_abandon_rate(hours * 3600.0), 5)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    if args.quick:
        agent_counts, seeds, hours = [10, 20], [1], 1.0
        long_jobs = [{"agents": 10, "hours": 4.0, "seed": 1, "window_s": 3600.0, "check_windows_h": [1]}]
    else:
        agent_counts, seeds, hours = [20, 50, 100], [1, 2, 3], 8.0
        long_jobs = [
            # three days non-stop: every rolling 24-hour window, and the 30-day one (= the run)
            {"agents": 20, "hours": 72.0, "seed": 7, "check_windows_h": [24, 720]},
            {
                "agents": 20,
                "hours": 72.0,
                "seed": 8,
                "aht_dist": "lognormal",
                "aht_cv": 1.5,
                "check_windows_h": [24, 720],
            },
            {
                "agents": 15,
                "hours": 72.0,
                "seed": 9,
                "answer_rate": 0.15,
                "machine_rate": 0.1,
                "busy_rate": 0.1,
                "check_windows_h": [24, 720],
            },
            {"agents": 20, "hours": 72.0, "seed": 10, "inbound_per_hour": 150, "check_windows_h": [24, 720]},
        ]
    grid_jobs = [
        {"agents": n, "mode": mode, "hours": hours, "seed": seed}
        for n in agent_counts
        for mode in ("predictive", "progressive")
        for seed in seeds
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        grid = list(pool.map(_run, [dict(j) for j in grid_jobs]))
        long = list(pool.map(_run, [dict(j) for j in long_jobs]))

    rows = []
    print(
        f"dialer simulation, AHT 180 s exponential, answer rate 0.3, ring mean 10 s, timeout 25 s, "
        f"{hours:g} h x {len(seeds)} seed(s)"
    )
    print(
        f"{'agents':>6} {'mode':>12} {'occupancy':>10} {'min occ':>8} {'abandon':>8} {'max abandon':>11} "
        f"{'dials/agent-h':>13} {'target':>7} {'met':>4}"
    )
    for n in agent_counts:
        for mode in ("predictive", "progressive"):
            runs = [r for r in grid if r["agents"] == n and r["mode"] == mode]
            occ = statistics.mean(r["occupancy"] for r in runs)
            row = {
                "agents": n,
                "mode": mode,
                "hours": hours,
                "seeds": seeds,
                "occupancy_mean": round(occ, 4),
                "occupancy_min": round(min(r["occupancy"] for r in runs), 4),
                "abandon_rate_mean": round(statistics.mean(r["abandon_rate"] for r in runs), 5),
                "abandon_rate_max": round(max(r["abandon_rate"] for r in runs), 5),
                "dials_per_agent_hour": round(statistics.mean(r["dials_per_agent_hour"] for r in runs), 2),
                "target_occupancy": TARGETS.get(n) if mode == "predictive" else None,
            }
            target = row["target_occupancy"]
            row["target_met"] = (
                None if target is None else bool(row["occupancy_min"] >= target and row["abandon_rate_max"] <= CAP)
            )
            rows.append(row)
            met = "" if target is None else ("yes" if row["target_met"] else "NO")
            print(
                f"{n:>6} {mode:>12} {row['occupancy_mean']:>10.4f} {row['occupancy_min']:>8.4f} "
                f"{row['abandon_rate_mean']:>8.4f} {row['abandon_rate_max']:>11.4f} "
                f"{row['dials_per_agent_hour']:>13.1f} {target if target else '':>7} {met:>4}"
            )

    print("\ncap over rolling windows (long runs)")
    compliance = []
    for job, r in zip(long_jobs, long, strict=False):
        windows = {k: v for k, v in r.items() if k.startswith("max_window_rate_")}
        ok = all(v <= CAP for v in windows.values())
        compliance.append(
            {
                "scenario": {k: v for k, v in job.items() if k != "check_windows_h"},
                "occupancy": r["occupancy"],
                "abandon_rate": r["abandon_rate"],
                **windows,
                "cap_held": ok,
            }
        )
        label = ", ".join(f"{k}={v}" for k, v in job.items() if k not in ("check_windows_h",))
        shown = "  ".join(f"{k.removeprefix('max_window_rate_')}: {v:.4f}" for k, v in windows.items())
        print(
            f"  {label}\n    occupancy {r['occupancy']:.4f}  whole run {r['abandon_rate']:.4f}  worst window {shown}"
            f"  {'held' if ok else 'VIOLATED'}"
        )

    elapsed = time.perf_counter() - started
    print(f"\nwall time {elapsed:.1f} s")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"quick": args.quick, "grid": rows, "runs": grid, "compliance": compliance, "wall_s": round(elapsed, 1)}
    (out_dir / "dialer.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
