"""Domain events: the one spine every part of Hotline reads and writes.

The call model (from AMI), the simulator (from SimPy) and the web desktop (agent
actions) all produce these; the store logs them, the bus fans them out, the router
and the KPI library fold them. Nothing PBX-specific lives here.

Every event is a frozen, slotted dataclass named in the past tense, with `at`
(seconds since the epoch, or simulated seconds) passed in by the producer.
`to_record`/`from_record` give the stable JSON form used by the store and the bus.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from events.fastinit import fast_init

# ---------------------------------------------------------------- calls


@dataclass(frozen=True, slots=True)
class CallArrived:
    """A call reached the system (inbound trunk or an answered outbound leg)."""

    at: float
    call_id: str
    direction: str = "inbound"  # inbound | outbound
    caller: str = ""  # caller number, digits as received
    caller_name: str = ""
    dialed: str = ""  # the number or extension dialed
    channel: str = ""


@dataclass(frozen=True, slots=True)
class CallQueued:
    """The call is waiting for an agent (on hold, music playing)."""

    at: float
    call_id: str
    queue: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    customer_id: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallOffered:
    """The call is offered to (ringing at) an agent, who is now reserved."""

    at: float
    call_id: str
    agent_id: str
    queue: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CallConnected:
    """Caller and agent (or callee) are talking."""

    at: float
    call_id: str
    agent_id: str = ""
    queue: str = ""


@dataclass(frozen=True, slots=True)
class CallNotAnswered:
    """Ring-no-answer (RONA): the offered agent did not pick up in time."""

    at: float
    call_id: str
    agent_id: str
    queue: str = ""


@dataclass(frozen=True, slots=True)
class CallRejected:
    """The offered agent declined the call (the desktop's "reject"): the call goes
    back to the head of its queue and is not offered to that agent again. Unlike
    CallNotAnswered (RONA) it is not a miss."""

    at: float
    call_id: str
    agent_id: str
    queue: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller hung up while waiting (queued or ringing an agent)."""

    at: float
    call_id: str
    queue: str = ""


@dataclass(frozen=True, slots=True)
class CallHeld:
    at: float
    call_id: str
    agent_id: str = ""


@dataclass(frozen=True, slots=True)
class CallResumed:
    at: float
    call_id: str
    agent_id: str = ""


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """mode: blind | attended. target: agent id, queue, extension or number."""

    at: float
    call_id: str
    mode: str
    from_agent: str = ""
    target: str = ""
    result: str = "Success"


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The call is over. cause: Asterisk/Q.850 hangup cause code (16 = normal)."""

    at: float
    call_id: str
    cause: int = 16
    cause_text: str = ""
    hung_up_by: str = ""  # caller | agent | system | ""


@dataclass(frozen=True, slots=True)
class OriginateResulted:
    """Result of an outbound originate. reason: Asterisk's OriginateResponse Reason
    (4 answered, 3 no answer, 5 busy, 8 congestion, 0 failed)."""

    at: float
    originate_id: str
    success: bool
    reason: int
    call_id: str = ""
    channel: str = ""


# ---------------------------------------------------------------- agents


@dataclass(frozen=True, slots=True)
class AgentLoggedIn:
    at: float
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """state: available | reserved | on_call | wrap_up | paused; reason for paused."""

    at: float
    agent_id: str
    state: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AgentLoggedOut:
    at: float
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentLineChanged:
    """The agent's standing line (cti/agent_lines.py): dialling (Hotline is calling the
    agent's phone into its conference), up (callers join it at once), down (calls ring
    the phone through agent-connect)."""

    at: float
    agent_id: str
    state: str
    channel: str = ""


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """After-call work finished; disposition and notes recorded on the interaction."""

    at: float
    call_id: str
    agent_id: str
    disposition: str = ""
    notes: str = ""


# ---------------------------------------------------------------- supervisors


@dataclass(frozen=True, slots=True)
class MonitorStarted:
    """A supervisor's phone spies on an agent's call (ChanSpy): mode listen, whisper
    (coaching: only the agent hears the supervisor) or barge (both hear them). A mode
    switch is a new MonitorStarted after a MonitorEnded with reason "switched"."""

    at: float
    call_id: str
    agent_id: str
    supervisor: str
    mode: str


@dataclass(frozen=True, slots=True)
class MonitorEnded:
    """reason: stopped (the supervisor), switched (to another mode), call_ended,
    not_answered (the supervisor's phone did not answer)."""

    at: float
    call_id: str
    agent_id: str
    supervisor: str
    reason: str


@dataclass(frozen=True, slots=True)
class AgentForced:
    """A supervisor (or an admin) forced the agent's state: action "pause" (with the
    pause code as reason) or "logout". Logged just before the state change it causes."""

    at: float
    agent_id: str
    supervisor: str
    action: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AlertRaised:
    """A wallboard alert's condition began (reports/alerts.py): `alert` service_level,
    waiting, abandon_rate or agent_state, by the alert rule `rule`, for a queue, a team
    or an agent (`agent`, in `state`; not `agent_id`: the alert is about the agent, not
    an event of theirs); `value` and `target` as the banner says them. (Not `kind`: a
    record's "kind" is the event's type.) `rule` "" is an alert of before the rules."""

    at: float
    queue: str
    alert: str
    text: str
    value: float | None = None
    target: float | None = None
    rule: str = ""
    team: str = ""
    agent: str = ""
    state: str = ""


@dataclass(frozen=True, slots=True)
class AlertCleared:
    """The alert's condition no longer holds (the AlertRaised of the same queue, team or
    agent, and rule)."""

    at: float
    queue: str
    alert: str
    rule: str = ""
    team: str = ""
    agent: str = ""


# ---------------------------------------------------------------- written tasks
# A written contact (chat, e-mail, web call-back request: tasks/model.py) through the
# leader's task loop (cti/live_tasks.py). Separate from the Call* events on purpose:
# the voice reports fold Call* and agent states, the channel reports these. Each is
# logged once, by the leader, under a key made of the task id and the stored row's time
# of that step (a second leader, or a restart, logging it again is dropped by the store).


@dataclass(frozen=True, slots=True)
class TaskQueued:
    """The task waits for an agent in `queue`: opened (`from_agent` ""), or transferred
    by `from_agent` (to a named agent: `to_agent`). `due_at`: when it should be answered."""

    at: float
    task_id: str
    channel: str
    queue: str = ""
    priority: int = 0
    due_at: float | None = None
    customer_id: str = ""
    from_agent: str = ""
    to_agent: str = ""


@dataclass(frozen=True, slots=True)
class TaskOffered:
    """The router offered the task to the agent (reserved for them until they accept,
    or the accept time runs out); `wait_s` since it was queued, `reason` the router's."""

    at: float
    task_id: str
    channel: str
    agent_id: str
    queue: str = ""
    wait_s: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TaskAccepted:
    """The agent took the task (their accept, or at once when the channel's accept time is 0)."""

    at: float
    task_id: str
    channel: str
    agent_id: str
    queue: str = ""


@dataclass(frozen=True, slots=True)
class TaskNotAccepted:
    """Ring-no-answer of a written task: the agent did not accept in time; it is
    offered to the next agent, and the agent handled as after a missed call."""

    at: float
    task_id: str
    channel: str
    agent_id: str
    queue: str = ""


@dataclass(frozen=True, slots=True)
class TaskClosed:
    """The agent ended the task, with its wrap-up (`by`: who closed it)."""

    at: float
    task_id: str
    channel: str
    agent_id: str = ""
    queue: str = ""
    by: str = ""
    disposition: str = ""
    first_response_at: float | None = None  # the agent's first answer to the customer


@dataclass(frozen=True, slots=True)
class TaskAbandoned:
    """The customer left before an agent took it (waiting or offered)."""

    at: float
    task_id: str
    channel: str
    queue: str = ""
    reason: str = ""


# ---------------------------------------------------------------- IVR and dialer


@dataclass(frozen=True, slots=True)
class IvrStepped:
    at: float
    call_id: str
    node: str
    result: str = ""


@dataclass(frozen=True, slots=True)
class DialerAttempted:
    at: float
    call_id: str
    campaign: str
    lead_id: str
    number: str = ""


@dataclass(frozen=True, slots=True)
class DialerResulted:
    """result: human | machine | busy | no_answer | congestion | failed; in preview
    mode also answered (the agent dialled and the contact picked up) | skipped |
    dnc_blocked (the number went on a do-not-call list before the agent dialled)."""

    at: float
    call_id: str
    campaign: str
    lead_id: str
    result: str


@dataclass(frozen=True, slots=True)
class DialerDropped:
    """A live-answered call not connected to an agent in time (counts against the cap)."""

    at: float
    call_id: str
    campaign: str
    lead_id: str = ""


Event = (
    CallArrived
    | CallQueued
    | CallOffered
    | CallConnected
    | CallNotAnswered
    | CallRejected
    | CallAbandoned
    | CallHeld
    | CallResumed
    | CallTransferred
    | CallEnded
    | OriginateResulted
    | AgentLoggedIn
    | AgentStateChanged
    | AgentLoggedOut
    | AgentLineChanged
    | WrapUpEnded
    | MonitorStarted
    | MonitorEnded
    | AgentForced
    | AlertRaised
    | AlertCleared
    | TaskQueued
    | TaskOffered
    | TaskAccepted
    | TaskNotAccepted
    | TaskClosed
    | TaskAbandoned
    | IvrStepped
    | DialerAttempted
    | DialerResulted
    | DialerDropped
)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        CallArrived,
        CallQueued,
        CallOffered,
        CallConnected,
        CallNotAnswered,
        CallRejected,
        CallAbandoned,
        CallHeld,
        CallResumed,
        CallTransferred,
        CallEnded,
        OriginateResulted,
        AgentLoggedIn,
        AgentStateChanged,
        AgentLoggedOut,
        AgentLineChanged,
        WrapUpEnded,
        MonitorStarted,
        MonitorEnded,
        AgentForced,
        AlertRaised,
        AlertCleared,
        TaskQueued,
        TaskOffered,
        TaskAccepted,
        TaskNotAccepted,
        TaskClosed,
        TaskAbandoned,
        IvrStepped,
        DialerAttempted,
        DialerResulted,
        DialerDropped,
    )
}


TASK_EVENTS: tuple[type[Event], ...] = (
    TaskQueued,
    TaskOffered,
    TaskAccepted,
    TaskNotAccepted,
    TaskClosed,
    TaskAbandoned,
)

for _cls in EVENT_TYPES.values():
    fast_init(_cls)  # a cheaper __init__: events/fastinit.py says why


class UnknownEventKind(ValueError):
    pass


def kind_of(event: Event) -> str:
    return type(event).__name__


# Each event class's field names, read once: `dataclasses.fields` per call was most of
# to_record's and from_record's cost (every event is encoded for the log and the bus
# and decoded by each process's hubs).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_FIELD_SETS: dict[type, frozenset[str]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
        _FIELD_SETS[cls] = frozenset(names)
    return names


def to_record(event: Event) -> dict[str, Any]:
    """JSON-ready dict: {"kind": ..., fields...}. Mappings become plain dicts."""
    record: dict[str, Any] = {"kind": kind_of(event)}
    for name in _FIELD_NAMES.get(type(event)) or _field_names(type(event)):
        value = getattr(event, name)
        record[name] = dict(value) if isinstance(value, Mapping) else value
    return record


def from_record(record: Mapping[str, Any]) -> Event:
    kind = record.get("kind")
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        raise UnknownEventKind(f"unknown event kind {kind!r}")
    names = _FIELD_SETS.get(cls)
    if names is None:
        _field_names(cls)
        names = _FIELD_SETS[cls]
    return cls(**{k: v for k, v in record.items() if k in names})


def call_id_of(event: Event) -> str:
    return getattr(event, "call_id", "")


def agent_id_of(event: Event) -> str:
    return getattr(event, "agent_id", "")
