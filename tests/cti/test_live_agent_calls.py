"""The live loop's agent -> call index (cti/live_calls.py) names the same call a scan of
every call in progress would: the earliest begun of those the agent is offered or on."""

from __future__ import annotations

import random

from cti.live_calls import AgentCalls, CallState


def scan(calls: dict[str, CallState], agent_id: str) -> str:
    for state in calls.values():
        if state.agent == agent_id or state.offered_to == agent_id:
            return state.call_id
    return ""


def test_the_index_agrees_with_a_scan_through_offers_connects_transfers_and_ends() -> None:
    rng = random.Random(7)
    agents = [f"a{n}" for n in range(6)] + [""]
    calls: dict[str, CallState] = {}
    index = AgentCalls()
    for step in range(5000):
        op = rng.random()
        if op < 0.3 or not calls:
            state = CallState(f"c{step}", offered_to=rng.choice(agents))
            calls[state.call_id] = state
            index.add(state)
        elif op < 0.8:
            state = rng.choice(list(calls.values()))
            setattr(state, rng.choice(("agent", "offered_to")), rng.choice(agents))
        else:
            state = calls.pop(rng.choice(list(calls)))
            index.remove(state)
            state.agent = "a1"  # a call no longer followed changes nothing
        for agent in agents[:-1]:
            assert index.first(agent) == scan(calls, agent), (step, agent)


def test_a_call_replaced_at_restart_recovery_is_indexed_once() -> None:
    index = AgentCalls()
    first = CallState("c1", agent="a1")
    index.add(first)
    index.remove(first)
    again = CallState("c1", agent="a2")
    index.add(again)
    assert (index.first("a1"), index.first("a2")) == ("", "c1")
