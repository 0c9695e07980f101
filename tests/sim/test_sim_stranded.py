"""The stranded-call check (sim/stranded.py) the soak and the restart tests fail on."""

from __future__ import annotations

from events import AgentStateChanged, CallEnded, CallNotAnswered, CallOffered, CallQueued
from sim.stranded import stranded_calls

SKILLS = {"ana": {"billing": 5, "es": 3}, "ben": {"billing": 5}}


def free(at: float, agent: str) -> AgentStateChanged:
    return AgentStateChanged(at=at, agent_id=agent, state="available")


def test_a_call_offered_within_the_limit_is_not_stranded() -> None:
    events = [
        free(0, "ben"),
        CallQueued(at=1, call_id="c1", skills={"billing": 1}),
        CallOffered(at=9, call_id="c1", agent_id="ben"),
    ]
    assert stranded_calls(events, SKILLS) == {}


def test_a_call_left_waiting_beside_a_free_agent_is_stranded_for_the_whole_stretch() -> None:
    events = [
        CallQueued(at=0, call_id="c1", skills={"billing": 1}),
        free(5, "ben"),  # free from 5 s: the stretch starts here, not at the arrival
        CallEnded(at=25, call_id="c1"),
    ]
    assert stranded_calls(events, SKILLS) == {"c1": 20}


def test_a_free_agent_without_the_calls_skill_does_not_count() -> None:
    events = [free(0, "ben"), CallQueued(at=0, call_id="c1", skills={"es": 1}), CallEnded(at=60, call_id="c1")]
    assert stranded_calls(events, SKILLS) == {}
    events.insert(2, free(30, "ana"))
    assert stranded_calls(events, SKILLS) == {"c1": 30}


def test_a_call_back_in_the_queue_after_a_ring_no_answer_is_watched_again() -> None:
    events = [
        free(0, "ana"),
        CallQueued(at=0, call_id="c1", skills={"billing": 1}),
        CallOffered(at=0.1, call_id="c1", agent_id="ana"),
        free(0.2, "ben"),
        CallNotAnswered(at=15, call_id="c1", agent_id="ana"),
        CallEnded(at=40, call_id="c1"),  # ben free all along, never offered it again
    ]
    assert stranded_calls(events, SKILLS) == {"c1": 25}
    assert stranded_calls(events, SKILLS, limit_s=30) == {}


def test_a_call_back_promised_to_an_agent_waits_for_them_alone_for_its_promise() -> None:
    """A call-back an agent promised (CallQueued's preferred_agent_s, cti/live_callbacks.py)
    is theirs alone that long: ben free beside it is no stranding until it lapses, and
    the promised agent free is one at once."""
    promised = {"preferred_agent": "ana", "preferred_agent_s": 30}
    events = [
        free(0, "ben"),
        CallQueued(at=0, call_id="cb1", attributes=promised),
        CallOffered(at=25, call_id="cb1", agent_id="ben"),
    ]
    assert stranded_calls(events, SKILLS) == {}
    events = [
        free(0, "ben"),
        CallQueued(at=0, call_id="cb1", attributes=promised),
        CallEnded(at=29, call_id="cb1"),  # within its promise: ben's being free does not count
        CallQueued(at=40, call_id="cb2", attributes=promised),
        free(71, "ben"),  # (the first event past the promise, at 70: counted from here)
        CallEnded(at=95, call_id="cb2"),
        CallQueued(at=100, call_id="cb3", attributes=promised),
        free(102, "ana"),
        CallEnded(at=120, call_id="cb3"),  # ana free beside her own promise
    ]
    assert stranded_calls(events, SKILLS) == {"cb2": 24, "cb3": 18}
