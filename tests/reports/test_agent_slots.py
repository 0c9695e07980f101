"""The live wallboard's open time summed over the agents' slots (reports/agent_slots.py)
is the agents' open time the fold knows, per state and team, from the day's start and
from the window's, through log-ins, log-outs and log-ins again."""

from __future__ import annotations

import random

import pytest

from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged
from reports.agent_slots import OpenTime
from reports.kpi import KpiConfig, KpiEngine

AGENTS = [f"a{n}" for n in range(40)]
TEAMS = {a: ("red" if n % 3 == 0 else "blue" if n % 3 == 1 else "") for n, a in enumerate(AGENTS)}
STATES = ("available", "paused", "wrap_up", "on_call", "reserved", "no-such-state")


def _open_time(states: list[tuple[str, str, float]], teams: dict[str, str], now: float, start: float) -> OpenTime:
    """The sum in Python, agent by agent, over the fold's open states."""
    acc: OpenTime = {}
    for agent, state, since in states:
        s = max(since, start)
        if now > s:
            key = (state, teams.get(agent) or "")
            acc[key] = acc.get(key, 0.0) + (now - s)
    return acc


def test_slot_sums_are_the_folds_open_time_per_state_and_team() -> None:
    rng = random.Random(5)
    engine = KpiEngine(KpiConfig(teams=TEAMS, window_s=600, slot_s=60))
    t = 10_000.0
    checked = 0
    for _ in range(3000):
        t += rng.random() * 2
        agent, r = rng.choice(AGENTS), rng.random()
        if r < 0.1:
            engine.apply(AgentLoggedIn(at=t, agent_id=agent))
        elif r < 0.15:
            engine.apply(AgentLoggedOut(at=t, agent_id=agent))
        else:
            engine.apply(AgentStateChanged(at=t, agent_id=agent, state=rng.choice(STATES)))
        if rng.random() < 0.05:
            now = t + rng.random() * 5
            start = engine.window_start(now)
            states = engine._fold.open_states(now)
            rule = now - rng.choice((60.0, 300.0))  # an alert rule's own, shorter window
            for got, want in (
                (engine._open_time(now, float("-inf")), _open_time(states, TEAMS, now, float("-inf"))),
                (engine._open_time(now, start), _open_time(states, TEAMS, now, start)),
                (engine._open_time(now, rule), _open_time(states, TEAMS, now, rule)),
            ):
                assert got.keys() == want.keys()
                assert got == pytest.approx(want, rel=1e-12, abs=1e-6)
                checked += 1
    assert checked > 300
    assert any(state == "other" for state, _team in engine._open_time(t + 1, float("-inf")))


def test_the_sums_do_not_depend_on_when_they_were_asked() -> None:
    """Two engines given the same events, one asked at every step, agree to the bit."""
    rng = random.Random(8)
    asked, quiet = (KpiEngine(KpiConfig(teams=TEAMS)) for _ in range(2))
    t = 0.0
    for _ in range(2000):
        t += rng.random()
        agent = rng.choice(AGENTS)
        event = (
            AgentLoggedOut(at=t, agent_id=agent)
            if rng.random() < 0.05
            else AgentStateChanged(at=t, agent_id=agent, state=rng.choice(STATES))
        )
        asked.apply(event)
        quiet.apply(event)
        asked._open_time(t + 0.5, float("-inf"))
    assert asked._open_time(t + 1, float("-inf")) == quiet._open_time(t + 1, float("-inf"))
