"""Workforce-planning benchmark on the real month (data/anonymous-bank, February 1999).

Each step timed, with the figures it gives (targets in brackets):
1. reading the log into call records and events, and the KPI report of the month
   (AHT by type = mean service time within 1 s) [read + KPI < 30 s];
2. the forecast of the last week (30 min), WAPE vs seasonal naive [wape <= 0.9 x naive;
   < 20 s];
3. requirement (Erlang A) and shifts (HiGHS) for that week [solver < 10 s];
4. the plan's check: replications of the week replayed through the router [SL >= the
   target, lower bound of the interval included; < 60 s for 10 replications].

    .venv/bin/python bench/bench_wfm.py [--quick]

Writes bench/results/wfm.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.logs import configure  # noqa: E402
from reports.kpi import KpiConfig, batch_report  # noqa: E402
from wfm.forecast import forecast  # noqa: E402
from wfm.history import Rejected, call_events, read_anonymous_bank  # noqa: E402
from wfm.plan_check import check_plan, plan_scenario  # noqa: E402
from wfm.schedule import solve  # noqa: E402
from wfm.staffing import mean_patience, requirements  # noqa: E402

LOG = ROOT / "data" / "anonymous-bank" / "february-1999.tsv"
TARGET_SL = 0.8


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 replications instead of 10")
    args = ap.parse_args()
    configure("warning")
    out: dict[str, object] = {}
    ok = True

    t = time.perf_counter()
    with LOG.open(newline="") as fh:
        calls = [c for _, c in read_anonymous_bank(fh) if c is not None and not isinstance(c, Rejected)]
    events = call_events(calls)
    report = batch_report(events, KpiConfig(interval_s=1800)).to_dict()
    read_s = time.perf_counter() - t
    served: dict[str, list[float]] = {}
    for c in calls:
        if c.answered:
            served.setdefault(c.queue, []).append(c.talk)
    aht_gap = max(abs(report["queues"][q]["total"]["aht"] - statistics.fmean(v)) for q, v in served.items())
    out["history"] = {"calls": len(calls), "events": len(events), "read_and_kpi_s": round(read_s, 2),
                      "aht": report["overall"]["aht"], "aht_by_type_max_gap_s": aht_gap,
                      "occupancy": report["overall"]["occupancy"]}  # fmt: skip
    ok &= aht_gap < 1.0 and read_s < 30
    print(f"history: {len(calls)} calls, {len(events)} events, read + KPI {read_s:.1f} s, "
          f"AHT {report['overall']['aht']:.1f} s (largest gap by type {aht_gap:.2e} s), "
          f"occupancy {report['overall']['occupancy']:.3f}")  # fmt: skip

    t = time.perf_counter()
    fc = forecast(calls, 1800, holdout_days=7)
    fc_s = time.perf_counter() - t
    assert fc.wape is not None and fc.seasonal_naive_wape is not None
    out["forecast"] = {"wape": fc.wape, "seasonal_naive_wape": fc.seasonal_naive_wape,
                       "ratio": fc.wape / fc.seasonal_naive_wape, "coverage_90": fc.coverage,
                       "aht_wape": fc.aht_wape, "seconds": round(fc_s, 2)}  # fmt: skip
    ok &= fc.wape <= 0.9 * fc.seasonal_naive_wape and fc_s < 20
    print(f"forecast: wape {fc.wape:.4f} vs seasonal naive {fc.seasonal_naive_wape:.4f} "
          f"(ratio {fc.wape / fc.seasonal_naive_wape:.3f}), 90% coverage {fc.coverage:.3f}, {fc_s:.1f} s")  # fmt: skip

    train = [c for c in calls if c.queued_at < fc.train_end]
    patience = mean_patience(train)
    t = time.perf_counter()
    req = requirements([i.start for i in fc.intervals], [i.volume for i in fc.intervals],
                       [i.aht for i in fc.intervals], 1800, patience, TARGET_SL, 20.0, 0.2)  # fmt: skip
    req_s = time.perf_counter() - t
    t = time.perf_counter()
    sched = solve([r.scheduled for r in req], fc.train_end, 1800)
    solve_s = time.perf_counter() - t
    out["schedule"] = {"requirement_s": round(req_s, 2), "solve_s": round(solve_s, 2), "status": sched.status,
                       "paid_hours": sched.paid_hours, "headcount": sched.headcount,
                       "uncovered_intervals": len(sched.uncovered)}  # fmt: skip
    ok &= solve_s < 10
    print(f"schedule: requirement {req_s:.2f} s, HiGHS {solve_s:.2f} s ({sched.status}), paid {sched.paid_hours} h, "
          f"headcount {sched.headcount}")  # fmt: skip

    by_q = {q: statistics.fmean(c.talk for c in train if c.answered and c.queue == q) for q in {c.queue for c in train}}
    sc, arrivals = plan_scenario(calls, sched.shifts, fc.train_end, 7, patience, by_q, 20.0, 1800, 0.2)
    n = 3 if args.quick else 10
    t = time.perf_counter()
    check = check_plan(sc, arrivals, n, 1)
    sim_s = time.perf_counter() - t
    sl, iv = check.summary["service_level"], check.summary["ci95"]["service_level"]
    out["check"] = {"replications": n, "seconds": round(sim_s, 2), "service_level": sl, "ci95": iv,
                    "abandon_rate": check.summary["abandon_rate"], "asa": check.summary["asa"]}  # fmt: skip
    ok &= iv[0] >= TARGET_SL and (args.quick or sim_s < 60)
    print(f"check: {n} replications in {sim_s:.1f} s, SL {sl:.4f} 95% [{iv[0]:.4f}, {iv[1]:.4f}] "
          f"(target {TARGET_SL})")  # fmt: skip

    out["ok"] = bool(ok)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "wfm.json").write_text(json.dumps(out, indent=2) + "\n")
    print("ok" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
