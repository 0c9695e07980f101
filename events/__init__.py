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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

_T = TypeVar("_T", bound=type)


class _Factory:
    """Default of a default_factory field in a fast __init__ (shown as dataclasses do)."""

    def __repr__(self) -> str:
        return "<factory>"


_NO_ARG = _Factory()


def fast_init(cls: _T) -> _T:
    """Give a frozen, slotted dataclass a cheaper `__init__`, same signature, defaults
    and immutability. The generated frozen `__init__` stores each field with
    `object.__setattr__(self, name, value)` (a name lookup per field); this one calls
    the slot descriptors' `__set__` directly, about 40% faster: the simulator builds
    ~9 events and decisions per call. Afterwards assignment still raises
    FrozenInstanceError: only `__init__` is replaced."""
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    if not (params.frozen and params.init) or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"fast_init needs a frozen, slotted dataclass without __post_init__: {cls.__name__}")
    ns: dict[str, Any] = {"_NO_ARG": _NO_ARG}
    args: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):
        if not f.init or f.kw_only:
            raise TypeError(f"fast_init: {cls.__name__}.{f.name} must be a plain positional field")
        name = f.name
        ns[f"_set_{name}"] = cls.__dict__[name].__set__  # the slot's member descriptor
        if f.default is not dataclasses.MISSING:
            ns[f"_default_{name}"] = f.default
            args.append(f"{name}=_default_{name}")
        elif f.default_factory is not dataclasses.MISSING:
            ns[f"_factory_{name}"] = f.default_factory
            args.append(f"{name}=_NO_ARG")
            body.append(f"    if {name} is _NO_ARG:\n        {name} = _factory_{name}()")
        else:
            args.append(name)
        body.append(f"    _set_{name}(self, {name})")
    src = f"def __init__(self, {', '.join(args)}) -> None:\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, ns)
    init: Callable[..., None] = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    generated = cls.__dict__["__init__"]  # the dataclass's own
    init.__annotations__ = dict(generated.__annotations__)
    init.__doc__ = generated.__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls


# ---------------------------------------------------------------- calls


@fast_init
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


@fast_init
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


@fast_init
@dataclass(frozen=True, slots=True)
class CallOffered:
    """The call is offered to (ringing at) an agent, who is now reserved."""

    at: float
    call_id: str
    agent_id: str
    queue: str = ""
    reason: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class CallConnected:
    """Caller and agent (or callee) are talking."""

    at: float
    call_id: str
    agent_id: str = ""
    queue: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class CallNotAnswered:
    """Ring-no-answer (RONA): the offered agent did not pick up in time."""

    at: float
    call_id: str
    agent_id: str
    queue: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller hung up while waiting (queued or ringing an agent)."""

    at: float
    call_id: str
    queue: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class CallHeld:
    at: float
    call_id: str
    agent_id: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class CallResumed:
    at: float
    call_id: str
    agent_id: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class CallTransferred:
    """mode: blind | attended. target: agent id, queue, extension or number."""

    at: float
    call_id: str
    mode: str
    from_agent: str = ""
    target: str = ""
    result: str = "Success"


@fast_init
@dataclass(frozen=True, slots=True)
class CallEnded:
    """The call is over. cause: Asterisk/Q.850 hangup cause code (16 = normal)."""

    at: float
    call_id: str
    cause: int = 16
    cause_text: str = ""
    hung_up_by: str = ""  # caller | agent | system | ""


@fast_init
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


@fast_init
@dataclass(frozen=True, slots=True)
class AgentLoggedIn:
    at: float
    agent_id: str


@fast_init
@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """state: available | reserved | on_call | wrap_up | paused; reason for paused."""

    at: float
    agent_id: str
    state: str
    reason: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class AgentLoggedOut:
    at: float
    agent_id: str


@fast_init
@dataclass(frozen=True, slots=True)
class AgentLineChanged:
    """The agent's standing line (cti/agent_lines.py): dialling (Hotline is calling the
    agent's phone into its conference), up (callers join it at once), down (calls ring
    the phone through agent-connect)."""

    at: float
    agent_id: str
    state: str
    channel: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """After-call work finished; disposition and notes recorded on the interaction."""

    at: float
    call_id: str
    agent_id: str
    disposition: str = ""
    notes: str = ""


# ---------------------------------------------------------------- IVR and dialer


@fast_init
@dataclass(frozen=True, slots=True)
class IvrStepped:
    at: float
    call_id: str
    node: str
    result: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class DialerAttempted:
    at: float
    call_id: str
    campaign: str
    lead_id: str
    number: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class DialerResulted:
    """result: human | machine | busy | no_answer | congestion | failed; in preview
    mode also answered (the agent dialled and the contact picked up) | skipped."""

    at: float
    call_id: str
    campaign: str
    lead_id: str
    result: str


@fast_init
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
    | IvrStepped
    | DialerAttempted
    | DialerResulted
    | DialerDropped
)

EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        CallArrived,
        CallQueued,
        CallOffered,
        CallConnected,
        CallNotAnswered,
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
        IvrStepped,
        DialerAttempted,
        DialerResulted,
        DialerDropped,
    )
}


class UnknownEventKind(ValueError):
    pass


def kind_of(event: Event) -> str:
    return type(event).__name__


def to_record(event: Event) -> dict[str, Any]:
    """JSON-ready dict: {"kind": ..., fields...}. Mappings become plain dicts."""
    record: dict[str, Any] = {"kind": kind_of(event)}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        record[f.name] = dict(value) if isinstance(value, Mapping) else value
    return record


def from_record(record: Mapping[str, Any]) -> Event:
    kind = record.get("kind")
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        raise UnknownEventKind(f"unknown event kind {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in record.items() if k in names})


def call_id_of(event: Event) -> str:
    return getattr(event, "call_id", "")


def agent_id_of(event: Event) -> str:
    return getattr(event, "agent_id", "")


# ---------------------------------------------------------------- appended (routing)


@fast_init
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


EVENT_TYPES[CallRejected.__name__] = CallRejected
