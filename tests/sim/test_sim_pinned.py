"""The simulator's output for a seed, pinned: every event of a run (its repr, fields and
float values exactly) hashed, the run's counts, and the KPIs of the example day.

Speed-ups of the model must not change a single result; these pins say so. Change a
pin only when the model's behaviour changes on purpose (and say why in the commit).
Both router builds (Python and compiled) give the same streams."""

from __future__ import annotations

import dataclasses
import gc
import hashlib

import pytest

from routing import load_rules
from routing.native import router_class
from sim.model import CallCenterModel
from sim.run import run_streaming
from sim.scenario import Scenario, load_scenario, parse_scenario
from tests.sim.test_sim_model import EXAMPLES, SMALL


def _small() -> Scenario:
    """Two queues, RONA 5 %, a shift ending mid-run, constant wrap-up (tests/sim/test_sim_model.py)."""
    return parse_scenario(SMALL.replace("RULES", "scenario-day-rules.toml"), "small.toml", base_dir=EXAMPLES)


def _day(hours: float) -> Scenario:
    """The 1,000-agent example day, cut short (drained at the end)."""
    sc = load_scenario(EXAMPLES / "scenario-day.toml")
    return dataclasses.replace(sc, duration_s=hours * 3600.0)


# name -> (scenario, calls, events, ticks, decisions, sha256 of the events' reprs)
PINS = {
    "small": (
        _small,
        399,
        2020,
        268,
        {"AgentStateChanged": 610, "Offer": 204, "Escalated": 228},
        "e750cfbd4c2af71a74184ba896e58ff349e5ac2a35eb64999907dc68870df545",
    ),
    "day-3h": (
        lambda: _day(3),
        24860,
        200897,
        389,
        {"AgentStateChanged": 75618, "Offer": 25000, "Escalated": 90},
        "e70a248b0ef93ec6d5fe4fd483652a1dfa75c5b64c2f5a2754209f59fde1797f",
    ),
    "blended": (
        lambda: load_scenario(EXAMPLES / "scenario-blended.toml"),
        371,
        1708,
        0,
        {"AgentStateChanged": 299, "Offer": 331},
        "99cd616cccc41ea8a97a43b380424df77539615d3a0704843ce55f1d89964088",
    ),
    "bank-replay": (
        lambda: load_scenario(EXAMPLES / "scenario-bank-replay.toml"),
        1499,
        10397,
        0,
        {"AgentStateChanged": 4431, "Offer": 1474},
        "e76c19adc4c9ca053babc486a5142251b256e81b2bf02c9e78b7406f017d3b26",
    ),
    "mmn": (
        lambda: load_scenario(EXAMPLES / "scenario-mmn.toml"),
        2845,
        19314,
        0,
        {"AgentStateChanged": 8172, "Offer": 2720},
        "4097bac46e1cf4101786dfcb60c635e556075580f96f44bfec14e4784e07fd93",
    ),
}


@pytest.mark.parametrize("build", ["python", "native"])
@pytest.mark.parametrize("name", list(PINS))
def test_sim_event_stream_is_pinned(name: str, build: str) -> None:
    make, calls, events, ticks, decisions, digest = PINS[name]
    sc = make()
    rules = load_rules(sc.rules_text, sc.rules_filename)
    h = hashlib.sha256()
    seen: list[int] = [0]

    def sink(e: object) -> None:
        seen[0] += 1
        h.update(repr(e).encode())

    stats = CallCenterModel(sc, rules, keep_events=False, sink=sink, router_factory=router_class(build)).run()
    got = (stats.calls, stats.events, stats.ticks, stats.decisions, h.hexdigest())
    assert got == (calls, events, ticks, decisions, digest)
    assert seen[0] == stats.events
    # the same run keeping the events, and with no one reading them: the same counts
    kept = CallCenterModel(sc, rules, router_factory=router_class(build))
    again = kept.run()
    assert len(kept.events) == again.events == events
    assert hashlib.sha256(b"".join(repr(e).encode() for e in kept.events)).hexdigest() == digest
    bare = CallCenterModel(sc, rules, keep_events=False, router_factory=router_class(build)).run()
    assert (bare.calls, bare.events, bare.ticks, bare.decisions, bare.end_s) == (
        calls,
        events,
        ticks,
        decisions,
        stats.end_s,
    )


def test_sim_day_kpis_are_pinned() -> None:
    """The KPIs of the example day's first 3 hours (the incremental KPI engine)."""
    kpis, stats = run_streaming(_day(3))
    got = {k: kpis[k] for k in ("offered", "answered", "abandoned", "asa", "service_level_offered", "occupancy")}
    assert got == {
        "offered": 24860,
        "answered": 24698,
        "abandoned": 162,
        "asa": 4.816666809459186,
        "service_level_offered": 0.9438455349959775,
        "occupancy": 0.6867214742953456,
    }
    assert stats.router_build == "compiled"


def test_sim_run_keeps_older_objects_out_of_the_collector() -> None:
    """During a run the objects alive before it are frozen (gc.freeze: collections skip
    them) and young collections are rarer (~15% of a 1,000-agent day), both handed back
    after; a caller's own freeze is left as it is."""
    sc = _small()
    rules = load_rules(sc.rules_text, sc.rules_filename)
    during: list[tuple[int, int]] = []

    def sink(_e: object) -> None:
        if not during:
            during.append((gc.get_freeze_count(), gc.get_threshold()[0]))

    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    CallCenterModel(sc, rules, keep_events=False, sink=sink).run()
    assert during[0][0] > 0
    assert during[0][1] == 50_000
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    gc.freeze()
    try:
        during.clear()
        CallCenterModel(sc, rules, keep_events=False, sink=sink).run()
        assert during[0][0] > 0
        assert during[0][1] == before[0]  # not touched
        assert gc.get_freeze_count() > 0  # still frozen
    finally:
        gc.unfreeze()
