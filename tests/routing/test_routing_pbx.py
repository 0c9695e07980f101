"""Several PBXs, one router: a call with attribute `agent_pbx` goes only to agents whose
profile attribute `pbx` names that PBX; a call without it goes to any agent."""

from __future__ import annotations

import pytest

from routing import AgentProfile, Offer
from tests.routing.test_routing_scenarios import Harness

RULES = """
[queues.billing]
targets = [{ expression = "skills.billing >= 1", strategy = "%s" }]
"""
AGENTS = [
    AgentProfile("paris1", skills={"billing": 5}, attributes={"pbx": "paris"}),
    AgentProfile("lyon1", skills={"billing": 9}, attributes={"pbx": "lyon"}),
]


def offers(out: list) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in out if isinstance(d, Offer)]


@pytest.mark.parametrize("strategy", ["longest_idle", "most_skilled", "fewest_calls", "random"])
def test_a_call_restricted_to_its_pbx_waits_for_an_agent_of_that_pbx(strategy: str) -> None:
    h = Harness(RULES % strategy, AGENTS)
    h.login(0, "lyon1")  # the best and longest idle, but on lyon
    assert offers(h.queue(10, "c1", "billing", {"billing": 1}, agent_pbx="paris", pbx="paris")) == []
    # the agent-side path: paris1 frees up and takes the waiting call
    assert offers(h.login(20, "paris1")) == [("c1", "paris1")]
    # a call of lyon's (restricted too) goes to lyon1, one without restriction to anyone free
    assert offers(h.queue(30, "lyon:c2", "billing", {"billing": 1}, agent_pbx="lyon")) == [("lyon:c2", "lyon1")]


def test_a_call_without_the_restriction_crosses_to_any_pbx() -> None:
    h = Harness(RULES % "longest_idle", AGENTS)
    h.login(0, "lyon1")
    assert offers(h.queue(10, "c1", "billing", {"billing": 1}, pbx="paris")) == [("c1", "lyon1")]
