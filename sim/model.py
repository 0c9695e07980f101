"""The SimPy call-center model. It drives the real router (`routing.Router`) unchanged,
through its contract, and emits the same domain events as the live server:

- arrivals (Poisson day profile or a replay) -> `CallQueued` fed to the router;
- each `Offer` decision -> `CallOffered` (logged), then after the ring time either
  `CallConnected` or, with the RONA probability, `CallNotAnswered` after the ring
  timeout -- both fed to the router;
- callers abandon when their patience runs out while waiting or ringing
  (`CallAbandoned`, fed to the router);
- after the handle time `CallEnded` (fed; the agent enters wrap-up), then
  `WrapUpEnded` after the drawn wrap-up when the scenario gives a wrap-up distribution
  (otherwise the rules' wrap_up_s applies and the router ends it on a Tick);
- agents log in and out by shift (`AgentLoggedIn` / `AgentLoggedOut`), leaving at
  the end of the call in progress;
- the router's own decisions that are domain events (agent paused after RONA misses,
  wrap-up done, ...) are logged as they come; `Tick(now)` is fed at
  `router.next_deadline()`.

Randomness: one `random.Random` per purpose and queue (arrivals, patience, handle,
wrap-up, first-offer ring time and RONA draw), seeded from (seed, purpose, queue), all
drawn when the caller arrives: two runs with different rules see the same callers
(common random numbers for what-if). Only second and later offers of a call (which
depend on routing) draw ring/RONA from shared streams.

SimPy runs synchronously in the calling thread; never call `run` from inside an
asyncio event loop (use a thread or a process).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import simpy
import structlog

from events import (
    EVENT_TYPES,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    CallTransferred,
    WrapUpEnded,
)
from routing.native import is_native, router_class
from sim.arrivals import Arrival, poisson_profile, read_anonymous_bank, read_event_log, read_queue_log
from sim.dists import Dist
from sim.scenario import Scenario

log = structlog.get_logger()

_DOMAIN = frozenset(EVENT_TYPES.values())


def _sim_wrap(d: Dist | None) -> bool:
    """Does the simulator draw wrap-up times (else the rules' wrap_up_s applies)?
    A constant 0 leaves it to the rules too (one event less per call)."""
    return d is not None and not (d.kind == "constant" and d.a == 0)


def stream(seed: int, purpose: str, queue: str = "") -> random.Random:
    """An independent, reproducible random stream for one purpose (str seeds hash with
    SHA-512 inside `random`, so they do not depend on PYTHONHASHSEED)."""
    return random.Random(f"{seed}/{purpose}/{queue}")


_NORMAL = simpy.events.NORMAL
_INF = math.inf
_URGENT = simpy.events.URGENT
_heappush = heapq.heappush  # (a global look-up less: three pushes per call)


def _timer(env: simpy.Environment, delay: float, fn: Callable[..., None], args: tuple) -> None:
    """Call `fn(*args)` after `delay`: what `env.timeout(delay).callbacks.append(lambda
    _e: fn(*args))` does, at a fraction of the cost (~4 timers per call; no process
    ever waits on one). A timer is a bare `(fn, args)` tuple in SimPy's queue, in the
    place (time, priority, id) a Timeout would take, so it runs in the same order.
    Plain SimPy cannot run those: the model steps its queue itself (`_run_until`,
    `_step`), so never call env.run() or env.step() on a model's env."""
    if delay < 0:
        raise ValueError(f"negative delay {delay}")
    _heappush(env._queue, (env._now + delay, _NORMAL, next(env._eid), (fn, args)))  # type: ignore[attr-defined]


def _timer_with_eid(env: simpy.Environment, at: float, eid: int, fn: Callable[..., None], args: tuple) -> None:
    """A timer at time `at` with an event id taken earlier from `env._eid`: it runs
    among simultaneous events where a timer made then would."""
    _heappush(env._queue, (at, _NORMAL, eid, (fn, args)))  # type: ignore[attr-defined]


class _Call:
    __slots__ = (
        "agent",
        "answer_at",
        "arrived",
        "cid",
        "handle",
        "patience",
        "patience_eid",
        "queue",
        "ring1",
        "rona1",
        "seq",
        "state",
        "wrap",
    )

    def __init__(
        self,
        cid: str,
        queue: str,
        patience: float,
        handle: float,
        wrap: float | None,
        arrived: float,
        ring1: float = 0.0,
        rona1: float = 1.0,
    ) -> None:
        self.cid = cid
        self.queue = queue
        self.patience = patience
        self.handle = handle
        self.wrap = wrap
        self.state = "waiting"  # waiting | ringing | talking | done
        self.agent = ""
        self.seq = 0  # offer number: stale ring timers compare it
        self.arrived = arrived
        self.ring1 = ring1  # ring time and RONA draw of the first offer, drawn at arrival
        self.rona1 = rona1
        self.answer_at = math.inf  # when the pending answer timer fires (first offer)
        self.patience_eid: int | None = None  # SimPy order reserved for a patience timer not yet scheduled


@dataclass
class SimStats:
    calls: int = 0
    events: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    ticks: int = 0
    wall_s: float = 0.0
    end_s: float = 0.0
    router_build: str = ""  # "compiled" (routing/native.py) or "python"


class CallCenterModel:
    """One run of a scenario through one router. `events` is the domain-event log."""

    def __init__(
        self,
        scenario: Scenario,
        rules: Any,
        seed: int | None = None,
        router_factory: Callable[..., Any] | None = None,
        sink: Callable[[object], None] | None = None,
        arrivals: list[Arrival] | None = None,
        keep_events: bool = True,
    ) -> None:
        from routing import AgentProfile, FinalStep, Offer, Overflowed, Tick

        self.sc = scenario
        self.seed = scenario.seed if seed is None else seed
        self.env = simpy.Environment(initial_time=scenario.start_s)
        factory = router_factory or router_class()  # the real router: compiled from the same source when built
        self.router = factory(rules, seed=self.seed)
        self._Tick = Tick
        self._Offer, self._FinalStep, self._Overflowed = Offer, FinalStep, Overflowed
        self._AgentProfile = AgentProfile
        self.events: list[object] = []
        self._keep = keep_events
        self._n_events = 0
        self._sink = sink
        self.stats = SimStats()
        self._decision_counts: dict[type, int] = {}
        self._calls: dict[str, _Call] = {}
        self._tick_at: float | None = None
        self._epoch = -1  # router.deadline_epoch when next_deadline() was last asked
        self._has_epoch = hasattr(self.router, "deadline_epoch")  # a router_factory may give another router
        self._agent_call: dict[str, str] = {}  # agent -> call id while ringing/talking/wrap (sim-driven)
        self._leaving: set[str] = set()
        self._logged_in: set[str] = set()
        self._profiles: dict[str, Any] = {}
        self._ring_rng = stream(self.seed, "ring")
        self._rona_rng = stream(self.seed, "rona")
        self._ring_next = scenario.ring.sampler(self._ring_rng)  # ring times of second and later offers
        ring_default = getattr(getattr(rules, "rona", None), "ring_timeout_s", 20.0)
        self._rona_timeout = scenario.rona_timeout_s or ring_default
        self._rona_p = scenario.rona_probability
        self._pause_reasons = getattr(rules, "pause_reasons", {})
        self._arrivals = arrivals
        self._n = 0
        self._setup()

    # ---------------------------------------------------------- plumbing

    def _emit(self, event: object) -> None:
        self._n_events += 1
        if self._keep:
            self.events.append(event)
        if self._sink is not None:
            self._sink(event)

    def _feed(self, event: object) -> None:
        """Log a domain event and give it to the router; act on its decisions."""
        self._n_events += 1
        if self._keep:
            self.events.append(event)
        if self._sink is not None:
            self._sink(event)
        decisions = self.router.handle(event, self.env._now)  # type: ignore[attr-defined]
        if decisions:
            self._act(decisions)
        elif self._tick_at is None or not self._has_epoch or self.router.deadline_epoch != self._epoch:
            self._schedule_tick()  # what _act does with no decisions (e.g. after WrapUpEnded)

    def _act(self, decisions: list[object]) -> None:
        counts = self._decision_counts
        answer_now: list[_Call] | None = None
        leave: list[str] | None = None
        keep, sink = self._keep, self._sink
        for d in decisions:
            kind = type(d)
            counts[kind] = counts.get(kind, 0) + 1  # by type: names are filled in by run()
            if kind is AgentStateChanged:  # the most frequent decision (~3 per call): tested first
                self._n_events += 1  # self._emit(d), inlined
                if keep:
                    self.events.append(d)
                if sink is not None:
                    sink(d)
                if d.state in ("available", "paused"):  # type: ignore[attr-defined]
                    aid = d.agent_id  # type: ignore[attr-defined]
                    c = self._calls.get(self._agent_call.get(aid, ""))
                    if c is None or c.agent != aid or c.state not in ("ringing", "talking"):
                        self._agent_call.pop(aid, None)  # router ended its wrap-up: free
                        if aid in self._leaving:
                            leave = leave or []
                            leave.append(aid)
            elif kind is self._Offer:
                c = self._offer(d)
                if c is not None:
                    if answer_now is None:
                        answer_now = []
                    answer_now.append(c)
            elif kind in _DOMAIN:
                self._emit(d)
            elif kind is self._FinalStep:
                c = self._calls.pop(d.call_id, None)  # type: ignore[attr-defined]
                if c is not None:
                    c.state = "done"
                    # as the live center logs it: a transfer out of the queue (deflected, not abandoned)
                    self._emit(
                        CallTransferred(
                            self.env.now, c.cid, str(getattr(d, "action", "")), "", str(getattr(d, "destination", ""))
                        )
                    )
                    self._emit(CallEnded(self.env.now, c.cid, cause=16,
                                         cause_text=str(getattr(d, "action", "")), hung_up_by="system"))  # fmt: skip
            elif kind is self._Overflowed:
                c = self._calls.get(d.call_id)  # type: ignore[attr-defined]
                if c is not None:
                    c.queue = getattr(d, "to_queue", c.queue)
            # Escalated: nothing to do for the caller
        if self._tick_at is None or not self._has_epoch or self.router.deadline_epoch != self._epoch:
            self._schedule_tick()  # (else no timer was added since it was last asked: nothing to do)
        if answer_now is not None:
            # zero ring time: answer once this batch of decisions is logged (same instant)
            for c in answer_now:
                self._answer(c, c.seq)
        if leave is not None:
            for aid in leave:  # after this batch: the router may not log out mid-batch
                if aid in self._logged_in and aid not in self._agent_call:
                    self._do_logout(aid)

    def _schedule_tick(self) -> None:
        if self._has_epoch:
            epoch = self.router.deadline_epoch
            if epoch == self._epoch and self._tick_at is not None:
                return  # no timer added since last asked: the deadline is no earlier than our Tick
            self._epoch = epoch
        dl = self.router.next_deadline()
        if dl is None:
            return
        if self._tick_at is not None and self._tick_at <= dl:
            return
        now = self.env._now  # type: ignore[attr-defined]
        if dl < now:
            dl = now
        self._tick_at = dl
        _timer(self.env, dl - now, self._on_tick, (dl,))

    def _on_tick(self, at: float) -> None:
        if self._tick_at != at:
            return  # superseded by an earlier tick that already ran
        self._tick_at = None
        self.stats.ticks += 1
        now = self.env._now  # type: ignore[attr-defined]
        self._act(self.router.handle(self._Tick(now), now))

    def _later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Call fn(*args) after delay (the per-call paths push their timer directly)."""
        _timer(self.env, delay, fn, args)

    # ---------------------------------------------------------- setup

    def _setup(self) -> None:
        sc = self.sc
        wrap_by_sim = any(_sim_wrap(q.wrap_up) for q in sc.queues) or _sim_wrap(sc.call_defaults.wrap_up)
        for g in sc.agents:
            for aid in g.agent_ids():
                self._profiles[aid] = self._AgentProfile(
                    agent_id=aid,
                    skills=dict(g.skills),
                    languages=tuple(g.languages),
                    team=g.team,
                    capacity=g.capacity,
                    # the scenario draws wrap-up times and ends them with WrapUpEnded;
                    # the cap only stops an agent from being stuck if it never comes
                    wrap_up_s=86400.0 if wrap_by_sim else None,
                )
                shifts = g.shifts or ((0.0, math.inf),)
                for start, end in shifts:
                    self._later(start, self._login, aid)
                    if math.isfinite(end) and (not sc.duration_s or end < sc.duration_s):
                        self._later(end, self._logout, aid)
        if self._arrivals is None and sc.replay is not None:
            self._arrivals = load_replay(sc)
        if self._arrivals is not None:
            self.env.process(self._replay(self._arrivals))
        else:
            for q in sc.queues:
                if q.calls_per_hour:
                    self._poisson(q.name)

    def _login(self, aid: str) -> None:
        if aid in self._logged_in:
            return
        self._leaving.discard(aid)
        self._logged_in.add(aid)
        self.router.add_agent(self._profiles[aid])
        self._feed(AgentLoggedIn(self.env.now, aid))

    def _logout(self, aid: str) -> None:
        if aid not in self._logged_in:
            return
        if aid in self._agent_call:
            # after the call in progress; paused so that the router offers no new call
            self._leaving.add(aid)
            reason = "end_of_shift" if "end_of_shift" in self._pause_reasons else ""
            self._feed(AgentStateChanged(self.env.now, aid, "paused", reason))
            return
        self._do_logout(aid)

    def _do_logout(self, aid: str) -> None:
        self._leaving.discard(aid)
        self._logged_in.discard(aid)
        self._feed(AgentLoggedOut(self.env.now, aid))
        self.router.remove_agent(aid)

    def _agent_free(self, aid: str, cid: str) -> None:
        """The sim-driven part of call `cid` at agent `aid` is over."""
        if self._agent_call.get(aid) != cid:
            return  # the agent has moved on to another call already
        del self._agent_call[aid]
        if aid in self._leaving and aid in self._logged_in:
            self._do_logout(aid)

    # ---------------------------------------------------------- arrivals

    def _poisson(self, queue: str) -> None:
        """Start this queue's arrivals: a chain of timers, each arrival scheduling the
        next (the same schedule as a SimPy process looping over `yield env.timeout`,
        without resuming a generator per call)."""
        sc = self.sc
        q = sc.queue(queue)
        rng = stream(self.seed, "arrivals", queue)
        draws = self._draws(queue)
        env = self.env
        times = poisson_profile(rng, queue, q.calls_per_hour, q.profile_interval_s, sc.start_s, sc.end_s)
        name, skills, priority, attributes = q.name, q.skills, q.priority, q.attributes
        arrive = self._arrive

        queue_, eids = env._queue, env._eid  # type: ignore[attr-defined]
        push = heapq.heappush

        def schedule_next() -> None:
            t = next(times, None)
            if t is not None:
                now = env._now  # type: ignore[attr-defined]
                delay = t - now
                if delay < 0:
                    raise ValueError(f"negative delay {delay}")
                push(queue_, (now + delay, _NORMAL, next(eids), (arrival, ())))  # a timer: see _timer

        def arrival() -> None:
            arrive(name, draws(None, None), skills, priority, "", attributes)
            schedule_next()

        schedule_next()

    def _replay(self, arrivals: list[Arrival]) -> Iterator[simpy.Event]:
        env = self.env
        draws: dict[str, Callable[..., tuple[float, float, float | None]]] = {}
        qs = self.sc.replay.queue_skills if self.sc.replay is not None else False
        end = self.sc.end_s if self.sc.duration_s else math.inf
        for a in arrivals:
            if a.at < env.now:
                continue
            if a.at > end:
                break
            yield env.timeout(a.at - env.now)
            d = draws.get(a.queue)
            if d is None:
                d = draws[a.queue] = self._draws(a.queue)
            spec = self.sc.queue(a.queue)
            # the call's own recorded skills, else the queue's, else the queue name as skill
            skills = dict(a.skills) or dict(spec.skills) or ({a.queue: 1} if qs else {})
            self._arrive(a.queue, d(a.patience, a.handle), skills, a.priority, a.customer_id,
                         dict(spec.attributes, **a.attributes))  # fmt: skip

    def _draws(self, queue: str) -> Callable[[float | None, float | None], tuple]:
        """Per-caller draws at arrival, from this queue's own streams: patience, handle,
        wrap-up, and the first offer's ring time and RONA draw (later offers, which
        depend on routing, draw from shared streams)."""
        spec = self.sc.queue(queue)
        pr, hr, wr = (
            stream(self.seed, "patience", queue),
            stream(self.seed, "handle", queue),
            stream(self.seed, "wrap", queue),
        )
        rr, nr = stream(self.seed, "ring1", queue), stream(self.seed, "rona1", queue)
        # samplers bound to their streams once (hot path: one draw() per call)
        pat, han, ring = spec.patience.sampler(pr), spec.handle.sampler(hr), self.sc.ring.sampler(rr)
        wrap = spec.wrap_up.sampler(wr) if _sim_wrap(spec.wrap_up) else None  # type: ignore[union-attr]
        rona = nr.random if self.sc.rona_probability > 0 else None

        def draw(patience: float | None, handle: float | None) -> tuple:
            # always draw everything so a recorded value does not shift the streams
            p, h = pat(), han()
            w = wrap() if wrap is not None else None
            return (p if patience is None else patience, h if handle is None else handle, w,
                    ring(), rona() if rona is not None else 1.0)  # fmt: skip

        return draw

    def _arrive(
        self,
        queue: str,
        draws: tuple,
        skills: dict[str, int],
        priority: int,
        customer_id: str,
        attributes: dict[str, Any],
    ) -> None:
        self._n += 1
        cid = f"c{self._n}"
        env = self.env
        now = env._now  # type: ignore[attr-defined]  # (env.now is a property: hot path)
        patience, handle, wrap, ring1, rona1 = draws
        c = _Call(cid, queue, patience, handle, wrap, now, ring1, rona1)
        self._calls[cid] = c
        self.stats.calls += 1
        # The patience timer only matters if the call can still be waiting or ringing
        # when it runs out; most calls are offered at once and answered before. Its
        # place in SimPy's order (the event id a timer made here would get) is reserved
        # now and the timer scheduled after the CallQueued only when needed: the
        # order of simultaneous events, and so every result, is as if it always were.
        if patience < _INF:  # (math.isfinite: patience is never NaN or -inf)
            c.patience_eid = next(env._eid)  # type: ignore[attr-defined]
        # positional arguments: frozen dataclasses build faster without keywords (hot path)
        self._feed(CallQueued(now, cid, queue, skills, priority, customer_id, attributes))
        if c.patience_eid is not None and (
            c.state == "waiting" or (c.state == "ringing" and not c.answer_at < now + c.patience)
        ):
            self._guard(c)

    def _guard(self, c: _Call) -> None:
        """Schedule the call's patience timer (if it was left out at arrival) with the
        event id reserved then: due at arrival + patience, like a timer made then."""
        eid = c.patience_eid
        if eid is None:
            return
        c.patience_eid = None
        _timer_with_eid(self.env, max(c.arrived + c.patience, self.env.now), eid, self._patience_out, (c,))

    # ---------------------------------------------------------- call life

    def _offer(self, d: Any) -> _Call | None:
        """Ring the agent; returns the call when it is answered at once (zero ring time)."""
        c = self._calls.get(d.call_id)
        if c is None or c.state not in ("waiting", "ringing"):
            log.warning("sim_offer_for_gone_call", call_id=d.call_id, agent_id=d.agent_id)
            return None
        env = self.env
        now = env._now  # type: ignore[attr-defined]
        agent = d.agent_id
        c.state = "ringing"
        c.agent = agent
        seq = c.seq = c.seq + 1
        self._agent_call[agent] = c.cid
        reason = d.reason
        offered = CallOffered(now, c.cid, agent, c.queue, reason if type(reason) is str else str(reason))
        self._n_events += 1  # self._emit(offered), inlined (once per call)
        if self._keep:
            self.events.append(offered)
        if self._sink is not None:
            self._sink(offered)
        first = seq == 1
        if not first:
            self._guard(c)  # offered again: it went back to waiting (normally guarded then already)
        rona_p = self._rona_p
        if rona_p and (c.rona1 if first else self._rona_rng.random()) < rona_p:
            c.answer_at = math.inf
            _timer(env, self._rona_timeout, self._rona, (c, seq))
            return None
        ring = c.ring1 if first else self._ring_next()
        if ring <= 0:
            return c
        c.answer_at = at = now + ring  # ring > 0
        _heappush(env._queue, (at, _NORMAL, next(env._eid), (self._answer, (c, seq))))  # type: ignore[attr-defined]
        return None

    def _answer(self, c: _Call, seq: int) -> None:
        if c.state != "ringing" or c.seq != seq:
            return
        c.state = "talking"
        env = self.env
        self._feed(CallConnected(env._now, c.cid, c.agent, c.queue))  # type: ignore[attr-defined]
        if c.handle < 0:
            raise ValueError(f"negative delay {c.handle}")
        at = env._now + c.handle  # type: ignore[attr-defined]
        _heappush(env._queue, (at, _NORMAL, next(env._eid), (self._hangup, (c,))))  # type: ignore[attr-defined]

    def _rona(self, c: _Call, seq: int) -> None:
        if c.state != "ringing" or c.seq != seq:
            return
        agent = c.agent
        c.state = "waiting"
        c.agent = ""
        self._guard(c)
        self._feed(CallNotAnswered(self.env.now, c.cid, agent, queue=c.queue))
        self._agent_free(agent, c.cid)

    def _patience_out(self, c: _Call) -> None:
        if c.state not in ("waiting", "ringing"):
            return
        ringing = c.state == "ringing"
        c.state = "done"
        del self._calls[c.cid]
        self._feed(CallAbandoned(self.env.now, c.cid, queue=c.queue))
        if ringing:
            self._agent_free(c.agent, c.cid)

    def _hangup(self, c: _Call) -> None:
        c.state = "done"
        self._calls.pop(c.cid, None)
        self._feed(CallEnded(self.env._now, c.cid, 16, "", "caller"))  # type: ignore[attr-defined]
        if c.wrap is not None:
            if c.wrap > 0:
                env = self.env
                at = env._now + c.wrap  # type: ignore[attr-defined]
                _heappush(env._queue, (at, _NORMAL, next(env._eid), (self._wrap_end, (c,))))  # type: ignore[attr-defined]
            else:
                self._wrap_end(c)

    def _wrap_end(self, c: _Call) -> None:
        agent = c.agent
        if self._agent_call.get(agent) != c.cid:
            return  # the router ended the wrap-up already and the agent moved on
        if agent in self._leaving:
            self._agent_free(agent, c.cid)  # logs out (which ends the wrap-up)
        else:
            del self._agent_call[agent]
            self._feed(WrapUpEnded(self.env._now, c.cid, agent))  # type: ignore[attr-defined]

    # ---------------------------------------------------------- running

    def run(self, progress: Callable[[float], None] | None = None, steps: int = 100) -> SimStats:
        """Run to the end of the scenario (then drain calls in progress when asked).
        Refuses to run inside an asyncio event loop (SimPy would block it)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "CallCenterModel.run() blocks: call it from a thread or a process, "
                "not from inside the asyncio event loop (asyncio.to_thread(model.run))"
            )
        sc = self.sc
        t0 = time.perf_counter()
        end = sc.end_s
        if not sc.duration_s and self._arrivals:
            end = max(a.at for a in self._arrivals)
        span = max(end - self.env.now, 0.0)
        for i in range(1, steps + 1):
            self._run_until(self.env.now + span / steps if i < steps else end)
            if progress is not None:
                progress(i / steps)
        if sc.drain:
            self._drain()
        self.stats.wall_s = time.perf_counter() - t0
        self.stats.decisions = {k.__name__: n for k, n in self._decision_counts.items()}
        self.stats.events = self._n_events
        self.stats.end_s = self.env.now
        self.stats.router_build = "compiled" if is_native(type(self.router)) else "python"
        return self.stats

    def _run_until(self, at: float) -> None:
        """`env.run(until=at)` with SimPy's step() inlined, and the model's own timers
        run without their callback list (one call instead of three per event; the
        model makes ~4 events per call). The same order: SimPy's until-event would be
        (at, URGENT, next id), so every event queued before that key runs, in heap
        order, and the clock then stands at `at`. Other events (the replay process)
        go through their callbacks exactly as in step()."""
        env = self.env
        if at <= env._now:  # type: ignore[attr-defined]
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = (at, _URGENT, next(env._eid))  # type: ignore[attr-defined]  # the id SimPy's until-event takes
        queue = env._queue  # type: ignore[attr-defined]
        pop = heapq.heappop
        while queue and queue[0] < stop:
            env._now, _, _, event = pop(queue)  # type: ignore[attr-defined]
            if type(event) is tuple:  # the model's own timer (fn, args): see _timer
                event[0](*event[1])
            else:
                self._process(event)
        env._now = at  # type: ignore[attr-defined]

    @staticmethod
    def _process(event: simpy.Event) -> None:
        """What step() does with a popped event (the replay process's)."""
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:  # type: ignore[union-attr]
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc

    def _step(self) -> None:
        """env.step() for this model's queue, which also holds its timers (tuples: see _timer)."""
        env = self.env
        env._now, _, _, event = heapq.heappop(env._queue)  # type: ignore[attr-defined]
        if type(event) is tuple:
            event[0](*event[1])
        else:
            self._process(event)

    def _drain(self) -> None:
        """Let calls in progress finish (no new arrivals: their processes stopped at end)."""
        guard = 0
        while self._calls or self._agent_call:
            t = self.env.peek()
            if t == math.inf:
                break
            self._step()
            guard += 1
            if guard > 50_000_000:  # pragma: no cover
                log.warning("sim_drain_stuck", calls=len(self._calls))
                break


def load_replay(sc: Scenario) -> list[Arrival]:
    r = sc.replay
    if r is None:
        return []
    if r.kind == "queue_log":
        arr = read_queue_log(r.path, origin=sc.start_s)
    elif r.kind == "events":
        arr = read_event_log(r.path)
    else:
        arr = read_anonymous_bank(r.path, dates=r.dates or None)
    return sorted(arr, key=lambda a: a.at)
