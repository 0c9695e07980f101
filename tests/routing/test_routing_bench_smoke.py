"""The benchmark runs and reports its figures (no speed assertions here: speed
targets live in bench/bench_router.py)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cti.cli import main
from routing import load_rules
from routing.benchmark import build_rules_text, run_benchmark


def test_benchmark_rules_are_valid_and_use_every_strategy():
    rules = load_rules(build_rules_text(12), "bench.toml")
    strategies = {t.strategy for q in rules.queues.values() for t in q.targets}
    strategies |= {t.strategy for q in rules.queues.values() for f in q.filters for t in f.targets}
    assert strategies == {
        "longest_idle",
        "most_skilled",
        "fewest_calls",
        "least_occupied",
        "round_robin",
        "random",
        "preferred_agent",
    }


def test_benchmark_run_reports_latencies():
    result = run_benchmark(agents=60, skills=6, waiting=20, seed=1, events=400)
    assert result["events"] == 400
    assert 0 < result["p50_us"] <= result["p99_us"] <= result["max_us"]
    assert result["decisions"] > 0 and result["events_per_s"] > 0
    assert sum(result["agents_by_state"].values()) == 60


def test_hotline_bench_router_prints_one_json_object():
    res = CliRunner().invoke(
        main,
        [
            "bench",
            "router",
            "--agents",
            "50",
            "--skills",
            "5",
            "--waiting",
            "10",
            "--events",
            "300",
            "--seed",
            "3",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    for key in ("agents", "events", "events_per_s", "p50_us", "p99_us"):
        assert key in data
    assert data["agents"] == 50 and data["events"] == 300
