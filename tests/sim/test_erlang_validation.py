"""Seeded M/M/N and M/M/N+M runs through the real router converge to Erlang C and
Erlang A within the issue's tolerances. Two fast cases (~120k calls each; seeds 0-2
of each were checked to pass too, so seed 1 is not a lucky pick); the long
table over several loads up to saturation is in bench/bench_sim.py."""

from __future__ import annotations

import pytest

from sim.erlang import evaluate
from sim.run import run_streaming
from sim.scenario import mmn_scenario

TOL = {"p_wait": 0.01, "abandon_rate": 0.003, "service_level": 0.01, "occupancy": 0.005}


@pytest.mark.parametrize(
    "agents,calls_per_hour,aht,patience,hours",
    [
        (3, 108, 60, None, 1100),  # M/M/3, load 0.6, Erlang C
        (30, 1600, 60, 60, 75),  # M/M/30+M, load 0.89, 3% abandonment, Erlang A
    ],
)
def test_erlang_sim_converges_to_erlang(agents, calls_per_hour, aht, patience, hours):
    sc = mmn_scenario(agents, calls_per_hour, aht, patience, hours=hours, seed=1, warmup_s=3600)
    kpi, _stats = run_streaming(sc)
    th = evaluate(agents, calls_per_hour, aht, 20.0, patience)
    assert kpi["offered"] > 100_000
    got = {
        "p_wait": kpi["p_wait"],
        "abandon_rate": kpi["abandon_rate"],
        "service_level": kpi["service_level_offered"],  # answered within 20 s / offered
        "occupancy": kpi["occupancy"],
    }
    for key, tol in TOL.items():
        assert abs(got[key] - getattr(th, key)) <= tol, (key, got[key], getattr(th, key))
    assert kpi["asa"] == pytest.approx(th.asa, rel=0.05)
    assert kpi["answered"] + kpi["abandoned"] == kpi["offered"]
