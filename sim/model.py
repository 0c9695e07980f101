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

Time: the model runs on its own small discrete-event loop (`EventLoop`: functions
called at simulated times, in time order, and in scheduling order among those due at
the same time, as SimPy orders simultaneous events). The model needs timers only, no
processes, and a timer there costs a fraction of a SimPy event (~4 per call); the
throughput benchmark (bench/bench_sim.py) still measures it against a bare SimPy
M/M/N model in the same run.

The model runs synchronously in the calling thread; never call `run` from inside an
asyncio event loop (use a thread or a process).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import itertools
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
from sim.scenario import QueueSpec, Scenario

log = structlog.get_logger()

_DOMAIN = frozenset(EVENT_TYPES.values())


def _sim_wrap(d: Dist | None) -> bool:
    """Does the simulator draw wrap-up times (else the rules' wrap_up_s applies)?
    A constant 0 leaves it to the rules too (one event less per call)."""
    return d is not None and not (d.kind == "constant" and d.a == 0)


_Log = Callable[[object], None]


def _logger(keep: _Log | None, sink: _Log | None) -> _Log | None:
    """Where the model's events go: the event list, the sink, both, or nowhere (None:
    the events only fed to the router, the rest never built)."""
    if keep is None or sink is None:
        return keep or sink

    def both(event: object) -> None:
        keep(event)
        sink(event)

    return both


def stream(seed: int, purpose: str, queue: str = "") -> random.Random:
    """An independent, reproducible random stream for one purpose (str seeds hash with
    SHA-512 inside `random`, so they do not depend on PYTHONHASHSEED)."""
    return random.Random(f"{seed}/{purpose}/{queue}")


_INF = math.inf
_heappush = heapq.heappush  # (a global look-up less: three pushes per call)

_Timer = tuple[float, int, Callable[..., None], tuple[Any, ...]]
"""A scheduled call in the EventLoop's heap: (time, order, fn, args). A bare tuple,
compared in C by (time, order) -- order is unique, so fn is never compared -- and
built cheaply: the model schedules ~4 per simulated call."""


class EventLoop:
    """The model's discrete-event loop: `fn(*args)` called at simulated times, in time
    order; among calls due at the same time, in the order they were scheduled (or
    their order reserved with `reserve()`)."""

    __slots__ = ("_order", "_queue", "now")

    def __init__(self, start: float = 0.0) -> None:
        self.now = start  # a plain attribute: read on every event
        self._queue: list[_Timer] = []
        self._order = itertools.count()

    def reserve(self) -> int:
        """An order taken now, for a call scheduled later (`call_at(..., order=)`): it
        runs among simultaneous calls where one scheduled now would."""
        return next(self._order)

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        _heappush(self._queue, (self.now + delay, next(self._order), fn, args))

    def call_at(self, at: float, fn: Callable[..., None], args: tuple[Any, ...] = (), order: int | None = None) -> None:
        """Call fn(*args) at time `at` (not before now)."""
        if at < self.now:
            raise ValueError(f"time {at} is before now ({self.now})")
        _heappush(self._queue, (at, next(self._order) if order is None else order, fn, args))

    def peek(self) -> float:
        """When the next call is due (inf: nothing scheduled)."""
        return self._queue[0][0] if self._queue else _INF

    def step(self) -> None:
        """Run the next call (IndexError: nothing scheduled)."""
        self.now, _, fn, args = heapq.heappop(self._queue)
        fn(*args)

    def run_until(self, at: float) -> None:
        """Run every call due before `at` (one due at `at` waits for the next run), then
        stand at `at`: what SimPy's `env.run(until=at)` does."""
        if at <= self.now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        queue = self._queue
        pop = heapq.heappop
        while queue and queue[0][0] < at:
            self.now, _, fn, args = pop(queue)
            fn(*args)
        self.now = at


class _Call:
    __slots__ = (
        "agent",
        "answer_at",
        "arrived",
        "cid",
        "handle",
        "patience",
        "patience_order",
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
        self.patience_order: int | None = None  # loop order reserved for a patience timer not yet scheduled


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
        self.loop = EventLoop(scenario.start_s)
        factory = router_factory or router_class()  # the real router: compiled from the same source when built
        self.router = factory(rules, seed=self.seed)
        self._rules = rules
        self._Tick = Tick
        self._Offer, self._FinalStep, self._Overflowed = Offer, FinalStep, Overflowed
        self._AgentProfile = AgentProfile
        self.events: list[object] = []
        self._n_events = 0
        self._log = _logger(self.events.append if keep_events else None, sink)
        self._handle = self.router.handle  # bound once: called for every fed event
        self.stats = SimStats()
        self._decision_counts: dict[type, int] = {}
        self._n_state = 0  # AgentStateChanged decisions (most of them: counted apart)
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
        if self._log is not None:
            self._log(event)

    def _feed(self, event: object) -> None:
        """Log a domain event and give it to the router; act on its decisions."""
        self._n_events += 1
        if self._log is not None:
            self._log(event)
        decisions = self._handle(event, self.loop.now)
        if decisions:
            self._act(decisions)
        elif self._tick_at is None or not self._has_epoch or self.router.deadline_epoch != self._epoch:
            self._schedule_tick()  # what _act does with no decisions (e.g. after WrapUpEnded)

    def _act(self, decisions: Sequence[object]) -> None:
        counts = self._decision_counts
        answer_now: list[_Call] | None = None
        leave: list[str] | None = None
        log_ = self._log
        n_state = 0
        for d in decisions:
            kind = type(d)
            if kind is AgentStateChanged:  # the most frequent decision (~3 per call): tested first
                # counted after the loop, and logged (self._emit(d), inlined)
                if not n_state and kind not in counts:
                    counts[kind] = 0  # (its place among the kinds, in order of first sight)
                n_state += 1
                if log_ is not None:
                    log_(d)
                state = d.state  # type: ignore[attr-defined]
                if state == "available" or state == "paused":
                    aid = d.agent_id  # type: ignore[attr-defined]
                    c = self._calls.get(self._agent_call.get(aid, ""))
                    if c is None or c.agent != aid or c.state not in ("ringing", "talking"):
                        self._agent_call.pop(aid, None)  # router ended its wrap-up: free
                        if aid in self._leaving:
                            leave = leave or []
                            leave.append(aid)
                continue
            counts[kind] = counts.get(kind, 0) + 1  # by type: names are filled in by run()
            if kind is self._Offer:
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
                            self.loop.now, c.cid, str(getattr(d, "action", "")), "", str(getattr(d, "destination", ""))
                        )
                    )
                    self._emit(CallEnded(self.loop.now, c.cid, cause=16,
                                         cause_text=str(getattr(d, "action", "")), hung_up_by="system"))  # fmt: skip
            elif kind is self._Overflowed:
                c = self._calls.get(d.call_id)  # type: ignore[attr-defined]
                if c is not None:
                    c.queue = getattr(d, "to_queue", c.queue)
            # Escalated: nothing to do for the caller
        if n_state:
            self._n_events += n_state
            self._n_state += n_state
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
        now = self.loop.now
        if dl < now:
            dl = now
        self._tick_at = dl
        self.loop.call_later(dl - now, self._on_tick, dl)

    def _on_tick(self, at: float) -> None:
        if self._tick_at != at:
            return  # superseded by an earlier tick that already ran
        self._tick_at = None
        self.stats.ticks += 1
        now = self.loop.now
        self._act(self.router.handle(self._Tick(now), now))

    def _later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Call fn(*args) after delay (the per-call paths push their timer directly)."""
        self.loop.call_later(delay, fn, *args)

    # ---------------------------------------------------------- setup

    def _wrap_by_sim(self) -> bool:
        """Does any queue draw wrap-up times (then the router's cap is a day for all)?"""
        sc = self.sc
        return any(_sim_wrap(q.wrap_up) for q in sc.queues) or _sim_wrap(sc.call_defaults.wrap_up)

    def _rules_wrap(self, queue: str) -> float:
        """The rules' wrap-up time of `queue` (its own, else the defaults')."""
        rules = self._rules
        qr = rules.queues.get(queue) if rules is not None else None
        if qr is not None and qr.wrap_up_s is not None:
            return float(qr.wrap_up_s)
        return float(getattr(rules, "wrap_up_s", 0.0) or 0.0)

    def _setup(self) -> None:
        sc = self.sc
        wrap_by_sim = self._wrap_by_sim()
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
            self._replay(self._arrivals)
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
        self._feed(AgentLoggedIn(self.loop.now, aid))

    def _logout(self, aid: str) -> None:
        if aid not in self._logged_in:
            return
        if aid in self._agent_call:
            # after the call in progress; paused so that the router offers no new call
            self._leaving.add(aid)
            reason = "end_of_shift" if "end_of_shift" in self._pause_reasons else ""
            self._feed(AgentStateChanged(self.loop.now, aid, "paused", reason))
            return
        self._do_logout(aid)

    def _do_logout(self, aid: str) -> None:
        self._leaving.discard(aid)
        self._logged_in.discard(aid)
        self._feed(AgentLoggedOut(self.loop.now, aid))
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
        loop = self.loop
        times = poisson_profile(rng, queue, q.calls_per_hour, q.profile_interval_s, sc.start_s, sc.end_s)
        name, skills, priority, attributes = q.name, q.skills, q.priority, q.attributes
        arrive = self._arrive

        def schedule_next() -> None:
            t = next(times, None)
            if t is not None:
                loop.call_later(t - loop.now, arrival)

        def arrival() -> None:
            arrive(name, draws(None, None), skills, priority, "", attributes)
            schedule_next()

        schedule_next()

    def _replay(self, arrivals: list[Arrival]) -> None:
        """Start the replay: a chain of timers, each arrival scheduling the next (in
        time order: `arrivals` is sorted)."""
        loop = self.loop
        # per queue, found once: its draws and its spec (a queue the scenario does not
        # name gets the defaults, built once rather than at every arrival)
        per_queue: dict[str, tuple[Callable[[float | None, float | None], tuple[Any, ...]], QueueSpec]] = {}
        qs = self.sc.replay.queue_skills if self.sc.replay is not None else False
        end = self.sc.end_s if self.sc.duration_s else math.inf
        start = loop.now
        pending = iter([a for a in arrivals if a.at >= start])

        def schedule_next() -> None:
            a = next(pending, None)
            if a is not None and a.at <= end:
                loop.call_later(a.at - loop.now, arrival, a)

        def arrival(a: Arrival) -> None:
            found = per_queue.get(a.queue)
            if found is None:
                found = per_queue[a.queue] = (self._draws(a.queue), self.sc.queue(a.queue))
            d, spec = found
            # the call's own recorded skills, else the queue's, else the queue name as skill
            skills = dict(a.skills) or dict(spec.skills) or ({a.queue: 1} if qs else {})
            self._arrive(a.queue, d(a.patience, a.handle), skills, a.priority, a.customer_id,
                         dict(spec.attributes, **a.attributes))  # fmt: skip
            schedule_next()

        schedule_next()

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
        # Another queue draws its wrap-ups, so every agent's cap is a day (`_setup`): this
        # queue's calls end theirs by the rules' time, with WrapUpEnded like the others
        # (else an agent who took one of them sat in wrap-up until the cap).
        fixed = self._rules_wrap(queue) if wrap is None and self._wrap_by_sim() else None

        def draw(patience: float | None, handle: float | None) -> tuple:
            # always draw everything so a recorded value does not shift the streams
            p, h = pat(), han()
            w = wrap() if wrap is not None else fixed
            return (p if patience is None else patience, h if handle is None else handle, w,
                    ring(), rona() if rona is not None else 1.0)  # fmt: skip

        return draw

    def _arrive(
        self,
        queue: str,
        draws: tuple,
        skills: Mapping[str, int],
        priority: int,
        customer_id: str,
        attributes: Mapping[str, Any],
    ) -> None:
        self._n += 1
        cid = f"c{self._n}"
        loop = self.loop
        now = loop.now
        patience, handle, wrap, ring1, rona1 = draws
        c = _Call(cid, queue, patience, handle, wrap, now, ring1, rona1)
        self._calls[cid] = c
        self.stats.calls += 1
        # The patience timer only matters if the call can still be waiting or ringing
        # when it runs out; most calls are offered at once and answered before. Its
        # place in the loop's order (the one a timer made here would get) is reserved
        # now and the timer scheduled after the CallQueued only when needed: the
        # order of simultaneous events, and so every result, is as if it always were.
        if patience < _INF:  # (math.isfinite: patience is never NaN or -inf)
            c.patience_order = loop.reserve()
        # positional arguments: frozen dataclasses build faster without keywords (hot path)
        self._feed(CallQueued(now, cid, queue, skills, priority, customer_id, attributes))
        if c.patience_order is not None and (
            c.state == "waiting" or (c.state == "ringing" and not c.answer_at < now + c.patience)
        ):
            self._guard(c)

    def _guard(self, c: _Call) -> None:
        """Schedule the call's patience timer (if it was left out at arrival) in the
        order reserved then: due at arrival + patience, like a timer made then."""
        order = c.patience_order
        if order is None:
            return
        c.patience_order = None
        loop = self.loop
        loop.call_at(max(c.arrived + c.patience, loop.now), self._patience_out, (c,), order)

    # ---------------------------------------------------------- call life

    def _offer(self, d: Any) -> _Call | None:
        """Ring the agent; returns the call when it is answered at once (zero ring time)."""
        c = self._calls.get(d.call_id)
        if c is None or c.state not in ("waiting", "ringing"):
            log.warning("sim_offer_for_gone_call", call_id=d.call_id, agent_id=d.agent_id)
            return None
        loop = self.loop
        now = loop.now
        agent = d.agent_id
        c.state = "ringing"
        c.agent = agent
        seq = c.seq = c.seq + 1
        self._agent_call[agent] = c.cid
        self._n_events += 1  # self._emit(CallOffered(...)), inlined (once per call)
        if self._log is not None:  # (built only when someone reads it)
            reason = d.reason
            self._log(CallOffered(now, c.cid, agent, c.queue, reason if type(reason) is str else str(reason)))
        first = seq == 1
        if not first:
            self._guard(c)  # offered again: it went back to waiting (normally guarded then already)
        rona_p = self._rona_p
        if rona_p and (c.rona1 if first else self._rona_rng.random()) < rona_p:
            c.answer_at = math.inf
            loop.call_later(self._rona_timeout, self._rona, c, seq)
            return None
        ring = c.ring1 if first else self._ring_next()
        if ring <= 0:
            return c
        c.answer_at = at = now + ring  # ring > 0
        loop.call_at(at, self._answer, (c, seq))
        return None

    def _answer(self, c: _Call, seq: int) -> None:
        if c.state != "ringing" or c.seq != seq:
            return
        c.state = "talking"
        loop = self.loop
        self._feed(CallConnected(loop.now, c.cid, c.agent, c.queue))
        loop.call_later(c.handle, self._hangup, c)

    def _rona(self, c: _Call, seq: int) -> None:
        if c.state != "ringing" or c.seq != seq:
            return
        agent = c.agent
        c.state = "waiting"
        c.agent = ""
        self._guard(c)
        self._feed(CallNotAnswered(self.loop.now, c.cid, agent, queue=c.queue))
        self._agent_free(agent, c.cid)

    def _patience_out(self, c: _Call) -> None:
        if c.state not in ("waiting", "ringing"):
            return
        ringing = c.state == "ringing"
        c.state = "done"
        del self._calls[c.cid]
        self._feed(CallAbandoned(self.loop.now, c.cid, queue=c.queue))
        if ringing:
            self._agent_free(c.agent, c.cid)

    def _hangup(self, c: _Call) -> None:
        c.state = "done"
        self._calls.pop(c.cid, None)
        self._feed(CallEnded(self.loop.now, c.cid, 16, "", "caller"))
        if c.wrap is not None:
            if c.wrap > 0:
                self.loop.call_later(c.wrap, self._wrap_end, c)
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
            self._feed(WrapUpEnded(self.loop.now, c.cid, agent))

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
        span = max(end - self.loop.now, 0.0)
        with _gc_frozen():
            for i in range(1, steps + 1):
                self.loop.run_until(self.loop.now + span / steps if i < steps else end)
                if progress is not None:
                    progress(i / steps)
            if sc.drain:
                self._drain()
        self.stats.wall_s = time.perf_counter() - t0
        counts = self._decision_counts
        if AgentStateChanged in counts:
            counts[AgentStateChanged] += self._n_state
            self._n_state = 0
        self.stats.decisions = {k.__name__: n for k, n in counts.items()}
        self.stats.events = self._n_events
        self.stats.end_s = self.loop.now
        self.stats.router_build = "compiled" if is_native(type(self.router)) else "python"
        return self.stats

    def _drain(self) -> None:
        """Let calls in progress finish (no new arrivals: their processes stopped at end)."""
        guard = 0
        while self._calls or self._agent_call:
            if self.loop.peek() == math.inf:
                break
            self.loop.step()
            guard += 1
            if guard > 50_000_000:  # pragma: no cover
                log.warning("sim_drain_stuck", calls=len(self._calls))
                break


_GC_YOUNG = 50_000  # allocations between young collections during a run (CPython's default: 700)


@contextlib.contextmanager
def _gc_frozen() -> Iterator[None]:
    """Keep the garbage collector's work in proportion during a run. The run allocates
    ~10 short-lived objects per call (events, decisions, timers), nearly all freed by
    reference counting, yet they set off a young collection every 700 allocations and a
    full one every few thousand calls, which walked every object of the process (the
    router's agents, every imported module...): ~15% of a 1,000-agent day. So the
    objects alive before the run are frozen (`gc.freeze`: left out of collections) and
    young collections come every 50,000 allocations; both are handed back afterwards
    (cycles made during the run are still collected). Left alone when something else
    has frozen objects (a pre-fork server's own policy, or a run in another thread)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, _GC_YOUNG) if young else 0, *older)  # (0: collections off, kept)
    try:
        yield
    finally:
        gc.set_threshold(young, *older)
        gc.unfreeze()


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
