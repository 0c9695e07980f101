"""Router scenarios: escalation timing, RONA, wrap-up, priority, strategies, live rule
swap, overflow and final step, bad input."""

from __future__ import annotations

from typing import Any

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallHeld,
    CallNotAnswered,
    CallQueued,
    CallRejected,
    WrapUpEnded,
)
from routing import AgentProfile, Escalated, FinalStep, Offer, Overflowed, Tick, load_rules
from routing.native import router_class


class Harness:
    def __init__(self, text: str, agents: list[AgentProfile], seed: int = 0) -> None:
        self.router = router_class()(load_rules(text), seed=seed)  # the build under test: see conftest
        for profile in agents:
            self.router.add_agent(profile)
        self.log: list[Any] = []

    def send(self, event: Any) -> list[Any]:
        out = self.router.handle(event, event.at)
        self.log.extend(out)
        return out

    def login(self, at: float, *agent_ids: str) -> list[Any]:
        out: list[Any] = []
        for aid in agent_ids:
            out += self.send(AgentLoggedIn(at=at, agent_id=aid))
        return out

    def queue(
        self,
        at: float,
        call_id: str,
        queue: str,
        skills: dict[str, int] | None = None,
        priority: int = 0,
        **attributes: Any,
    ) -> list[Any]:
        return self.send(
            CallQueued(
                at=at, call_id=call_id, queue=queue, skills=skills or {}, priority=priority, attributes=attributes
            )
        )

    def tick(self, at: float) -> list[Any]:
        return self.send(Tick(at))

    def talk(self, at: float, call_id: str, agent_id: str) -> list[Any]:
        return self.send(CallConnected(at=at, call_id=call_id, agent_id=agent_id))

    def end(self, at: float, call_id: str) -> list[Any]:
        return self.send(CallEnded(at=at, call_id=call_id))


def offers(decisions: list[Any]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions if isinstance(d, Offer)]


def states(decisions: list[Any]) -> list[tuple[str, str, str]]:
    return [(d.agent_id, d.state, d.reason) for d in decisions if isinstance(d, AgentStateChanged)]


def ap(agent_id: str, **skills: int) -> AgentProfile:
    return AgentProfile(agent_id=agent_id, skills=skills)


# ---------------------------------------------------------------- escalation timing

ESCALATION = """
[queues.billing]
[[queues.billing.targets]]
expression = "skills.billing >= 8"
timeout_s = 30
[[queues.billing.targets]]
expression = "skills.billing >= 5"
timeout_s = 60
[[queues.billing.targets]]
expression = "skills.billing >= 1"
"""


def test_call_escalates_exactly_when_its_target_times_out():
    h = Harness(ESCALATION, [ap("a5", billing=5)])
    h.login(0, "a5")
    assert h.queue(10, "c1", "billing", {"billing": 1}) == []
    assert h.router.next_deadline() == 40.0
    assert h.tick(39.9) == []
    out = h.tick(40)
    assert isinstance(out[0], Escalated) and out[0].target_index == 1
    assert "target 1 'skills.billing >= 8' timed out after 30 s" in out[0].reason
    assert offers(out) == [("c1", "a5")]
    offer = next(d for d in out if isinstance(d, Offer))
    assert offer.target_index == 1 and offer.rules_version == 1
    assert offer.reason == "queue billing; target 2 'skills.billing >= 5' after 30 s; longest idle 40 s; rules v1"


def test_a_late_tick_keeps_the_exact_escalation_times():
    h = Harness(ESCALATION, [ap("a2", billing=2)])
    h.login(0, "a2")
    h.queue(50, "c2", "billing", {"billing": 1})
    out = h.tick(85)  # target 1 timed out at 80, not 85
    assert [type(d).__name__ for d in out] == ["Escalated"]
    assert h.router.next_deadline() == 140.0  # 80 + 60
    out = h.tick(500)
    assert [d.target_index for d in out if isinstance(d, Escalated)] == [2]
    assert offers(out) == [("c2", "a2")]
    assert h.router.next_deadline() is None


def test_handle_fires_due_timers_before_the_event():
    h = Harness(ESCALATION, [ap("a5", billing=5), ap("b", billing=9)])
    h.login(0, "a5")
    h.queue(0, "c1", "billing", {"billing": 1})
    # no Tick was sent; the next event at t=31 first escalates c1 (due at 30)
    out = h.login(31, "b")
    assert [type(d).__name__ for d in out][:2] == ["Escalated", "Offer"]
    assert offers(out) == [("c1", "a5")]


# ---------------------------------------------------------------- RONA

RONA = """
[rona]
max_misses = 2
pause_reason = "no_answer"
skip_missed_agent = {skip}
[pause_reasons.no_answer]
[pause_reasons.lunch]
[queues.q]
"""


def test_rona_returns_the_call_to_the_head_of_the_queue():
    h = Harness(RONA.format(skip="false"), [ap("a1"), ap("a2")])
    h.login(0, "a1", "a2")
    h.queue(1, "c0", "q")  # a1 (longest idle)
    h.talk(2, "c0", "a1")
    assert offers(h.queue(3, "c1", "q")) == [("c1", "a2")]
    h.queue(4, "c2", "q")
    h.queue(5, "c3", "q")
    out = h.send(CallNotAnswered(at=20, call_id="c1", agent_id="a2"))
    # a2 has one miss (limit 2), stays available and gets c1 again: c1 is ahead of c2, c3
    assert offers(out) == [("c1", "a2")]
    assert h.router.agent_info("a2")["misses"] == 1


def test_rona_skips_the_agent_who_missed_and_pauses_after_n_misses():
    h = Harness(RONA.format(skip="true"), [ap("a1"), ap("a2")])
    h.login(0, "a1", "a2")
    assert offers(h.queue(1, "c1", "q")) == [("c1", "a1")]
    h.queue(2, "c2", "q")  # -> a2
    out = h.send(CallNotAnswered(at=20, call_id="c1", agent_id="a1"))
    # c1 is not offered to a1 again; a1 (1 miss) takes nothing else: nothing else waits
    assert offers(out) == []
    assert h.router.call_info("c1")["state"] == "waiting"
    assert h.router.agent_state("a1") == "available"
    h.queue(21, "c3", "q")  # c3 goes to a1: c1 excludes a1
    out = h.send(CallNotAnswered(at=40, call_id="c3", agent_id="a1"))
    assert ("a1", "paused", "no_answer") in states(out)  # second miss in a row
    assert h.router.agent_state("a1") == "paused"
    assert h.router.snapshot()["paused_by_reason"] == {"no_answer": 1}
    # the first free agent takes c1 (head of queue) before c3
    h.talk(41, "c2", "a2")
    out = h.end(50, "c2")
    assert offers(out) == [("c1", "a2")]
    # back from the RONA pause: misses start over
    h.send(AgentStateChanged(at=60, agent_id="a1", state="available"))
    assert h.router.agent_info("a1")["misses"] == 0


def test_an_answered_call_resets_the_miss_count():
    h = Harness(RONA.format(skip="true"), [ap("a1")])
    h.login(0, "a1")
    h.queue(1, "c1", "q")
    h.send(CallNotAnswered(at=10, call_id="c1", agent_id="a1"))
    h.queue(11, "c2", "q")
    h.talk(12, "c2", "a1")
    h.end(20, "c2")
    h.queue(21, "c3", "q")
    out = h.send(CallNotAnswered(at=30, call_id="c3", agent_id="a1"))
    assert h.router.agent_state("a1") == "available"
    assert not [s for s in states(out) if s[1] == "paused"]


def test_a_rejected_offer_goes_to_someone_else_without_a_miss():
    h = Harness(RONA.format(skip="true"), [ap("a1"), ap("a2")])
    h.login(0, "a1", "a2")
    h.queue(1, "c1", "q")  # -> a1
    out = h.send(CallRejected(at=2, call_id="c1", agent_id="a1", reason="wrong language"))
    assert offers(out) == [("c1", "a2")]
    assert h.router.agent_info("a1")["misses"] == 0
    assert h.router.agent_state("a1") == "available"
    h.send(CallNotAnswered(at=20, call_id="c1", agent_id="a2"))
    assert h.router.call_info("c1")["state"] == "waiting"  # a1 declined it, a2 missed it


# ---------------------------------------------------------------- wrap-up

WRAP = """
[defaults]
wrap_up_s = 0
[agents.slow]
wrap_up_s = 120
[queues.a]
wrap_up_s = 60
targets = [{ expression = "skills.a >= 1" }]
[queues.b]
targets = [{ expression = "skills.b >= 1" }]
"""


def test_wrap_up_of_one_queue_blocks_offers_from_every_queue():
    h = Harness(WRAP, [ap("x", a=5, b=5)])
    h.login(0, "x")
    h.queue(1, "ca", "a")
    h.talk(2, "ca", "x")
    out = h.end(100, "ca")
    assert states(out) == [("x", "wrap_up", "")]
    assert h.queue(110, "cb", "b") == []  # queue b has no wrap-up, yet x keeps a's full 60 s
    assert h.router.next_deadline() == 160.0
    assert h.tick(159) == []
    out = h.tick(160)
    assert states(out)[0] == ("x", "available", "")
    assert offers(out) == [("cb", "x")]
    h.talk(161, "cb", "x")
    out = h.end(170, "cb")  # queue b: no wrap-up
    assert states(out) == [("x", "available", "")]


def test_a_call_the_pbx_reports_connected_without_an_offer_keeps_the_agent_busy():
    """After a restart the resync reports calls already talking: the router believes
    the PBX (the agent is on a call), offers the waiting call only when it ends."""
    h = Harness(WRAP, [ap("x", a=5), ap("y", a=5)])
    h.login(0, "x", "y")
    # never queued here; the PBX names the queue it came from (its wrap-up applies)
    assert states(h.send(CallConnected(at=1, call_id="talking", agent_id="x", queue="a"))) == [("x", "on_call", "")]
    assert offers(h.queue(2, "waiting", "a")) == [("waiting", "y")]  # not x
    h.talk(3, "waiting", "y")
    assert h.queue(4, "next", "a") == []  # nobody free
    h.queue(5, "early", "a")
    assert states(h.talk(6, "early", "y")) == []  # a waiting call connected by the PBX: taken from the line
    out = h.end(10, "talking")
    assert states(out) == [("x", "wrap_up", "")]
    assert h.talk(11, "ghost", "nobody") == []  # an unknown agent: ignored as before
    out = h.tick(70)
    assert offers(out) == [("next", "x")]  # "early" is not offered again


def test_agent_wrap_up_applies_when_longer_and_can_end_early():
    h = Harness(WRAP, [ap("slow", a=5), AgentProfile("own", skills={"a": 5}, wrap_up_s=75)])
    h.login(0, "slow")
    h.queue(1, "c1", "a")
    h.talk(2, "c1", "slow")
    h.end(10, "c1")
    assert h.router.next_deadline() == 130.0  # rules: agents.slow = 120 > queue 60
    h.queue(20, "c2", "a")
    out = h.send(WrapUpEnded(at=30, call_id="c1", agent_id="slow"))
    assert offers(out) == [("c2", "slow")]
    assert h.router.next_deadline() is None  # the stale wrap-up timer is gone
    h.login(31, "own")
    h.queue(32, "c3", "a")
    h.talk(33, "c3", "own")
    h.end(40, "c3")
    assert h.router.agent_info("own")["wrap_up_until"] == 115.0  # profile 75 > queue 60


# ---------------------------------------------------------------- priority

PRIORITY = """
[queues.plain]
[queues.aged]
ageing = { every_s = 10, step = 1, max = 9 }
[queues.vip]
targets = [{ expression = "true", priority = 9 }]
"""


def _busy_agent(h: Harness) -> None:
    h.login(0, "x")
    h.queue(0, "warm", "plain")
    h.talk(0, "warm", "x")


def test_higher_priority_first_then_fifo():
    h = Harness(PRIORITY, [ap("x")])
    _busy_agent(h)
    h.queue(1, "low-old", "plain", priority=1)
    h.queue(2, "high", "plain", priority=5)
    h.queue(3, "low-new", "plain", priority=1)
    order = []
    for i, t in enumerate((10, 20, 30)):
        out = h.end(t, ["warm", "high", "low-old"][i])
        ((call, _),) = offers(out)
        order.append(call)
        h.talk(t, call, "x")
    assert order == ["high", "low-old", "low-new"]


def test_priority_ageing_lets_an_old_call_overtake():
    h = Harness(PRIORITY, [ap("x")])
    _busy_agent(h)
    h.queue(0, "old", "aged", priority=0)
    h.queue(44, "new", "aged", priority=3)
    # at t=45 the old call waited 45 s: 0 + 4 steps = 4 > 3 (the new one has not aged yet)
    assert offers(h.end(45, "warm")) == [("old", "x")]


def test_without_ageing_the_newer_higher_priority_call_wins():
    h = Harness(PRIORITY, [ap("x")])
    _busy_agent(h)
    h.queue(0, "old", "plain", priority=0)
    h.queue(25, "new", "plain", priority=3)
    assert offers(h.end(45, "warm")) == [("new", "x")]


def test_target_priority_replaces_the_call_priority():
    h = Harness(PRIORITY, [ap("x")])
    _busy_agent(h)
    h.queue(1, "p8", "plain", priority=8)
    h.queue(2, "vip", "vip", priority=0)
    assert offers(h.end(10, "warm")) == [("vip", "x")]


# ---------------------------------------------------------------- live rule swap

SWAP_V1 = """
version = 1
[queues.billing]
targets = [{ expression = "skills.billing >= 8" }]
"""
SWAP_V2 = """
[queues.billing]
targets = [{ expression = "skills.billing >= 5" }]
"""
SWAP_V3 = """
version = 10
[queues.billing]
targets = [
  { expression = "skills.billing >= 9", timeout_s = 30 },
  { expression = "skills.billing >= 9 and team == 'x'" },
]
"""


def test_live_swap_re_evaluates_waiting_calls_under_the_new_version():
    h = Harness(SWAP_V1, [ap("a5", billing=5)])
    h.login(0, "a5")
    h.queue(1, "c1", "billing", {"billing": 1})
    h.queue(2, "c2", "billing", {"billing": 1})
    assert h.router.rules_version == 1
    out = h.router.swap_rules(load_rules(SWAP_V2), now=5)
    assert h.router.rules_version == 2
    (offer,) = [d for d in out if isinstance(d, Offer)]
    assert (offer.call_id, offer.agent_id, offer.rules_version) == ("c1", "a5", 2)
    assert offer.reason.endswith("rules v2")
    # the file's own version is used when it is higher; c2 is re-placed by its wait
    out = h.router.swap_rules(load_rules(SWAP_V3), now=100)
    assert h.router.rules_version == 10
    (esc,) = [d for d in out if isinstance(d, Escalated)]
    assert (esc.call_id, esc.target_index, esc.rules_version) == ("c2", 1, 10)
    assert "re-evaluated" in esc.reason
    # a ringing call keeps ringing through a swap
    assert h.router.call_info("c1")["state"] == "offered"
    # an older version number than the current one does not go backwards
    h.router.swap_rules(load_rules(SWAP_V1), now=101)
    assert h.router.rules_version == 11


def test_swap_to_rules_without_the_queue_falls_back_to_call_skills():
    h = Harness(SWAP_V1, [ap("a5", billing=5), ap("s", sales=5)])
    h.login(0, "a5", "s")
    h.queue(1, "c1", "billing", {"billing": 1})
    out = h.router.swap_rules(load_rules("[queues.other]\n"), now=2)
    assert offers(out) == [("c1", "a5")]


# ---------------------------------------------------------------- overflow, final step

OVERFLOW = """
[queues.a]
overflow = { to = "b", after_s = 60 }
targets = [{ expression = "skills.a >= 1" }]
[queues.b]
final = { action = "callback", after_s = 120, destination = "cb-b" }
targets = [{ expression = "skills.b >= 1" }]
[queues.c]
overflow = { to = "b" }
targets = [{ expression = "skills.a >= 5", timeout_s = 10 }, { expression = "skills.a >= 3", timeout_s = 10 }]
[queues.d]
final = { action = "voicemail" }
targets = [{ expression = "skills.a >= 5", timeout_s = 10 }]
"""


def test_overflow_then_final_step():
    h = Harness(OVERFLOW, [ap("x", c=1)])
    h.queue(0, "c1", "a")
    out = h.tick(60)
    assert [(d.from_queue, d.to_queue) for d in out if isinstance(d, Overflowed)] == [("a", "b")]
    assert h.router.call_info("c1")["queue"] == "b"
    assert h.router.next_deadline() == 180.0  # 120 s in queue b
    out = h.tick(180)
    (final,) = [d for d in out if isinstance(d, FinalStep)]
    assert (final.action, final.destination, final.queue) == ("callback", "cb-b", "b")
    assert h.router.call_info("c1") is None
    assert h.router.next_deadline() is None


def test_overflow_and_final_when_targets_are_exhausted():
    h = Harness(OVERFLOW, [ap("bee", b=1)])
    h.queue(0, "c1", "c")
    h.queue(0, "c2", "d")
    out = h.tick(10)
    assert [type(d).__name__ for d in out] == ["Escalated", "FinalStep"]
    h.login(11, "bee")
    out = h.tick(20)  # c's second target times out: overflow to b, where bee takes it
    assert [type(d).__name__ for d in out][:2] == ["Overflowed", "Offer"]
    assert offers(out) == [("c1", "bee")]


# ---------------------------------------------------------------- strategies


def _strategy_rules(strategy: str, extra: str = "") -> str:
    return f"""
[queues.q]
targets = [{{ expression = "skills.s >= 1", strategy = "{strategy}" {extra} }}]
"""


def test_longest_idle_picks_who_waited_longest():
    h = Harness(_strategy_rules("longest_idle"), [ap("a", s=1), ap("b", s=9), ap("c", s=5)])
    h.login(0, "b")
    h.login(5, "a")
    h.login(7, "c")
    out = h.queue(10, "c1", "q")
    assert offers(out) == [("c1", "b")]
    assert "longest idle 10 s" in out[0].reason


def test_most_skilled_picks_the_highest_level_then_the_longest_idle():
    h = Harness(_strategy_rules("most_skilled"), [ap("a", s=3), ap("b", s=9), ap("c", s=9), ap("d", s=6)])
    h.login(0, "a")
    h.login(1, "c")
    h.login(2, "b")
    h.login(3, "d")
    out = h.queue(10, "c1", "q")
    assert offers(out) == [("c1", "c")]
    assert "most skilled: s 9" in out[0].reason


def test_fewest_calls():
    h = Harness(_strategy_rules("fewest_calls"), [ap("a", s=1), ap("b", s=1)])
    h.login(0, "a")
    h.login(1, "b")
    for i in range(2):  # a takes two calls (b is paused meanwhile)
        h.send(AgentStateChanged(at=2, agent_id="b", state="paused", reason="lunch"))
        h.queue(3 + i, f"x{i}", "q")
        h.talk(3 + i, f"x{i}", "a")
        h.end(3 + i, f"x{i}")
        h.send(AgentStateChanged(at=3 + i, agent_id="b", state="available"))
    out = h.queue(20, "c1", "q")
    assert offers(out) == [("c1", "b")]  # a was idle longer but took 2 calls
    assert "fewest calls: 0" in out[0].reason


def test_least_occupied():
    h = Harness(_strategy_rules("least_occupied"), [ap("a", s=1), ap("b", s=1)])
    h.login(0, "a", "b")
    h.queue(0, "x", "q")  # -> a
    h.talk(0, "x", "a")
    h.end(50, "x")  # a was busy 50 of 100 s
    h.queue(60, "y", "q")  # -> b (longest idle at 60 is b? no: least occupied: b has 0 %)
    assert h.router.call_info("y")["agent_id"] == "b"
    h.talk(60, "y", "b")
    h.end(90, "y")  # b busy 30 s
    out = h.queue(100, "z", "q")  # a: 50 %, b: 30 %
    assert offers(out) == [("z", "b")]
    assert "least occupied: 30%" in out[0].reason


def test_round_robin_rotates():
    h = Harness(_strategy_rules("round_robin"), [ap("a", s=1), ap("b", s=1), ap("c", s=1)])
    h.login(0, "a", "b", "c")
    got = []
    for i in range(6):
        out = h.queue(1 + i, f"c{i}", "q")
        ((call, agent),) = offers(out)
        got.append(agent)
        h.talk(1 + i, call, agent)
        h.end(1 + i, call)
    assert got == ["a", "b", "c", "a", "b", "c"]


def test_random_is_seeded_and_spreads():
    def run(seed: int) -> list[str]:
        h = Harness(_strategy_rules("random"), [ap(f"a{i}", s=1) for i in range(5)], seed=seed)
        h.login(0, *[f"a{i}" for i in range(5)])
        got = []
        for i in range(40):
            ((call, agent),) = offers(h.queue(1 + i, f"c{i}", "q"))
            got.append(agent)
            h.talk(1 + i, call, agent)
            h.end(1 + i, call)
        return got

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert len(set(run(1))) == 5


PREFERRED = """
[queues.q]
[[queues.q.filters]]
name = "known customer"
when = 'preferred_agent != ""'
targets = [
  { strategy = "preferred_agent", timeout_s = 20 },
  { expression = "skills.s >= 1" },
]
"""


def test_preferred_agent_waits_for_its_agent_until_the_timeout():
    h = Harness(PREFERRED, [ap("a", s=1), ap("b", s=1)])
    h.login(0, "a", "b")
    h.queue(0, "warm", "q")  # a busy
    h.talk(0, "warm", "a")
    assert h.queue(1, "c1", "q", preferred_agent="a") == []  # b is idle, yet c1 waits for a
    out = h.tick(21)
    assert offers(out) == [("c1", "b")]
    # the preferred agent frees up in time: it gets the call
    h.queue(30, "c2", "q", preferred_agent="a")
    out = h.end(40, "warm")
    assert offers(out) == [("c2", "a")]
    assert next(d for d in out if isinstance(d, Offer)).target_index == 0  # still the preferred target
    # no such agent: the preferred target is skipped at once
    h.talk(41, "c2", "a")
    h.talk(41, "c1", "b")
    h.end(42, "c1")
    assert offers(h.queue(43, "c3", "q", preferred_agent="ghost")) == [("c3", "b")]


PLAIN = """
[queues.q]
targets = [{ expression = "skills.s >= 1" }]
overflow = { to = "other", after_s = 100 }
[queues.other]
targets = [{ expression = "skills.s >= 1" }]
"""


def test_a_promised_preferred_agent_has_the_call_first_without_a_preferred_target_in_the_rules():
    """A call-back promised by agent a (CallQueued's preferred_agent_s): offered to a
    alone for that long, then to the queue as its rules say."""
    h = Harness(PLAIN, [ap("a", s=1), ap("b", s=1)])
    h.login(0, "a", "b")
    [(_, busy)] = offers(h.queue(0, "warm", "q"))
    free = "b" if busy == "a" else "a"
    h.talk(0, "warm", busy)
    # promised by the busy agent: the free one does not get it
    assert offers(h.queue(1, "cb1", "q", preferred_agent=busy, preferred_agent_s=30)) == []
    assert h.router.call_info("cb1")["target_index"] == 0
    h.end(10, "warm")  # the promised agent is free after the wrap-up, in time
    h.tick(10 + 29)
    assert offers(h.log)[-1] == ("cb1", busy)
    offer = next(d for d in h.log if isinstance(d, Offer) and d.call_id == "cb1")
    assert "promised agent" in offer.reason and offer.queue == "q"
    h.talk(45, "cb1", busy)

    # the promised agent stays busy: after 30 s the queue's own target takes it
    assert offers(h.queue(50, "cb2", "q", preferred_agent=busy, preferred_agent_s=30)) == []
    assert offers(h.tick(79)) == []
    out = h.tick(80)
    assert offers(out) == [("cb2", free)]
    assert [d.reason.split(";")[1].strip() for d in out if isinstance(d, Escalated)] == [
        f"promised agent {busy} did not take it in 30 s"
    ]
    # no promise (no seconds) or an agent who is not logged in: the queue at once
    h.talk(81, "cb2", free)
    h.end(82, "cb2")
    h.tick(200)
    assert offers(h.queue(201, "c3", "q", preferred_agent=busy)) == [("c3", free)]
    h.send(AgentLoggedOut(at=202, agent_id=busy))
    h.talk(203, "c3", free)
    h.end(204, "c3")
    h.tick(300)
    assert offers(h.queue(301, "cb4", "q", preferred_agent=busy, preferred_agent_s=30)) == [("cb4", free)]


def test_a_promised_agent_who_misses_the_call_gives_it_to_the_queue_at_once():
    h = Harness(PLAIN, [ap("a", s=1), ap("b", s=1)])
    h.login(0, "a", "b")
    h.send(AgentStateChanged(at=0, agent_id="b", state="paused", reason="lunch"))
    assert offers(h.queue(1, "cb", "q", preferred_agent="a", preferred_agent_s=60)) == [("cb", "a")]
    h.send(AgentStateChanged(at=2, agent_id="b", state="available"))
    out = h.send(CallNotAnswered(at=5, call_id="cb", agent_id="a", queue="q"))
    assert offers(out) == [("cb", "b")]


# ---------------------------------------------------------------- filters, queues

FILTERS = """
default_queue = "general"
[queues.general]
[queues.q]
[[queues.q.filters]]
name = "gold"
when = 'tier == "gold"'
targets = [{ expression = "team == 'vip'" }]
[[queues.q.filters]]
name = "also gold"
when = 'tier == "gold" or priority > 5'
targets = [{ expression = "team == 'never'" }]
[[queues.q.targets]]
expression = "team == 'std'"
"""


def test_first_matching_filter_wins():
    h = Harness(FILTERS, [AgentProfile("v", team="vip"), AgentProfile("s", team="std")])
    h.login(0, "v", "s")
    out = h.queue(1, "g", "q", tier="gold", priority=9)
    assert offers(out) == [("g", "v")]
    assert "filter 'gold'" in out[0].reason
    assert offers(h.queue(2, "n", "q")) == [("n", "s")]
    assert h.router.call_info("n")["filter_index"] == -1


def test_unknown_queue_goes_to_the_default_queue():
    h = Harness(FILTERS, [AgentProfile("v", team="vip")])
    h.login(0, "v")
    out = h.queue(1, "c", "nope")
    assert offers(out) == [("c", "v")]
    assert out[0].queue == "general"


def test_capacity_two_takes_two_calls():
    h = Harness("[queues.chat]\n", [AgentProfile("x", capacity=2)])
    h.login(0, "x")
    assert offers(h.queue(1, "c1", "chat")) == [("c1", "x")]
    assert offers(h.queue(2, "c2", "chat")) == [("c2", "x")]
    assert h.queue(3, "c3", "chat") == []
    h.talk(4, "c1", "x")
    assert offers(h.end(5, "c1")) == [("c3", "x")]


def test_logout_while_ringing_requeues_the_call():
    h = Harness("[queues.q]\n", [ap("a"), ap("b")])
    h.login(0, "a")
    h.queue(1, "c1", "q")
    h.login(2, "b")
    out = h.send(AgentLoggedOut(at=3, agent_id="a"))
    assert offers(out) == [("c1", "b")]
    assert h.router.agent_state("a") == "logged_out"


def test_abandon_while_ringing_frees_the_agent_for_the_next_call():
    h = Harness("[queues.q]\n", [ap("a")])
    h.login(0, "a")
    h.queue(1, "c1", "q")
    h.queue(2, "c2", "q")
    out = h.send(CallAbandoned(at=3, call_id="c1"))
    assert offers(out) == [("c2", "a")]
    assert h.router.call_info("c1") is None


def test_pause_with_a_reason_and_snapshot():
    h = Harness("pause_reasons = ['lunch', 'rona']\n[queues.q]\n", [ap("a"), ap("b"), ap("c")])
    h.login(0, "a", "b", "c")
    h.send(AgentStateChanged(at=1, agent_id="a", state="paused", reason="lunch"))
    h.send(AgentStateChanged(at=1, agent_id="b", state="paused", reason="dentist"))  # unknown: logged, kept
    h.queue(2, "c1", "q")
    h.queue(3, "c2", "q")
    snap = h.router.snapshot(now=13)
    assert snap["paused_by_reason"] == {"lunch": 1, "dentist": 1}
    assert snap["agents"]["paused"] == 2 and snap["agents"]["reserved"] == 1
    assert snap["queues"]["q"] == {"waiting": 1, "ringing": 1, "longest_wait_s": 10}
    assert snap["rules_version"] == 1


def test_bad_input_is_ignored_not_fatal():
    h = Harness("[queues.q]\n", [ap("a", s=3)])
    h.login(0, "a")
    assert h.send(CallQueued(at=1, call_id="", queue="q")) == []
    out = h.send(CallQueued(at=1, call_id="c1", queue="q", skills={"s": "high", "t": None}, priority="urgent"))
    assert offers(out) == [("c1", "a")]  # bad skill levels and priority dropped, call routed
    assert h.send(CallConnected(at=2, call_id="nope", agent_id="a")) == []
    assert h.send(CallConnected(at=2, call_id="c1", agent_id="zz")) == []  # not the offered agent
    assert h.send(CallNotAnswered(at=2, call_id="c1", agent_id="zz")) == []
    assert h.send(CallHeld(at=2, call_id="c1")) == []
    assert h.send(AgentLoggedIn(at=2, agent_id="ghost")) == []
    assert h.send(AgentStateChanged(at=2, agent_id="a", state="on_call")) == []  # router-driven echo
    assert h.send(WrapUpEnded(at=2, call_id="c1", agent_id="ghost")) == []
    assert h.router.handle(Tick(1), 1) == []  # clock going back is clamped
    assert h.router.handle(Tick(float("nan")), float("nan")) == []
    assert h.router.next_deadline() is None
    assert h.router.call_info("c1")["state"] == "offered"


def test_add_agent_updates_skills_of_a_logged_in_agent():
    h = Harness("[queues.q]\ntargets = [{ expression = 'skills.s >= 5' }]\n", [ap("a", s=1)])
    h.login(0, "a")
    assert h.queue(1, "c1", "q") == []
    out = h.router.add_agent(ap("a", s=7), now=2)
    assert offers(out) == [("c1", "a")]


def test_same_events_same_decisions():
    def run() -> list[Any]:
        h = Harness(_strategy_rules("random"), [ap(f"a{i}", s=1 + i % 3) for i in range(6)], seed=7)
        h.login(0, *[f"a{i}" for i in range(6)])
        for i in range(20):
            h.queue(i, f"c{i}", "q")
            if i % 3 == 0:
                h.tick(i + 0.5)
        return h.log

    assert run() == run()


def test_deadline_epoch_changes_whenever_the_deadline_may_move_earlier():
    # The simulator skips next_deadline() while the epoch is unchanged: that is only
    # right if an unchanged epoch means the deadline did not move earlier.
    h = Harness(ESCALATION, [ap("a5", billing=5), ap("a9", billing=9)])
    h.login(0, "a5")
    e0 = h.router.deadline_epoch
    h.queue(10, "c1", "billing", {"billing": 1})  # waits: escalation timer at 40
    assert h.router.deadline_epoch != e0 and h.router.next_deadline() == 40.0
    e1 = h.router.deadline_epoch
    h.queue(12, "c2", "billing", {"billing": 1})  # also waits, timer at 42: not earlier
    assert h.router.deadline_epoch == e1  # no earlier than the 40 last asked: not counted
    assert h.router.next_deadline() == 40.0
    h.login(20, "a9")  # c1 is offered to a9: its timer lapses, the deadline moves later
    assert h.router.deadline_epoch == e1 and h.router.next_deadline() == 42.0
    # c1 comes back (a9 missed it, so a9 takes c2): its timer at 40 is before the 42
    # last asked, so it counts
    h.send(CallNotAnswered(at=25.0, call_id="c1", agent_id="a9", queue="billing"))
    assert h.router.deadline_epoch != e1 and h.router.next_deadline() == 40.0


def test_a_call_offered_at_once_leaves_no_group_behind_and_later_ones_still_wait():
    h = Harness(ESCALATION, [ap("a9", billing=9)])
    h.login(0, "a9")
    assert offers(h.queue(1, "c1", "billing", {"billing": 1})) == [("c1", "a9")]
    assert h.router.waiting_call_ids() == []
    assert h.queue(2, "c2", "billing", {"billing": 1}) == []  # a9 is ringing: c2 waits
    assert h.router.waiting_call_ids() == ["c2"]
    h.send(CallAbandoned(at=3.0, call_id="c1", queue="billing"))  # a9 free again
    assert offers(h.log[-2:]) == [("c2", "a9")]


def test_lapsed_timers_are_dropped_from_the_heap_and_live_ones_still_fire():
    # Like the simulator: a day-long wrap-up cap, ended early by WrapUpEnded, leaves one
    # lapsed timer per call. The heap is compacted, and a live timer is not lost.
    cap = 86400.0
    h = Harness(
        ESCALATION,
        [
            AgentProfile("a8", skills={"billing": 8}, wrap_up_s=cap),
            AgentProfile("a9", skills={"billing": 9}, wrap_up_s=cap),
        ],
    )
    h.login(0, "a8")
    h.queue(1, "long", "billing", {"billing": 1})
    h.send(CallConnected(at=2.0, call_id="long", agent_id="a8"))
    h.send(CallEnded(at=3.0, call_id="long"))  # a8's wrap-up is left to run out
    h.login(4, "a9")
    t = 10.0
    for i in range(6000):
        cid = f"c{i}"
        assert [
            (d.call_id, d.agent_id) for d in h.queue(t, cid, "billing", {"billing": 1}) if isinstance(d, Offer)
        ] == [(cid, "a9")]
        h.send(CallConnected(at=t + 1, call_id=cid, agent_id="a9"))
        h.send(CallEnded(at=t + 2, call_id=cid))
        h.send(WrapUpEnded(at=t + 3, call_id=cid, agent_id="a9"))
        t += 4
    assert len(h.router._timers) <= 4096  # not one per call
    assert h.router.next_deadline() == 3.0 + cap  # a8's wrap-up end is still due
    out = h.send(Tick(at=3.0 + cap))
    assert [(d.agent_id, d.state) for d in out] == [("a8", "available")]
