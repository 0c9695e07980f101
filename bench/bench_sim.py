"""Simulator benchmark and Erlang validation table.

1. Simulated calls per wall-clock second for the 1,000-agent multi-skill day
   (config/examples/scenario-day.toml) through the real router, against a bare SimPy
   M/M/N model (simpy.Resource, same number of agents and calls) in the same run.
   Target: router model >= 50% of the bare rate. The router is the one the simulator
   runs: routing/router.py compiled with mypyc when built (routing/native.py), else
   the Python one; the model with the Python router is run and printed too.
2. Validation: long seeded M/M/N and M/M/N+M runs through the router vs Erlang C /
   Erlang A (tolerances: P(wait) 0.01, abandonment 0.003, ASA 5%, SL 0.01,
   occupancy 0.005).

    .venv/bin/python bench/bench_sim.py [--quick]

Writes bench/results/sim.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
import time
from pathlib import Path

import simpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.logs import configure  # noqa: E402
from routing.native import is_native, router_class  # noqa: E402
from sim.erlang import evaluate  # noqa: E402
from sim.model import CallCenterModel  # noqa: E402
from sim.run import load_rules_text, run_streaming  # noqa: E402
from sim.scenario import load_scenario, mmn_scenario  # noqa: E402

TOL = {"p_wait": 0.01, "abandon_rate": 0.003, "asa_rel": 0.05, "service_level": 0.01, "occupancy": 0.005}


def bare_mmn(agents: int, calls: int, rate_per_s: float, aht: float, seed: int) -> tuple[int, float, float]:
    """The textbook SimPy M/M/N: one process per call, a Resource of N agents."""
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=agents)
    rng = random.Random(seed)
    done = [0]

    def caller(env: simpy.Environment):
        with desk.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0 / aht))
        done[0] += 1

    def source(env: simpy.Environment):
        for _ in range(calls):
            yield env.timeout(rng.expovariate(rate_per_s))
            env.process(caller(env))

    env.process(source(env))
    t0, c0 = time.perf_counter(), time.process_time()
    env.run()
    return done[0], time.perf_counter() - t0, time.process_time() - c0


class _TimedRouter:
    """A router wrapper adding up the time spent in handle / next_deadline (to split
    the router's share of the model's time; not used for the rates). A wrapper, not a
    patched method: the compiled router's instances take no new attributes."""

    def __init__(self, router: object, clock=time.perf_counter) -> None:
        self._router = router
        self._clock = clock
        self.spent = 0.0

    def handle(self, event, now=None):
        t0 = self._clock()
        try:
            return self._router.handle(event, now)
        finally:
            self.spent += self._clock() - t0

    def next_deadline(self):
        t0 = self._clock()
        try:
            return self._router.next_deadline()
        finally:
            self.spent += self._clock() - t0

    @property
    def deadline_epoch(self) -> int:
        return self._router.deadline_epoch

    def __getattr__(self, name: str):
        return getattr(self._router, name)


def throughput(quick: bool, repeats: int) -> dict:
    """Best of `repeats` interleaved runs of each model (the machine may be shared):
    the router model with the router the simulator uses (compiled when built), the
    same model with the Python router (for the record), and the bare SimPy model."""
    sc = load_scenario(ROOT / "config/examples/scenario-day.toml")
    if quick:
        sc = dataclasses.replace(sc, duration_s=1800.0)
    rules = load_rules_text(sc.rules_text, sc.rules_filename)
    agents = sum(g.count for g in sc.agents)
    aht = 270.0  # about the day's mean handle + wrap-up time
    sim_router = router_class()
    py_router = router_class("python")
    best_router = best_py = best_bare = None
    router_cpu = py_cpu = bare_cpu = float("inf")
    for _ in range(repeats):
        model = CallCenterModel(sc, rules, keep_events=False)
        c0 = time.process_time()
        st = model.run()
        router_cpu = min(router_cpu, time.process_time() - c0)
        if best_router is None or st.wall_s < best_router.wall_s:
            best_router = st
        if py_router is not sim_router:
            model = CallCenterModel(sc, rules, keep_events=False, router_factory=py_router)
            c0 = time.process_time()
            st_py = model.run()
            py_cpu = min(py_cpu, time.process_time() - c0)
            if best_py is None or st_py.wall_s < best_py.wall_s:
                best_py = st_py
        calls, wall, cpu = bare_mmn(agents, st.calls, st.calls / max(sc.duration_s, 1.0), aht, seed=1)
        bare_cpu = min(bare_cpu, cpu)
        if best_bare is None or wall < best_bare[1]:
            best_bare = (calls, wall)
    # one more run with a timing wrapper around router.handle / next_deadline: how much
    # of the router model's time is the router itself (not counted in the rates above)
    timed: list[_TimedRouter] = []

    def timed_factory(rules_, seed=0):
        timed.append(_TimedRouter(sim_router(rules_, seed=seed)))
        return timed[-1]

    shim = CallCenterModel(sc, rules, keep_events=False, router_factory=timed_factory).run()
    spent = timed[0].spent
    router_share = spent / shim.wall_s
    stats = best_router
    assert stats is not None and best_bare is not None
    router_rate = stats.calls / stats.wall_s
    sim_span = stats.end_s - sc.start_s
    calls, wall = best_bare
    bare_rate = calls / wall
    out = {
        "scenario": sc.name,
        "agents": agents,
        "simulated_hours": sim_span / 3600.0,
        "router": "compiled (mypyc)" if is_native(sim_router) else "python",
        "router_calls": stats.calls,
        "router_events": stats.events,
        "router_wall_s": stats.wall_s,
        "router_calls_per_s": router_rate,
        "bare_calls": calls,
        "bare_wall_s": wall,
        "bare_calls_per_s": bare_rate,
        "ratio": router_rate / bare_rate,
        "router_calls_per_cpu_s": stats.calls / router_cpu,
        "bare_calls_per_cpu_s": calls / bare_cpu,
        "ratio_cpu": (stats.calls / router_cpu) / (calls / bare_cpu),
        "target_ratio": 0.5,
        "repeats": repeats,
        "router_share_of_model_time": router_share,
        "router_us_per_call": spent / shim.calls * 1e6,
        "model_us_per_call_excluding_router": (shim.wall_s - spent) / shim.calls * 1e6,
        "bare_us_per_call": wall / calls * 1e6,
    }
    if best_py is not None:
        out.update(
            {
                "python_router_wall_s": best_py.wall_s,
                "python_router_calls_per_s": best_py.calls / best_py.wall_s,
                "python_router_ratio": (best_py.calls / best_py.wall_s) / bare_rate,
                "python_router_ratio_cpu": (best_py.calls / py_cpu) / (calls / bare_cpu),
            }
        )
    return out


# (agents, calls/h, AHT s, patience s or None, hours)
CASES = [
    (3, 108, 60, None, 3000),  # M/M/3, load 0.6
    (50, 540, 300, None, 1000),  # M/M/50, load 0.9
    (10, 110, 300, None, 4000),  # M/M/10, load 0.917
    (100, 1150, 300, None, 600),  # M/M/100, load 0.958 (near saturation)
    (30, 1600, 60, 60, 250),  # M/M/30+M, load 0.89
    (10, 120, 300, 180, 3000),  # M/M/10+M, load 1.0
    (50, 660, 300, 300, 600),  # M/M/50+M, load 1.1 (overloaded: abandonment carries it)
]
QUICK_CASES = [(20, 540, 120, None, 40), (20, 600, 120, 90, 40)]  # 2 runs of 20 h each


def validation(quick: bool, on_row=None, reps: int = 4, skip: set[tuple] = frozenset()) -> list[dict]:
    """Each case: `reps` independent seeded runs of hours/reps each (after a warm-up);
    the table shows their pooled mean (equal weights) and a 95% confidence half-width
    from the spread between runs, so a miss can be told from noise."""
    rows = []
    t95 = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 8: 2.36}.get(reps, 2.0)
    for agents, cph, aht, pat, hours in QUICK_CASES if quick else CASES:
        if (agents, cph, aht, pat) in skip:
            continue
        t0 = time.perf_counter()
        runs = []
        calls = 0
        for r in range(reps):
            sc = mmn_scenario(agents, cph, aht, pat, hours=math.ceil(hours / reps), seed=11 + r,
                              warmup_s=3600 if quick else 4 * 3600)  # fmt: skip
            k, _stats = run_streaming(sc)  # incremental KPI engine, no event list kept
            runs.append(dict(k, service_level=k["service_level_offered"]))
            calls += k["offered"]
        wall = time.perf_counter() - t0
        e = evaluate(agents, cph, aht, 20.0, pat)
        row = {
            "model": f"M/M/{agents}" + ("" if pat is None else f"+M(patience {pat:g}s)"),
            "model_args": [agents, cph, aht, pat],
            "calls_per_hour": cph,
            "aht_s": aht,
            "patience_s": pat,
            "load": e.offered_load / agents,
            "calls": calls,
            "runs": reps,
            "wall_s": wall,
        }
        ok = True
        for key in ("p_wait", "abandon_rate", "asa", "service_level", "occupancy"):
            vals = [(x[key] or 0.0) for x in runs]
            mean = sum(vals) / len(vals)
            sd = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5 if len(vals) > 1 else 0.0
            half = t95 * sd / len(vals) ** 0.5
            th = getattr(e, key)
            tol = TOL["asa_rel"] * th if key == "asa" else TOL[key]
            good = abs(mean - th) <= max(tol, 0.05 if key == "asa" else 0.0)
            row[key] = {"sim": mean, "ci95": half, "erlang": th, "tolerance": tol, "ok": good,
                        "erlang_inside_ci": abs(mean - th) <= half}  # fmt: skip
            ok = ok and good
        row["ok"] = ok
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--repeats", type=int, default=None, help="throughput runs per model (best of; default 3, quick 1)")
    ap.add_argument("--skip-validation", action="store_true")
    ap.add_argument(
        "--resume",
        action="store_true",
        help="reuse bench/results/sim.partial.json (throughput and finished cases) from an interrupted run",
    )
    args = ap.parse_args()
    configure("error")
    print("== throughput: 1,000-agent multi-skill day through the real router vs bare SimPy M/M/N")
    partial_path = ROOT / "bench/results/sim.partial.json"
    previous: dict = json.loads(partial_path.read_text()) if args.resume and partial_path.exists() else {}
    t = previous.get("throughput") or throughput(args.quick, args.repeats or (1 if args.quick else 3))
    print(
        f"router model : {t['router_calls']:>8} calls in {t['router_wall_s']:7.2f} s = "
        f"{t['router_calls_per_s']:9.0f} calls/s"
        f"  ({t['router_events']} events, {t['simulated_hours']:.1f} simulated h; {t['router']} router)"
    )
    print(
        f"bare SimPy   : {t['bare_calls']:>8} calls in {t['bare_wall_s']:7.2f} s = {t['bare_calls_per_s']:9.0f} calls/s"
    )
    print(
        f"ratio        : {t['ratio']:.2f} (target >= {t['target_ratio']:.2f}) "
        f"{'OK' if t['ratio'] >= 0.5 else 'BELOW TARGET'}"
    )
    print(
        f"CPU time     : router model {t['router_calls_per_cpu_s']:.0f} calls/CPU-s, "
        f"bare {t['bare_calls_per_cpu_s']:.0f} calls/CPU-s, "
        f"ratio {t['ratio_cpu']:.2f} (less sensitive to a busy machine)"
    )
    if "python_router_ratio" in t:
        print(
            "Python router: the same model with the router not compiled: "
            f"{t['python_router_calls_per_s']:.0f} calls/s, "
            f"ratio {t['python_router_ratio']:.2f} (CPU {t['python_router_ratio_cpu']:.2f}), for the record"
        )
    print(
        f"split        : router.handle/next_deadline {t['router_us_per_call']:.0f} us/call "
        f"({t['router_share_of_model_time']:.0%} of the model's time), model + SimPy "
        f"{t['model_us_per_call_excluding_router']:.0f} us/call, bare SimPy {t['bare_us_per_call']:.0f} us/call"
    )
    print()
    print("== validation: seeded runs through the router vs Erlang C / Erlang A")
    head = (
        f"{'model':<28}{'load':>6}{'calls':>9} | {'P(wait) sim±ci/th':>22} | {'abandon sim±ci/th':>22} | "
        f"{'ASA sim±ci/th':>22} | {'SL sim±ci/th':>20} | {'occ sim±ci/th':>20} | ok"
    )
    print(head)
    print("-" * len(head))

    def show(r: dict) -> None:
        def c(k: str, fmt: str = ".4f") -> str:
            mark = "" if r[k]["ok"] else "*"
            return f"{r[k]['sim']:{fmt}}±{r[k]['ci95']:{fmt}}/{r[k]['erlang']:{fmt}}{mark}"

        print(
            f"{r['model']:<28}{r['load']:>6.3f}{r['calls']:>9} | {c('p_wait'):>22} | {c('abandon_rate'):>22} | "
            f"{c('asa', '.2f'):>22} | {c('service_level', '.3f'):>20} | {c('occupancy', '.3f'):>20} | "
            f"{'yes' if r['ok'] else 'NO'}",
            flush=True,
        )
        partial = ROOT / "bench/results/sim.partial.json"
        partial.parent.mkdir(parents=True, exist_ok=True)
        done.append(r)
        partial.write_text(json.dumps({"throughput": t, "validation": done}, indent=2) + "\n")

    done: list[dict] = []
    for r in previous.get("validation", []):
        show(r)
    skip = {(r["model_args"][0], r["model_args"][1], r["model_args"][2], r["model_args"][3])
            for r in previous.get("validation", []) if "model_args" in r}  # fmt: skip

    rows = [] if args.skip_validation else validation(args.quick, show, reps=2 if args.quick else 4, skip=skip)
    rows = done if not args.skip_validation else rows
    if args.quick:
        print("(--quick: far too few calls to meet the tolerances; a smoke test of the code path only)")
    print(
        "(* = outside tolerance: P(wait) 0.01, abandonment 0.003, ASA 5%, SL 0.01, occupancy 0.005;"
        " ±ci = 95% half-width from the spread of the independent runs)"
    )
    out = ROOT / "bench/results/sim.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"quick": args.quick, "throughput": t, "validation": rows}, indent=2) + "\n")
    (ROOT / "bench/results/sim.partial.json").unlink(missing_ok=True)
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
