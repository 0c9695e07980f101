"""Router benchmark: per-event decision latency over a realistic mixed stream.

    .venv/bin/python bench/bench_router.py            # full: 1,000 and 10,000 agents
    .venv/bin/python bench/bench_router.py --quick    # smoke sizes

Issue targets (checked here, never in tests): p99 <= 1,000 us per event at 10,000
agents, 100 skills and 2,000 waiting calls; p99 at 10,000 agents no more than 3x the
p99 at 1,000 agents. Writes bench/results/router.json. The workload is described in
routing/benchmark.py; `hotline bench router` runs one configuration.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cti.logs import configure  # noqa: E402
from routing.benchmark import run_benchmark  # noqa: E402

P99_TARGET_US = 1000.0
RATIO_TARGET = 3.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--events", type=int, default=None, help="timed events per configuration")
    args = parser.parse_args(argv)
    configure("warning")  # structured logs to stderr, warnings and up

    if args.quick:
        sizes = [(100, 10, 50), (1000, 10, 200)]
        events = args.events or 5_000
    else:
        sizes = [(1000, 100, 2000), (10000, 100, 2000)]
        events = args.events or 200_000

    runs = []
    for agents, skills, waiting in sizes:
        result = run_benchmark(agents, skills, waiting, seed=args.seed, events=events)
        runs.append(result)
        print(
            f"router  agents={agents:>6} skills={skills:>4} waiting~{waiting:>5}  "
            f"events={result['events']:>7}  {result['events_per_s']:>8} ev/s  "
            f"p50={result['p50_us']:>7.1f} us  p99={result['p99_us']:>7.1f} us  max={result['max_us']:>9.1f} us  "
            f"cpu p99={result['cpu_p99_us']:>7.1f} us  "
            f"(waiting at end {result['waiting_at_end']}, swap {result['swap_rules_ms']} ms)"
        )
    small, large = runs[0], runs[-1]
    ratio = large["p99_us"] / small["p99_us"] if small["p99_us"] else float("inf")
    verdict = {
        "p99_at_largest_us": large["p99_us"],
        "p99_target_us": P99_TARGET_US,
        "p99_ok": large["p99_us"] <= P99_TARGET_US,
        "p99_ratio_largest_to_smallest": round(ratio, 2),
        "ratio_target": RATIO_TARGET,
        "ratio_ok": ratio <= RATIO_TARGET,
    }
    print(
        f"router  p99 at {large['agents']} agents: {large['p99_us']:.1f} us (target <= {P99_TARGET_US:.0f}: "
        f"{'ok' if verdict['p99_ok'] else 'MISSED'}); "
        f"p99 ratio {large['agents']}/{small['agents']} agents: {ratio:.2f} (target <= {RATIO_TARGET}: "
        f"{'ok' if verdict['ratio_ok'] else 'MISSED'})"
    )
    out = {
        "benchmark": "router",
        "quick": args.quick,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": runs,
        "verdict": verdict,
    }
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "router.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
