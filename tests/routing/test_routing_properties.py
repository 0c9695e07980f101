"""Property tests of the router's invariants, against an independent model (the
"oracle") that follows agent and call states from the events and the decisions:

* never offer to an agent who lacks the current target's skills (or fails its
  expression), is not available, or is at capacity;
* never leave a call waiting while an eligible agent is idle after a decision cycle;
* FIFO within equal priority and target;
* the router's own agent states agree with the model;
* deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallNotAnswered,
    CallQueued,
    CallRejected,
    WrapUpEnded,
)
from routing import AgentProfile, FinalStep, Offer, RuleSet, Target, Tick, load_rules
from routing.native import router_class
from routing.router import Router
from routing.rules import fallback_queue

RULES_A = """
[rona]
max_misses = 2
[defaults]
wrap_up_s = 5
[agents.ag1]
wrap_up_s = 25

[queues.qa]
wrap_up_s = 10
ageing = { every_s = 20 }
overflow = { to = "qb", after_s = 200 }
[[queues.qa.filters]]
name = "gold"
when = 'tier == "gold"'
targets = [
  { strategy = "preferred_agent", timeout_s = 15 },
  { expression = 'skills.a >= 7 and "es" in languages', strategy = "most_skilled", timeout_s = 20, priority = 6 },
  { expression = "skills.a >= 3", strategy = "fewest_calls" },
]
[[queues.qa.targets]]
expression = "skills.a >= 6"
timeout_s = 30
[[queues.qa.targets]]
expression = "skills.a >= 2 or team == 't2'"
strategy = "round_robin"
timeout_s = 30
[[queues.qa.targets]]
expression = "true"
strategy = "random"
require_call_skills = false

[queues.qb]
final = { action = "callback", after_s = 300 }
[[queues.qb.targets]]
expression = "call.language in languages"
strategy = "least_occupied"
timeout_s = 25
[[queues.qb.targets]]
expression = "skills.b >= 1"

[queues.qc]
[[queues.qc.targets]]
expression = "skills.c >= 4 and team == 't1'"
timeout_s = 10
[[queues.qc.targets]]
expression = "skills.c >= 1"
strategy = "most_skilled"
"""

RULES_B = """
[rona]
max_misses = 1
skip_missed_agent = false
[queues.qa]
ageing = { every_s = 5, step = 2 }
[[queues.qa.targets]]
expression = "skills.a >= 4 and skills.b >= 2"
strategy = "least_occupied"
timeout_s = 12
[[queues.qa.targets]]
expression = "skills.a >= 1"
strategy = "fewest_calls"
[queues.qb]
overflow = { to = "qa" }
targets = [{ expression = "team == 't1'", timeout_s = 40, strategy = "random" }]
"""

RULESETS = (load_rules(RULES_A, "a.toml"), load_rules(RULES_B, "b.toml"))
QUEUES = ("qa", "qb", "qc", "qx")  # qx: unknown to both rule sets (fallback)
SKILLS = ("a", "b", "c")


# ---------------------------------------------------------------- generated input

agent_profiles = st.lists(
    st.builds(
        lambda skills, langs, team, cap, wrap: (skills, langs, team, cap, wrap),
        st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=3),
        st.sets(st.sampled_from(("en", "es")), max_size=2),
        st.sampled_from(("t1", "t2")),
        st.sampled_from((1, 1, 1, 2)),
        st.sampled_from((None, None, 0.0, 15.0)),
    ),
    min_size=1,
    max_size=6,
)

queue_op = st.tuples(
    st.just("queue"),
    st.sampled_from(QUEUES),
    st.one_of(st.just({}), st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 8), max_size=2)),
    st.sampled_from((0, 0, 0, 1, 5, 9)),
    st.sampled_from(("", "", "gold")),
    st.sampled_from(("en", "es")),
    st.sampled_from(("", "ag0", "ag1", "ghost")),
)
op = st.one_of(
    queue_op,
    queue_op,
    queue_op,
    st.tuples(st.just("answer"), st.integers(0, 20)),
    st.tuples(st.just("answer"), st.integers(0, 20)),
    st.tuples(st.just("end"), st.integers(0, 20)),
    st.tuples(st.just("end"), st.integers(0, 20)),
    st.tuples(st.just("tick")),
    st.tuples(st.just("rona"), st.integers(0, 20)),
    st.tuples(st.just("reject"), st.integers(0, 20)),
    st.tuples(st.just("abandon"), st.integers(0, 20)),
    st.tuples(st.just("login"), st.integers(0, 5)),
    st.tuples(st.just("logout"), st.integers(0, 5)),
    st.tuples(st.just("pause"), st.integers(0, 5)),
    st.tuples(st.just("ready"), st.integers(0, 5)),
    st.tuples(st.just("wrapend"), st.integers(0, 5)),
    st.tuples(st.just("swap")),
)
steps = st.lists(st.tuples(op, st.sampled_from((0.0, 0.0, 1.0, 3.0, 7.5, 12.0, 30.0, 90.0))), min_size=40, max_size=120)


# ---------------------------------------------------------------- the model


@dataclass
class MAgent:
    view: Any
    logged_in: bool = False
    paused: bool = False
    ringing: set[str] = field(default_factory=set)
    connected: dict[str, str] = field(default_factory=dict)  # call -> queue
    wrap_until: dict[str, float] = field(default_factory=dict)
    misses: int = 0
    wrap_up_s: float | None = None

    def used(self, now: float) -> int:
        return len(self.ringing) + len(self.connected) + sum(1 for t in self.wrap_until.values() if t > now)

    def available(self, now: float) -> bool:
        return self.logged_in and not self.paused and self.used(now) < self.view.capacity

    def state(self, now: float) -> str:
        if not self.logged_in:
            return "logged_out"
        if self.ringing:
            return "reserved"
        if self.connected:
            return "on_call"
        if any(t > now for t in self.wrap_until.values()):
            return "wrap_up"
        return "paused" if self.paused else "available"


@dataclass
class MCall:
    event: CallQueued
    view: Any
    first_at: float
    state: str = "waiting"
    agent: str | None = None
    queue: str = ""
    excluded: set[str] = field(default_factory=set)  # missed it (RONA, while skip_missed_agent)
    rejected: set[str] = field(default_factory=set)  # declined it


def target_of(rules: RuleSet, queue: str, filter_index: int, target_index: int) -> Target:
    qr = rules.queues.get(queue) or fallback_queue(queue)
    return qr.targets_for(filter_index)[target_index]


def eligible(agent: MAgent, call: MCall, target: Target, skip_missed: bool) -> bool:
    view = agent.view
    if (skip_missed and view.id in call.excluded) or view.id in call.rejected:
        return False
    if target.require_call_skills:
        for skill, level in call.view.skills.items():
            if view.skills.get(skill, 0) < level:
                return False
    if target.strategy == "preferred_agent" and view.id != call.view.preferred:
        return False
    return bool(target.expression.fn(view, call.view))


def run(profiles: list[Any], ops: list[Any], seed: int) -> list[Any]:
    rules_index = 0
    rules = RULESETS[0]
    router = router_class()(rules, seed=seed)  # the build under test: see conftest
    agents: dict[str, MAgent] = {}
    for i, (skills, langs, team, cap, wrap) in enumerate(profiles):
        aid = f"ag{i}"
        router.add_agent(
            AgentProfile(aid, skills=skills, languages=tuple(sorted(langs)), team=team, capacity=cap, wrap_up_s=wrap)
        )
        view = SimpleNamespace(
            id=aid, skills=dict(skills), languages=frozenset(langs), team=team, capacity=cap, attrs={}
        )
        agents[aid] = MAgent(view=view, wrap_up_s=wrap)
    ids = list(agents)
    calls: dict[str, MCall] = {}
    log: list[Any] = []
    now = 0.0
    n_calls = 0

    def pick(state: str, k: int) -> MCall | None:
        cands = [c for c in calls.values() if c.state == state]
        return cands[k % len(cands)] if cands else None

    def run_step(step: Any) -> None:
        nonlocal rules, rules_index, n_calls
        o, _ = step
        kind = o[0]
        # where each waiting call stood before this step (for the FIFO check)
        before = {cid: _pos(router.call_info(cid)) for cid, c in calls.items() if c.state == "waiting"}
        if kind in ("login", "logout", "pause", "ready", "wrapend"):
            aid = ids[o[1] % len(ids)]
            m = agents[aid]
            if kind == "login":
                event: Any = AgentLoggedIn(at=now, agent_id=aid)
            elif kind == "logout":
                event = AgentLoggedOut(at=now, agent_id=aid)
            elif kind == "pause":
                event = AgentStateChanged(at=now, agent_id=aid, state="paused", reason="lunch")
            elif kind == "ready":
                event = AgentStateChanged(at=now, agent_id=aid, state="available")
            else:
                wrapping = [cid for cid, t in m.wrap_until.items() if t > now]
                if not wrapping:
                    return
                event = WrapUpEnded(at=now, call_id=wrapping[0], agent_id=aid)
        elif kind == "queue":
            _, queue, skills, prio, tier, lang, pref = o
            n_calls += 1
            cid = f"c{n_calls}"
            attrs = {"language": lang}
            if tier:
                attrs["tier"] = tier
            if pref:
                attrs["preferred_agent"] = pref
            event = CallQueued(at=now, call_id=cid, queue=queue, skills=skills, priority=prio, attributes=attrs)
            view = SimpleNamespace(
                priority=prio,
                tier=tier,
                language=lang,
                queue=queue,
                customer_id="",
                preferred=pref,
                skills=dict(skills),
                attrs=attrs,
            )
            calls[cid] = MCall(event=event, view=view, first_at=now)
        elif kind in ("answer", "rona", "reject"):
            c = pick("offered", o[1])
            if c is None:
                return
            cls = {"answer": CallConnected, "rona": CallNotAnswered, "reject": CallRejected}[kind]
            event = cls(at=now, call_id=c.event.call_id, agent_id=c.agent)
        elif kind == "abandon":
            live = list(calls.values())
            if not live:
                return
            event = CallAbandoned(at=now, call_id=live[o[1] % len(live)].event.call_id)
        elif kind == "end":
            c = pick("connected", o[1])
            if c is None:
                return
            event = CallEnded(at=now, call_id=c.event.call_id)
        elif kind == "tick":
            event = Tick(now)
        else:  # swap
            event = None

        # ---- the model applies the event (before the router's decisions)
        if event is None:
            rules_index = 1 - rules_index
            rules = RULESETS[rules_index]
            if not rules.rona.skip_missed_agent:
                for c in calls.values():
                    c.excluded.clear()
            out = router.swap_rules(rules, now)
        else:
            # wrap-ups that end by `now` are over before the event, as in the router
            if isinstance(event, AgentLoggedIn):
                m = agents[event.agent_id]
                if not m.logged_in:
                    m.logged_in, m.paused, m.misses = True, False, 0
            elif isinstance(event, AgentLoggedOut):
                m = agents[event.agent_id]
                if m.logged_in:
                    m.logged_in, m.paused = False, False
                    m.wrap_until.clear()
                    for cid in sorted(m.ringing):
                        calls[cid].state, calls[cid].agent = "waiting", None
                    m.ringing.clear()
            elif isinstance(event, AgentStateChanged):
                m = agents[event.agent_id]
                if event.state == "available":
                    m.logged_in, m.paused, m.misses = True, False, 0
                    m.wrap_until.clear()
                elif m.logged_in:
                    m.paused = True
            elif isinstance(event, WrapUpEnded):
                agents[event.agent_id].wrap_until.pop(event.call_id, None)
            elif isinstance(event, CallConnected):
                c = calls[event.call_id]
                m = agents[event.agent_id]
                m.ringing.discard(c.event.call_id)
                m.connected[c.event.call_id] = c.queue
                m.misses = 0
                c.state = "connected"
            elif isinstance(event, CallNotAnswered):
                c = calls[event.call_id]
                m = agents[event.agent_id]
                m.ringing.discard(c.event.call_id)
                m.misses += 1
                if rules.rona.max_misses and m.misses >= rules.rona.max_misses:
                    m.paused = True
                if rules.rona.skip_missed_agent:
                    c.excluded.add(event.agent_id)
                c.state, c.agent = "waiting", None
            elif isinstance(event, CallRejected):
                c = calls[event.call_id]
                agents[event.agent_id].ringing.discard(c.event.call_id)
                c.rejected.add(event.agent_id)
                c.state, c.agent = "waiting", None
            elif isinstance(event, (CallAbandoned, CallEnded)):
                c = calls.pop(event.call_id)
                if c.agent is not None:
                    m = agents[c.agent]
                    m.ringing.discard(c.event.call_id)
                    if c.state == "connected":
                        queue = m.connected.pop(c.event.call_id)
                        qr = rules.queues.get(queue)
                        wrap = qr.wrap_up_s if qr is not None and qr.wrap_up_s is not None else rules.wrap_up_s
                        own = rules.agents[c.agent].wrap_up_s if c.agent in rules.agents else m.wrap_up_s
                        if own is not None:
                            wrap = max(wrap, own)
                        if m.logged_in and wrap > 0:
                            m.wrap_until[c.event.call_id] = now + wrap
            out = router.handle(event, now)
        log.extend(out)

        # ---- check each decision against the model, then apply it
        for d in out:
            if isinstance(d, Offer):
                c = calls[d.call_id]
                m = agents[d.agent_id]
                assert c.state == "waiting", (d, c.state)
                assert m.available(now), f"offer to unavailable agent {d.agent_id}: {m}"
                target = target_of(rules, d.queue, d.filter_index, d.target_index)
                assert eligible(m, c, target, rules.rona.skip_missed_agent), (
                    f"{d.agent_id} {m.view} not eligible for {d.call_id} {c.view} at {target}"
                )
                assert d.rules_version == router.rules_version
                check_fifo(d, c, m, calls, rules, router, before)
                c.state, c.agent, c.queue = "offered", d.agent_id, d.queue
                m.ringing.add(d.call_id)
            elif isinstance(d, FinalStep):
                c = calls.pop(d.call_id)
                assert c.state == "waiting"

        # ---- nothing eligible left idle; router states agree with the model
        skip = rules.rona.skip_missed_agent
        free = [m for m in agents.values() if m.available(now)]
        for cid, c in calls.items():
            info = router.call_info(cid)
            assert info is not None and info["state"] == c.state, (cid, info, c.state)
            if c.state != "waiting":
                return
            target = target_of(rules, info["queue"], info["filter_index"], info["target_index"])
            for m in free:
                assert not eligible(m, c, target, skip), (
                    f"call {cid} waits at {info} while {m.view.id} is idle and eligible"
                )
        for aid, m in agents.items():
            assert router.agent_state(aid) == m.state(now), (aid, router.agent_state(aid), m)

    for aid in ids:  # everyone starts logged in
        run_step((("login", ids.index(aid)), 0.0))
    for step in ops:
        now += step[1]
        if step[0][0] != "tick" and (router.next_deadline() or float("inf")) <= now:
            # Timers due by `now` fire before the event, under the rules in force
            # until then: let them fire in a Tick of their own so that the model
            # sees their decisions first.
            run_step((("tick",), 0.0))
        run_step(step)
    return log


def _pos(info: dict[str, Any] | None) -> tuple[Any, ...] | None:
    return None if info is None else (info["queue"], info["filter_index"], info["target_index"])


def check_fifo(
    d: Offer, c: MCall, m: MAgent, calls: dict[str, MCall], rules: RuleSet, router: Router, before: dict[str, Any]
) -> None:
    """No older call that stood at the same target, with the same base priority,
    all through this step, and that this agent could take, is still waiting."""
    target = target_of(rules, d.queue, d.filter_index, d.target_index)
    here = (d.queue, d.filter_index, d.target_index)
    base = target.priority if target.priority is not None else c.view.priority
    for other_id, other in calls.items():
        if other_id == d.call_id or other.state != "waiting" or other.first_at >= c.first_at:
            continue
        if before.get(other_id) != here or _pos(router.call_info(other_id)) != here:
            continue
        other_base = target.priority if target.priority is not None else other.view.priority
        if other_base != base:
            continue
        assert not eligible(m, other, target, rules.rona.skip_missed_agent), (
            f"FIFO: {d.call_id} offered to {d.agent_id} while older {other_id} waits at the same target"
        )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(profiles=agent_profiles, ops=steps, seed=st.integers(0, 3))
def test_router_invariants_hold(profiles, ops, seed):
    run(profiles, ops, seed)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(profiles=agent_profiles, ops=steps, seed=st.integers(0, 3))
def test_router_is_deterministic_for_a_seed(profiles, ops, seed):
    assert run(profiles, ops, seed) == run(profiles, ops, seed)


_DIGEST_SCRIPT = """
import hashlib
import routing.benchmark as B
import routing.router as R
digest = hashlib.sha256()
orig = R.Router.handle
def handle(self, event, now=None):
    out = orig(self, event, now)
    for d in out:
        digest.update(repr(d).encode())
    return out
R.Router.handle = handle
B.run_benchmark(120, 8, 40, seed=5, events=1500)
print(digest.hexdigest())
"""


def test_same_decisions_whatever_the_string_hash_seed():
    """Dict/set iteration order must not leak into decisions: two processes with
    different PYTHONHASHSEED make the same decisions (the simulator relies on it)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    digests = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        res = subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        digests.add(res.stdout.strip().splitlines()[-1])
    assert len(digests) == 1
