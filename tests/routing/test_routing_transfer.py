"""Transfers as the router sees them: the PBX rings another agent for a connected call
(CallOffered for a CONNECTED call); the call moves when that agent connects, the agent
who handed it away is free without wrap-up, and a transfer not completed frees the
agent it rang (no answer: RONA-free; cancelled: the caller is back, CallResumed)."""

from __future__ import annotations

from events import CallConnected, CallEnded, CallNotAnswered, CallOffered, CallQueued, CallResumed
from routing import AgentProfile, Offer
from tests.routing.test_routing_scenarios import Harness

RULES = """
[defaults]
wrap_up_s = 30
[queues.billing]
targets = [{ expression = "skills.billing > 0" }]
"""
AGENTS = [AgentProfile("ada", {"billing": 5}), AgentProfile("bob", {"billing": 3})]


def connected_to_ada() -> Harness:
    h = Harness(RULES, AGENTS)
    h.login(0, "ada")
    [offer] = [d for d in h.send(CallQueued(at=1, call_id="c1", queue="billing")) if isinstance(d, Offer)]
    assert offer.agent_id == "ada"
    h.send(CallConnected(at=2, call_id="c1", agent_id="ada", queue="billing"))
    h.login(3, "bob")
    h.send(CallOffered(at=4, call_id="c1", agent_id="bob", queue="billing"))  # the transfer rings bob
    assert h.router.agent_state("bob") == "reserved"
    return h


def test_a_completed_transfer_moves_the_call_and_wrap_up_follows_its_end() -> None:
    h = connected_to_ada()
    h.send(CallConnected(at=5, call_id="c1", agent_id="bob", queue="billing"))
    assert (h.router.agent_state("ada"), h.router.agent_state("bob")) == ("available", "on_call")
    h.send(CallEnded(at=9, call_id="c1"))
    assert (h.router.agent_state("ada"), h.router.agent_state("bob")) == ("available", "wrap_up")


def test_the_caller_back_from_hold_during_a_completing_transfer_does_not_free_the_target() -> None:
    """Completing an attended transfer, the PBX reports the caller off hold (CallResumed)
    before the target's CallConnected: a waiting call must not be offered to the target
    in between."""
    h = connected_to_ada()
    h.send(CallQueued(at=4.5, call_id="c2", queue="billing"))  # waits: nobody free
    assert not [d for d in h.send(CallResumed(at=5, call_id="c1", agent_id="ada")) if isinstance(d, Offer)]
    h.send(CallConnected(at=5, call_id="c1", agent_id="bob", queue="billing"))
    assert (h.router.agent_state("ada"), h.router.agent_state("bob")) == ("reserved", "on_call")


def test_a_transfer_not_answered_frees_the_agent_without_a_miss() -> None:
    h = connected_to_ada()
    h.send(CallNotAnswered(at=20, call_id="c1", agent_id="bob", queue="billing"))
    assert (h.router.agent_state("ada"), h.router.agent_state("bob")) == ("on_call", "available")
