"""The one definition of what domain events mean for KPIs: a pure fold from events to
*facts* (a call was offered, answered after W seconds, handled with talk/hold/wrap-up,
an agent spent [start, end) in a state...). Both KPI forms — the incremental engine
(live wallboard) and the batch report (stored history, simulation output) — read the
same facts, so they can only differ in how they aggregate, which the tests compare.

Semantics (documented here once):
- A *visit* is one stay of a call in a queue, opened by CallQueued. A CallQueued for a
  call already waiting/ringing is ignored (counted once; the first queue is kept); a
  CallQueued for a call that is talking (transfer to a queue) closes the agent's part
  and opens a new visit. Facts carry the visit's offer time and queue: every call
  metric is attributed to the interval in which the call was offered.
- Answered = first CallConnected of a visit (wait = connect - queued). A later
  CallConnected to another agent (transfer) starts that agent's handling segment.
- Abandoned = CallAbandoned (or CallEnded without one) while waiting or ringing,
  unless the call was *deflected*: the caller took a call-back (a later CallQueued
  with `callback_for` naming the call), the router sent it to a final step such as
  voicemail (CallTransferred while waiting), or it was an outbound preview or a
  call-back that was skipped or not reached (CallQueued with `preview` or
  `callback_for`: nobody was waiting on the line, so an unanswered one is not an
  abandon). A deflected call is offered but neither answered nor abandoned.
  RONA = CallNotAnswered (counted per agent); CallRejected (the agent declined) puts
  the call back to waiting without counting a RONA.
- Handling segment of one agent: talk (connected, minus hold) + hold (CallHeld..
  CallResumed) + wrap-up (from the agent leaving the call until WrapUpEnded, the
  agent's next state change away from wrap_up, a new offer/connect, or logout).
  Each segment is one "handled" contact for AHT.
- Agent state time comes from AgentLoggedIn/StateChanged/LoggedOut and is also
  implied by call events (offered -> reserved, connected -> on_call, ended -> wrap_up,
  RONA/abandon while ringing -> available, WrapUpEnded -> available), so KPIs hold
  whether or not the producer publishes the router's agent state changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallHeld,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    CallRejected,
    CallResumed,
    CallTransferred,
    WrapUpEnded,
)

if TYPE_CHECKING:
    from reports.agent_slots import AgentSlots

log = structlog.get_logger()

AGENT_STATES = ("available", "reserved", "on_call", "wrap_up", "paused", "other")
_KNOWN = frozenset(AGENT_STATES) - {"other"}

# ---------------------------------------------------------------- facts


@dataclass(frozen=True, slots=True)
class Offered:
    offered_at: float
    queue: str
    outbound: bool = False  # a campaign's call (CallQueued attributes direction/campaign): not inbound


@dataclass(frozen=True, slots=True)
class Outcome:
    offered_at: float
    queue: str
    answered: bool  # False = abandoned, or deflected
    wait: float
    agent: str = ""
    deflected: bool = False  # left the queue by design (call-back, voicemail, preview closed)
    outbound: bool = False


@dataclass(frozen=True, slots=True)
class Transfer:
    offered_at: float
    queue: str
    agent: str
    outbound: bool = False


@dataclass(frozen=True, slots=True)
class Ring:
    offered_at: float
    queue: str
    agent: str
    rona: bool  # False: the offer itself; True: it rang out (RONA)
    outbound: bool = False


@dataclass(frozen=True, slots=True)
class Handled:
    offered_at: float
    queue: str
    agent: str
    talk: float
    hold: float
    wrap: float
    outbound: bool = False


@dataclass(frozen=True, slots=True)
class Span:
    agent: str
    state: str
    start: float
    end: float


CallFact = Offered | Outcome | Transfer | Ring | Handled  # attributed to the call's offer
Fact = CallFact | Span


LATE_LOG_EVERY = 1000  # a late event is logged the first time, then once per this many


class FactSink(Protocol):
    def fact(self, fact: Fact) -> None: ...


def is_outbound(attributes: Any) -> bool:
    """A campaign's call (the dialer marks its CallQueued: dialer/live.py `_queued`): its
    queue and agents count it, the inbound summary and service level do not."""
    return bool(attributes) and (attributes.get("direction") == "outbound" or bool(attributes.get("campaign")))


# ---------------------------------------------------------------- fold state


class _Visit:
    __slots__ = (
        "agent",
        "deflected",
        "hold",
        "hold_start",
        "offered_at",
        "outbound",
        "queue",
        "seg_start",
        "state",
        "transferred",
    )

    def __init__(self, queue: str, offered_at: float, outbound: bool = False) -> None:
        self.queue = queue
        self.offered_at = offered_at
        self.outbound = outbound
        self.state = "waiting"  # waiting | ringing | talking | held | done
        self.agent = ""
        self.seg_start = 0.0
        self.hold_start = 0.0
        self.hold = 0.0
        self.transferred = False
        self.deflected = False


class _Wrap:
    __slots__ = ("hold", "start", "talk", "visit")

    def __init__(self, visit: _Visit, talk: float, hold: float, start: float) -> None:
        self.visit = visit
        self.talk = talk
        self.hold = hold
        self.start = start


class KpiFold:
    """Feeds facts to `sink` as events arrive. O(1) per event. Events must come in
    time order (a late event is clamped to the last time seen, and logged)."""

    __slots__ = (
        "_agent_changes",
        "_agent_since",
        "_agent_state",
        "_last",
        "_open_memo",
        "_visits",
        "_wraps",
        "late",
        "on_agent",
        "sink",
        "slots",
    )

    def __init__(
        self, sink: FactSink, on_agent: Callable[[str], None] | None = None, slots: AgentSlots | None = None
    ) -> None:
        self.sink = sink
        self.on_agent = on_agent  # told each agent whose state changed (the live wallboard's cells)
        self.slots = slots  # the logged-in agents' states kept in arrays too (the live wallboard's sums)
        self._visits: dict[str, _Visit] = {}
        self._agent_state: dict[str, str] = {}  # logged-in agents only
        self._agent_since: dict[str, float] = {}
        self._agent_changes = 0  # counts the changes of _agent_state / _agent_since
        # the last open_states answer: (now, _agent_changes then, the list)
        self._open_memo: tuple[float, int, list[tuple[str, str, float]]] | None = None
        self._wraps: dict[str, _Wrap] = {}  # agent -> segment awaiting the end of wrap-up
        self._last = float("-inf")
        self.late = 0  # events older than the last one seen (clamped to it)

    # -------------------------------------------------------------- queries

    def waiting(self) -> Iterator[tuple[str, str, float]]:
        """(call_id, queue, offered_at) of calls waiting or ringing now."""
        for cid, v in self._visits.items():
            if v.state in ("waiting", "ringing"):
                yield cid, v.queue, v.offered_at

    def state_of(self, agent: str) -> tuple[str, float] | None:
        state = self._agent_state.get(agent)
        return None if state is None else (state, self._agent_since[agent])

    def agent_states(self) -> dict[str, tuple[str, float]]:
        return {a: (s, self._agent_since[a]) for a, s in self._agent_state.items()}

    @property
    def agent_changes(self) -> int:
        """How many times an agent's state (or its since) changed: equal counts, the same
        open states."""
        return self._agent_changes

    def open_spans(self, now: float) -> list[Span]:
        """The agents' current states as spans ending at `now` (not emitted as facts)."""
        return [Span(a, s, since, now) for a, s, since in self.open_states(now)]

    def open_states(self, now: float) -> list[tuple[str, str, float]]:
        """(agent, state, since) of the spans `open_spans` gives, without building a
        Span each (the live wallboard asks twice a second, for every agent). The same
        list is given again while `now` and the agents' states are the same (a push asks
        for the day's report, the window and the alerts' windows): read it, never change it."""
        memo = self._open_memo
        if memo is not None and memo[0] == now and memo[1] == self._agent_changes:
            return memo[2]
        since = self._agent_since
        states = [(a, s, since[a]) for a, s in self._agent_state.items() if now > since[a]]
        self._open_memo = (now, self._agent_changes, states)
        return states

    # -------------------------------------------------------------- agent state

    def _set_state(self, agent: str, state: str, at: float) -> None:
        if not agent:
            return
        if state not in _KNOWN:
            log.warning("kpi_unknown_agent_state", agent_id=agent, state=state)
            state = "other"
        old = self._agent_state.get(agent)
        if old == state:
            return
        if old is not None:
            since = self._agent_since[agent]
            if at > since:
                self.sink.fact(Span(agent, old, since, at))
        self._agent_state[agent] = state
        self._agent_since[agent] = at
        self._agent_changes += 1
        if self.slots is not None:
            self.slots.set(agent, state, at)
        if self.on_agent is not None:
            self.on_agent(agent)

    def _logout(self, agent: str, at: float) -> None:
        old = self._agent_state.pop(agent, None)
        since = self._agent_since.pop(agent, at)
        self._agent_changes += 1
        if self.slots is not None:
            self.slots.clear(agent)
        if old is not None and at > since:
            self.sink.fact(Span(agent, old, since, at))
        if old is not None and self.on_agent is not None:
            self.on_agent(agent)

    def _end_wrap(self, agent: str, at: float) -> None:
        w = self._wraps.pop(agent, None)
        if w is not None:
            v = w.visit
            self.sink.fact(Handled(v.offered_at, v.queue, agent, w.talk, w.hold, max(0.0, at - w.start), v.outbound))

    def _leave_call(self, v: _Visit, at: float) -> None:
        """The visit's agent stops talking: its segment waits for the end of wrap-up."""
        agent = v.agent
        hold = v.hold
        if v.state == "held":
            hold += at - v.hold_start
        talk = max(0.0, at - v.seg_start - hold)
        self._end_wrap(agent, at)
        self._wraps[agent] = _Wrap(v, talk, hold, at)
        self._set_state(agent, "wrap_up", at)
        v.hold = 0.0

    # -------------------------------------------------------------- the fold

    def apply(self, event: object) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is None:  # not a voice event (a written task's, an alert's): nothing to fold
            return
        at = getattr(event, "at", None)
        if not isinstance(at, (int, float)):
            log.warning("kpi_event_without_time", kind=type(event).__name__)
            return
        if at < self._last:
            # logged the first time and then once per LATE_LOG_EVERY: the live loop stamps
            # its own events by its clock and the PBX's by the PBX's, so under load most
            # calls' CallQueued come a few ms "late", and a warning line each was a cost per call
            self.late += 1
            if self.late == 1 or self.late % LATE_LOG_EVERY == 0:
                log.warning("kpi_event_out_of_order", kind=type(event).__name__, at=at, last=self._last, late=self.late)
            at = self._last
        self._last = at
        handler(self, event, at)

    def _queued(self, e: CallQueued, at: float) -> None:
        v = self._visits.get(e.call_id)
        if v is not None and v.state in ("waiting", "ringing"):
            return
        if v is not None and v.state in ("talking", "held"):
            self._leave_call(v, at)
        attributes = e.attributes
        nv = _Visit(e.queue, at, is_outbound(attributes))
        self._visits[e.call_id] = nv
        self.sink.fact(Offered(at, e.queue, nv.outbound))
        if attributes:
            original = attributes.get("callback_for")
            if attributes.get("preview") or original:
                nv.deflected = True  # until it connects: Hotline calls out, nobody waits on the line
            if original:
                ov = self._visits.get(str(original))
                if ov is not None and ov.state in ("waiting", "ringing"):
                    ov.deflected = True  # the caller took a call-back: not an abandon

    def _offered(self, e: CallOffered, at: float) -> None:
        self._end_wrap(e.agent_id, at)
        self._set_state(e.agent_id, "reserved", at)
        v = self._visits.get(e.call_id)
        if v is not None and v.state in ("waiting", "ringing"):
            v.state = "ringing"
            v.agent = e.agent_id
            self.sink.fact(Ring(v.offered_at, v.queue, e.agent_id, False, v.outbound))

    def _not_answered(self, e: CallNotAnswered, at: float) -> None:
        if self._agent_state.get(e.agent_id) == "reserved":
            self._set_state(e.agent_id, "available", at)
        v = self._visits.get(e.call_id)
        if v is not None and v.state == "ringing":
            v.state = "waiting"
            v.agent = ""
            self.sink.fact(Ring(v.offered_at, v.queue, e.agent_id, True, v.outbound))

    def _rejected(self, e: CallRejected, at: float) -> None:
        """CallRejected: the agent declined the offer; the call waits again. Not a RONA."""
        agent = e.agent_id
        if self._agent_state.get(agent) == "reserved":
            self._set_state(agent, "available", at)
        v = self._visits.get(e.call_id)
        if v is not None and v.state == "ringing" and v.agent == agent:
            v.state = "waiting"
            v.agent = ""

    def _connected(self, e: CallConnected, at: float) -> None:
        agent = e.agent_id
        self._end_wrap(agent, at)
        v = self._visits.get(e.call_id)
        if v is not None:
            if v.state in ("waiting", "ringing"):
                if v.state == "ringing" and v.agent and v.agent != agent:
                    if self._agent_state.get(v.agent) == "reserved":
                        self._set_state(v.agent, "available", at)
                self.sink.fact(Outcome(v.offered_at, v.queue, True, at - v.offered_at, agent, outbound=v.outbound))
            elif v.state in ("talking", "held") and v.agent != agent:
                self._leave_call(v, at)  # transfer: the previous agent goes to wrap-up
            elif v.state in ("talking", "held"):
                return  # duplicate connect
            else:  # done: a connect after the end; ignore the visit
                self._set_state(agent, "on_call", at)
                return
            v.state = "talking"
            v.agent = agent
            v.seg_start = at
            v.hold = 0.0
        self._set_state(agent, "on_call", at)

    def _abandoned(self, e: CallAbandoned, at: float) -> None:
        v = self._visits.get(e.call_id)
        if v is None or v.state not in ("waiting", "ringing"):
            return
        if v.state == "ringing" and self._agent_state.get(v.agent) == "reserved":
            self._set_state(v.agent, "available", at)
        v.state = "done"
        self.sink.fact(
            Outcome(v.offered_at, v.queue, False, at - v.offered_at, deflected=v.deflected, outbound=v.outbound)
        )
        del self._visits[e.call_id]

    def _held(self, e: CallHeld, at: float) -> None:
        v = self._visits.get(e.call_id)
        if v is not None and v.state == "talking":
            v.state = "held"
            v.hold_start = at

    def _resumed(self, e: CallResumed, at: float) -> None:
        v = self._visits.get(e.call_id)
        if v is not None and v.state == "held":
            v.state = "talking"
            v.hold += at - v.hold_start

    def _transferred(self, e: CallTransferred, at: float) -> None:
        v = self._visits.get(e.call_id)
        if v is not None and v.state in ("waiting", "ringing"):
            v.deflected = True  # the router's final step (voicemail...) while waiting
            return
        if v is not None and v.state in ("talking", "held") and not v.transferred:
            v.transferred = True
            self.sink.fact(Transfer(v.offered_at, v.queue, v.agent, v.outbound))

    def _ended(self, e: CallEnded, at: float) -> None:
        v = self._visits.pop(e.call_id, None)
        if v is None:
            return
        if v.state in ("waiting", "ringing"):
            if v.state == "ringing" and self._agent_state.get(v.agent) == "reserved":
                self._set_state(v.agent, "available", at)
            self.sink.fact(
                Outcome(v.offered_at, v.queue, False, at - v.offered_at, deflected=v.deflected, outbound=v.outbound)
            )
        elif v.state in ("talking", "held"):
            self._leave_call(v, at)
        v.state = "done"

    def _wrap_ended(self, e: WrapUpEnded, at: float) -> None:
        self._end_wrap(e.agent_id, at)
        if self._agent_state.get(e.agent_id) == "wrap_up":
            self._set_state(e.agent_id, "available", at)

    def _logged_in(self, e: AgentLoggedIn, at: float) -> None:
        if e.agent_id not in self._agent_state:
            self._set_state(e.agent_id, "available", at)

    def _state_changed(self, e: AgentStateChanged, at: float) -> None:
        if e.state == "logged_out":
            self._end_wrap(e.agent_id, at)
            self._logout(e.agent_id, at)
            return
        if e.state != "wrap_up":
            self._end_wrap(e.agent_id, at)
        self._set_state(e.agent_id, e.state, at)

    def _logged_out(self, e: AgentLoggedOut, at: float) -> None:
        self._end_wrap(e.agent_id, at)
        self._logout(e.agent_id, at)


# Each handler takes the event type it is filed under: the event parameter is Any
# because the dict's value type cannot tie it to its key (the lookup by exact type does).
_Handler = Callable[[KpiFold, Any, float], None]
_HANDLERS: dict[type, _Handler] = {
    CallQueued: KpiFold._queued,
    CallOffered: KpiFold._offered,
    CallNotAnswered: KpiFold._not_answered,
    CallConnected: KpiFold._connected,
    CallAbandoned: KpiFold._abandoned,
    CallHeld: KpiFold._held,
    CallResumed: KpiFold._resumed,
    CallTransferred: KpiFold._transferred,
    CallEnded: KpiFold._ended,
    WrapUpEnded: KpiFold._wrap_ended,
    AgentLoggedIn: KpiFold._logged_in,
    AgentStateChanged: KpiFold._state_changed,
    AgentLoggedOut: KpiFold._logged_out,
    CallRejected: KpiFold._rejected,
}
