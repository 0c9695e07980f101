"""bench/bench_live_scale.py runs end to end with tiny figures (so it cannot rot):
the server and the emulator in their own processes, PostgreSQL, Redis, desktops and a
wallboard connected. No speed assertions here: the targets are the benchmark's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("agents", "calls_per_s", "calls", "lost", "cpu_ms_per_call", "p99_offer_ms", "p99_pop_ms", "rss_mb")


def test_the_scale_benchmark_runs_and_prints_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "live_scale.json"
    args = [
        "--agents",
        "30",
        "--calls-per-s",
        "5",
        "--minutes",
        "0.05",
        "--sockets",
        "10",
        "--wallboards",
        "1",
        "--idle-s",
        "1",
    ]
    args += ["--talk-s", "1", "--drain-s", "30", "--out", str(out)]
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_live_scale.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures == json.loads(out.read_text())
    assert all(key in figures for key in KEYS), figures
    assert (figures["agents"], figures["calls"], figures["arrived"], figures["lost"]) == (30, 15, 15, 0)
    assert figures["cpu_ms_per_call"] > 0 and figures["rss_mb"] > 0
    assert figures["p99_offer_ms"] is not None and figures["p99_offer_ms"] > 0
    # the desktops of the 10 first agents got the pops of the calls offered to them
    assert figures["pops"] > 0 and figures["p99_pop_ms"] > 0
    assert figures["wallboard_messages"] > 0
