"""The screen-pop hub's agent <-> call index (agents/call_agents.py) answers as the
scan of every agent's current call it replaced did, whatever the order of binds and
unbinds (a transfer binds a second agent to a call; a ring-no-answer leaves an agent
bound until their next call)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agents.call_agents import CallAgents

AGENTS = [f"a{i}" for i in range(6)]
CALLS = [f"c{i}" for i in range(4)]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("bind"), st.sampled_from(AGENTS), st.sampled_from(CALLS)),
        st.tuples(st.just("unbind"), st.sampled_from(AGENTS), st.just("")),
    ),
    max_size=60,
)


@given(ops)
def test_the_index_answers_as_the_scan_of_every_agent_did(steps: list[tuple[str, str, str]]) -> None:
    index, scanned = CallAgents(), dict[str, str]()
    for op, agent, call in steps:
        if op == "bind":
            index.bind(agent, call)
            scanned[agent] = call
        else:
            index.unbind(agent)
            scanned.pop(agent, None)
        for c in CALLS:
            assert index.agent_on(c) == next((a for a, on in scanned.items() if on == c), "")
        assert all(index.call_of(a) == scanned.get(a) for a in AGENTS)
        assert len(index) == len(scanned)


def test_a_transferred_call_is_with_the_agent_first_given_a_call() -> None:
    index = CallAgents()
    index.bind("bob", "c0")
    index.bind("alice", "c1")
    index.bind("alice", "c0")  # bob transferred c0 to alice: both bound to it
    assert index.agent_on("c0") == "bob" and index.agent_on("c1") == ""
    index.unbind("bob")
    assert index.agent_on("c0") == "alice"
