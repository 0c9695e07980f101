"""A SimPy model of the outbound dialer, driving the real pacing core.

SimPy runs synchronously here (plain `simpy.Environment`, never inside asyncio):
call `run_dialer_sim` from a thread or a process if an event loop is involved.

The model
---------
- `agents` agents are logged in (and ready) for the whole run.
- Every `tick_s` seconds the pacer (`dialer.pacing.Pacer`) is shown a snapshot
  (idle agents, each busy agent's time into its call, each dial in flight, answered
  humans waiting, inbound calls waiting) and says how many numbers to dial.
- A dial is answered by a human with probability `answer_rate`; the time to that
  answer is exponential with mean `ring_mean_s` conditioned on being shorter than
  the no-answer timeout (so the human share of dials is exactly `answer_rate`).
  With probability `machine_rate` an answering machine answers (same ring-time law);
  AMD takes `amd_s` and the machine never reaches an agent. With probability
  `busy_rate` the line is busy after `busy_s`. Every other dial rings until
  `no_answer_timeout_s` and is a no-answer.
- An answered human is connected at once to an idle agent (standing agent channel);
  otherwise it waits for the first agent to free up, for at most `connect_grace_s`
  (2 s), and is dropped after that (it hears the recorded message). A dropped call
  counts against the cap.
- Handle time = talk (drawn from the AHT distribution) + `wrap_up_s`.
- Blending: inbound calls arrive as a Poisson stream (`inbound_per_hour`); they take
  an idle agent at once, or queue, and a freed agent serves queued inbound calls
  before outbound humans waiting. The pacer is told the inbound rate and queue.

Domain events (`events/`) are emitted to an optional sink, so the KPI library can
fold a simulated campaign exactly like a live one.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import simpy
import structlog

from dialer.campaign import CampaignBook
from dialer.leads import Lead
from dialer.pacing import (
    DAY,
    MODE_PREDICTIVE,
    MODE_PROGRESSIVE,
    Pacer,
    PacingConfig,
    PacingSnapshot,
    max_window_rate,
)
from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallArrived,
    CallConnected,
    CallEnded,
    CallQueued,
    DialerAttempted,
    DialerDropped,
    DialerResulted,
    Event,
    WrapUpEnded,
)

log = structlog.get_logger()

AHT_DISTRIBUTIONS = ("exponential", "lognormal", "gamma", "fixed")
INBOUND_QUEUE = "inbound"  # the queue name of the blended inbound calls in the events


class SimConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class DialerSimConfig:
    agents: int = 20
    answer_rate: float = 0.3
    aht_s: float = 180.0
    aht_dist: str = "exponential"
    aht_cv: float = 1.0  # coefficient of variation for lognormal / gamma
    wrap_up_s: float = 0.0
    ring_mean_s: float = 10.0
    no_answer_timeout_s: float = 25.0
    machine_rate: float = 0.0
    amd_s: float = 3.0
    busy_rate: float = 0.0
    busy_s: float = 3.0
    hours: float = 8.0
    seed: int = 1
    mode: str = MODE_PREDICTIVE
    tick_s: float = 1.0
    connect_grace_s: float = 2.0
    inbound_per_hour: float = 0.0
    inbound_aht_s: float = 0.0  # 0 = same as aht_s
    drop_cap: float = 0.03
    window_s: float = DAY  # the rolling window reported as max_window_abandon_rate
    campaign: str = "sim"
    pacing: PacingConfig | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.agents >= 1, "agents: must be >= 1"),
            (0.0 < self.answer_rate <= 1.0, "answer_rate: must be in (0, 1]"),
            (self.aht_s > 0, "aht_s: must be > 0"),
            (self.aht_dist in AHT_DISTRIBUTIONS, f"aht_dist: must be one of {', '.join(AHT_DISTRIBUTIONS)}"),
            (self.aht_cv > 0, "aht_cv: must be > 0"),
            (self.wrap_up_s >= 0, "wrap_up_s: must be >= 0"),
            (self.ring_mean_s > 0, "ring_mean_s: must be > 0"),
            (self.no_answer_timeout_s > 0, "no_answer_timeout_s: must be > 0"),
            (self.machine_rate >= 0 and self.busy_rate >= 0, "machine_rate/busy_rate: must be >= 0"),
            (
                self.answer_rate + self.machine_rate + self.busy_rate <= 1.0 + 1e-9,
                "answer_rate + machine_rate + busy_rate: must be <= 1",
            ),
            (self.hours > 0, "hours: must be > 0"),
            (self.mode in (MODE_PREDICTIVE, MODE_PROGRESSIVE), "mode: must be predictive or progressive"),
            (self.tick_s > 0, "tick_s: must be > 0"),
            (self.connect_grace_s >= 0, "connect_grace_s: must be >= 0"),
            (self.inbound_per_hour >= 0, "inbound_per_hour: must be >= 0"),
            (0 < self.drop_cap < 1, "drop_cap: must be in (0, 1)"),
            (self.window_s > 0, "window_s: must be > 0"),
        ]
        problems = [reason for ok, reason in checks if not ok]
        if problems:
            raise SimConfigError("; ".join(problems))

    def pacing_config(self) -> PacingConfig:
        base = self.pacing or PacingConfig()
        windows = tuple(sorted(set(base.windows_s) | {self.window_s}, reverse=True))
        return replace(
            base,
            drop_cap=self.drop_cap,
            windows_s=windows,
            connect_grace_s=self.connect_grace_s,
            no_answer_timeout_s=self.no_answer_timeout_s,
        )


@dataclass(slots=True)
class DialerSimResult:
    config: DialerSimConfig
    duration_s: float
    dials: int = 0
    resolved: int = 0
    humans: int = 0
    machines: int = 0
    busy: int = 0
    no_answer: int = 0
    connected: int = 0
    dropped: int = 0
    inbound_arrived: int = 0
    inbound_handled: int = 0
    handling_s: float = 0.0  # talk + wrap-up inside the run, all agents
    talk_s: float = 0.0
    decisions: int = 0
    progressive_decisions: int = 0
    answer_times: list[float] = field(default_factory=list)
    drop_times: list[float] = field(default_factory=list)
    events_emitted: int = 0
    dnc_blocked: int = 0

    @property
    def logged_in_s(self) -> float:
        return self.config.agents * self.duration_s

    @property
    def occupancy(self) -> float:
        return self.handling_s / self.logged_in_s

    @property
    def abandon_rate(self) -> float:
        return self.dropped / self.humans if self.humans else 0.0

    def max_window_abandon_rate(self, window_s: float | None = None) -> float:
        return max_window_rate(
            self.answer_times, self.drop_times, window_s or self.config.window_s, 0.0, self.duration_s
        )

    def summary(self) -> dict[str, Any]:
        c = self.config
        agent_hours = c.agents * self.duration_s / 3600.0
        return {
            "mode": c.mode,
            "agents": c.agents,
            "answer_rate": c.answer_rate,
            "aht_s": c.aht_s,
            "aht_dist": c.aht_dist,
            "ring_mean_s": c.ring_mean_s,
            "no_answer_timeout_s": c.no_answer_timeout_s,
            "hours": self.duration_s / 3600.0,
            "seed": c.seed,
            "occupancy": round(self.occupancy, 5),
            "talk_occupancy": round(self.talk_s / self.logged_in_s, 5),
            "abandon_rate": round(self.abandon_rate, 5),
            "max_window_abandon_rate": round(self.max_window_abandon_rate(), 5),
            "window_s": c.window_s,
            "drop_cap": c.drop_cap,
            "dials_per_agent_hour": round(self.dials / agent_hours, 3),
            "dials": self.dials,
            "live_answered": self.humans,
            "connected": self.connected,
            "dropped": self.dropped,
            "machines": self.machines,
            "busy": self.busy,
            "no_answer": self.no_answer,
            "observed_answer_rate": round(self.humans / self.resolved, 5) if self.resolved else 0.0,
            "inbound_arrived": self.inbound_arrived,
            "inbound_handled": self.inbound_handled,
            "progressive_share": round(self.progressive_decisions / self.decisions, 5) if self.decisions else 0.0,
            "events_emitted": self.events_emitted,
            "dnc_blocked": self.dnc_blocked,
        }


class _Agent:
    __slots__ = ("agent_id", "busy_since", "call_id", "talk_ended")

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.busy_since = -1.0
        self.talk_ended = -1.0  # end of the talk part of the current call, once over
        self.call_id = ""


class DialerModel:
    """The SimPy processes. Build, then `run()`; one instance per run."""

    def __init__(
        self,
        config: DialerSimConfig,
        sink: Callable[[Event], None] | None = None,
        book: CampaignBook | None = None,
        start_epoch: float = 0.0,
    ) -> None:
        self.c = config
        # with a campaign book, leads come from its selector (calling windows, DNC, retries)
        # at the epoch time start_epoch + env.now; without one, every dial is a fresh lead
        self.book = book
        self.start_epoch = start_epoch
        self.campaign_id = book.config.id if book is not None else config.campaign
        self._final_dispositions = (
            [d for d, action in book.config.dispositions.items() if action == "final"] if book else []
        )
        self.env = simpy.Environment()
        self.rng = random.Random(config.seed)
        self.pacer = Pacer(config.pacing_config())
        self.sink = sink
        self.end = config.hours * 3600.0
        self.result = DialerSimResult(config=config, duration_s=self.end)
        self.agents = [_Agent(f"agent-{i + 1:03d}") for i in range(config.agents)]
        self.idle: deque[_Agent] = deque(self.agents)  # longest idle first
        self.busy: set[_Agent] = set()
        self.ringing: dict[str, float] = {}  # call id -> dial time
        self.waiting: deque[tuple[str, str, simpy.Event]] = deque()  # (call id, lead id, event)
        self.inbound_queue: deque[tuple[str, simpy.Event]] = deque()
        self.reserved = 0  # idle agents held for progressive dials in flight (inbound may not take them)
        self._seq = 0
        self._trunc = 1.0 - math.exp(-config.no_answer_timeout_s / config.ring_mean_s)
        if config.aht_dist in ("lognormal",):
            sigma2 = math.log(1.0 + config.aht_cv**2)
            self._ln_mu = math.log(config.aht_s) - sigma2 / 2.0
            self._ln_sigma = math.sqrt(sigma2)
        self._gamma_k = 1.0 / config.aht_cv**2

    # ------------------------------------------------------------ helpers
    def emit(self, event: Event) -> None:
        if self.sink is not None:
            self.sink(event)
            self.result.events_emitted += 1

    def _next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq}"

    def draw_talk(self, mean: float) -> float:
        c = self.c
        if c.aht_dist == "exponential":
            return self.rng.expovariate(1.0 / mean)
        if c.aht_dist == "fixed":
            return mean
        if c.aht_dist == "lognormal":
            scale = mean / c.aht_s
            return scale * self.rng.lognormvariate(self._ln_mu, self._ln_sigma)
        return self.rng.gammavariate(self._gamma_k, mean / self._gamma_k)

    def draw_human_ring(self) -> float:
        # exponential(ring mean) conditioned on < no-answer timeout (inverse CDF)
        u = self.rng.random()
        return -self.c.ring_mean_s * math.log(1.0 - u * self._trunc)

    # ------------------------------------------------------------ processes
    def run(self) -> DialerSimResult:
        for agent in self.agents:
            self.emit(AgentLoggedIn(at=0.0, agent_id=agent.agent_id))
            self.emit(AgentStateChanged(at=0.0, agent_id=agent.agent_id, state="available"))
        self.env.process(self._pacing_loop())
        if self.c.inbound_per_hour > 0:
            self.env.process(self._inbound_arrivals())
        self.env.run(until=self.end)
        for agent in self.busy:  # calls still in progress at the end count up to the end
            self.result.handling_s += self.end - agent.busy_since
            if agent.talk_ended < agent.busy_since:  # still talking
                self.result.talk_s += self.end - agent.busy_since
        for agent in self.agents:
            self.emit(AgentLoggedOut(at=self.end, agent_id=agent.agent_id))
        log.info(
            "dialer_sim_finished",
            mode=self.c.mode,
            agents=self.c.agents,
            seed=self.c.seed,
            dials=self.result.dials,
            occupancy=round(self.result.occupancy, 4),
            abandon_rate=round(self.result.abandon_rate, 4),
        )
        return self.result

    def snapshot(self) -> PacingSnapshot:
        now = self.env.now
        return PacingSnapshot(
            now=now,
            agents_ready=len(self.agents),
            agents_idle=len(self.idle),
            busy_elapsed=[now - a.busy_since for a in self.busy],
            ringing_elapsed=[now - t for t in self.ringing.values()],
            answered_waiting=len(self.waiting),
            inbound_waiting=len(self.inbound_queue),
            inbound_rate_per_s=self.c.inbound_per_hour / 3600.0,
        )

    def _pacing_loop(self):  # type: ignore[no-untyped-def]
        while True:
            decision = self.pacer.decide(self.snapshot(), self.c.mode)
            self.result.decisions += 1
            if decision.mode == MODE_PROGRESSIVE:
                self.result.progressive_decisions += 1
            reserve = decision.mode == MODE_PROGRESSIVE  # progressive dials hold an agent each
            if self.book is None:
                for _ in range(decision.dial):
                    self.env.process(self._dial(reserve))
            elif decision.dial > 0:
                selection = self.book.next_leads(self.start_epoch + self.env.now, decision.dial)
                self.result.dnc_blocked += len(selection.blocked)
                for lead in selection.leads:
                    self.env.process(self._dial(reserve, lead))
            yield self.env.timeout(self.c.tick_s)

    def _book_outcome(self, lead: Lead | None, outcome: str) -> None:
        if self.book is not None and lead is not None:
            self.book.record_outcome(lead.lead_id, outcome, self.start_epoch + self.env.now)

    def _dial(self, reserve: bool = False, lead: Lead | None = None):  # type: ignore[no-untyped-def]
        c, env, r = self.c, self.env, self.result
        if reserve:
            self.reserved += 1
        call_id = self._next_id("out")
        lead_id = lead.lead_id if lead is not None else f"lead-{self._seq}"
        start = env.now
        self.ringing[call_id] = start
        r.dials += 1
        self.emit(
            DialerAttempted(
                at=start,
                call_id=call_id,
                campaign=self.campaign_id,
                lead_id=lead_id,
                number=lead.phone if lead is not None else "",
            )
        )
        u = self.rng.random()
        if u < c.answer_rate:
            outcome, ring = "human", self.draw_human_ring()
        elif u < c.answer_rate + c.machine_rate:
            outcome, ring = "machine", self.draw_human_ring()
        elif u < c.answer_rate + c.machine_rate + c.busy_rate:
            outcome, ring = "busy", min(self.rng.expovariate(1.0 / c.busy_s), c.no_answer_timeout_s)
        else:
            outcome, ring = "no_answer", c.no_answer_timeout_s
        yield env.timeout(ring)
        del self.ringing[call_id]
        r.resolved += 1
        if reserve:
            self.reserved -= 1
        self.pacer.observe_dial_result(outcome == "human", ring)
        self.emit(
            DialerResulted(at=env.now, call_id=call_id, campaign=self.campaign_id, lead_id=lead_id, result=outcome)
        )
        if outcome != "human":
            self._book_outcome(lead, outcome)
        if outcome == "busy":
            r.busy += 1
            self.emit(CallEnded(at=env.now, call_id=call_id, cause=17, cause_text="User busy", hung_up_by="system"))
            return
        if outcome == "no_answer":
            r.no_answer += 1
            self.emit(CallEnded(at=env.now, call_id=call_id, cause=19, cause_text="No answer", hung_up_by="system"))
            return
        if outcome == "machine":
            r.machines += 1
            yield env.timeout(c.amd_s)  # AMD listens, then the message is left or the call hung up
            self.emit(CallEnded(at=env.now, call_id=call_id, cause=16, hung_up_by="system"))
            return
        # a live human
        answered_at = env.now
        r.humans += 1
        r.answer_times.append(answered_at)
        self.emit(
            CallArrived(
                at=answered_at,
                call_id=call_id,
                direction="outbound",
                dialed=lead.phone if lead is not None else lead_id,
            )
        )
        if self.idle:
            agent = self.idle.popleft()
        else:
            ev = env.event()
            entry = (call_id, lead_id, ev)
            self.waiting.append(entry)
            yield ev | env.timeout(c.connect_grace_s)
            if not ev.triggered:
                self.waiting.remove(entry)
                r.dropped += 1
                r.drop_times.append(answered_at)
                self.pacer.observe_live_answer(answered_at, dropped=True)
                self._book_outcome(lead, "dropped")
                self.emit(DialerDropped(at=env.now, call_id=call_id, campaign=self.campaign_id, lead_id=lead_id))
                self.emit(CallEnded(at=env.now, call_id=call_id, cause=16, cause_text="Dropped", hung_up_by="system"))
                return
            handed = ev.value  # _agent_free() succeeds a waiting entry's event with the agent
            assert isinstance(handed, _Agent)
            agent = handed
        r.connected += 1
        self.pacer.observe_live_answer(answered_at, dropped=False)
        if self.book is not None and lead is not None:
            self.book.record_connected(lead.lead_id, self.start_epoch + env.now)
        yield from self._handle(agent, call_id, c.aht_s, self.campaign_id)
        if self.book is not None and lead is not None and self._final_dispositions:
            disposition = self.rng.choice(self._final_dispositions)
            self.book.record_disposition(lead.lead_id, disposition, self.start_epoch + env.now)

    def _handle(self, agent: _Agent, call_id: str, mean_talk: float, queue: str):  # type: ignore[no-untyped-def]
        c, env, r = self.c, self.env, self.result
        agent.busy_since = env.now
        agent.call_id = call_id
        self.busy.add(agent)
        self.emit(CallConnected(at=env.now, call_id=call_id, agent_id=agent.agent_id, queue=queue))
        self.emit(AgentStateChanged(at=env.now, agent_id=agent.agent_id, state="on_call"))
        talk = self.draw_talk(mean_talk)
        start = env.now
        yield env.timeout(talk)
        agent.talk_ended = env.now
        r.talk_s += min(env.now, self.end) - start
        self.emit(CallEnded(at=env.now, call_id=call_id, cause=16, hung_up_by="caller"))
        if c.wrap_up_s > 0:
            self.emit(AgentStateChanged(at=env.now, agent_id=agent.agent_id, state="wrap_up"))
            yield env.timeout(c.wrap_up_s)
        r.handling_s += min(env.now, self.end) - start
        self.emit(WrapUpEnded(at=env.now, call_id=call_id, agent_id=agent.agent_id))
        self.pacer.observe_handle_time(env.now - start)
        self.busy.discard(agent)
        agent.call_id = ""
        self._agent_free(agent)

    def _agent_free(self, agent: _Agent) -> None:
        env = self.env
        if self.inbound_queue:
            _call_id, ev = self.inbound_queue.popleft()
            ev.succeed(agent)
            return
        if self.waiting:
            _call, _lead, ev = self.waiting.popleft()
            ev.succeed(agent)
            return
        self.emit(AgentStateChanged(at=env.now, agent_id=agent.agent_id, state="available"))
        self.idle.append(agent)

    def _inbound_arrivals(self):  # type: ignore[no-untyped-def]
        rate = self.c.inbound_per_hour / 3600.0
        while True:
            yield self.env.timeout(self.rng.expovariate(rate))
            self.env.process(self._inbound_call())

    def _inbound_call(self):  # type: ignore[no-untyped-def]
        env, r = self.env, self.result
        call_id = self._next_id("in")
        r.inbound_arrived += 1
        self.emit(CallArrived(at=env.now, call_id=call_id, direction="inbound"))
        if len(self.idle) > self.reserved:
            agent = self.idle.popleft()
        else:
            ev = env.event()
            self.inbound_queue.append((call_id, ev))
            self.emit(CallQueued(at=env.now, call_id=call_id, queue=INBOUND_QUEUE))
            agent = yield ev
        r.inbound_handled += 1
        yield from self._handle(agent, call_id, self.c.inbound_aht_s or self.c.aht_s, INBOUND_QUEUE)


def run_dialer_sim(
    config: DialerSimConfig,
    sink: Callable[[Event], None] | None = None,
    book: CampaignBook | None = None,
    start_epoch: float = 0.0,
) -> DialerSimResult:
    """Run one seeded simulation (synchronously; never call this inside an event loop).
    With `book`, dial that campaign's leads from `start_epoch` (epoch seconds)."""
    return DialerModel(config, sink, book, start_epoch).run()
