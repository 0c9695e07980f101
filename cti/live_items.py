"""What the live loop's one inbox carries, and the inbox itself.

Every producer (the AMI client, the IVR, the bus inputs, the dialers, the center's own
collaborators) puts one of these items; the center's consumer takes them in order and
hands each to the handler registered for its type (cti/live.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.ami_codec import Message
from cti.call_control import AgentRequest
from events import CallArrived, CallQueued, Event
from store.models import User


@dataclass(frozen=True, slots=True)
class IvrHandOff:
    """The IVR finished and queued the call (with its richer routing attributes)."""

    event: CallQueued


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """Virtual hold: the caller left a number in the IVR; their place in the queue is
    kept and they are called back when an agent is free."""

    call_id: str
    number: str
    queue: str
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    customer_id: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "virtual_hold"  # or "final_step": the queue gave up and promised a call-back


@dataclass(frozen=True, slots=True)
class PreviewDial:
    """A previewed outbound contact (`LiveCenter.queue_preview`): the agent it is
    offered to sees the record first, then dials it (`preview_dial`) or passes
    (`preview_skip`). The owner learns of each through its callbacks, run inside the
    consumer before the PBX is asked anything; the originate's result reaches the
    center's listeners as an `OriginateResulted` with `originate_id`."""

    endpoint: str  # how to reach the contact, e.g. Local/<number>@customers
    originate_id: str
    timeout_s: float
    caller_id: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    on_dial: Callable[[float], Awaitable[None]] | None = None
    on_skip: Callable[[float], Awaitable[None]] | None = None


class DialVetoed(Exception):
    """A preview's owner refuses the dial the agent asked for (the number went on a
    do-not-call list since it was shown): the preview ends, the agent is told why."""


@dataclass(frozen=True, slots=True)
class LoggedElsewhere:
    """An event another process already logged and published (e.g. the web's
    WrapUpEnded): the router needs it, the log must not get it twice."""

    event: Event


@dataclass(frozen=True, slots=True)
class InLoop:
    """A coroutine function run inside the consumer, in order with everything else
    (the outbound dialer's ticks, AMD verdicts and connect deadlines)."""

    fn: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RulesChanged:
    """An admin applied a new routing rules version (already validated)."""

    rules: Any


@dataclass(frozen=True, slots=True)
class DirectoryChanged:
    """The agents as now stored (users with the agent role): skills, languages, team,
    phone. An admin added or edited one; the live loop follows without a restart."""

    users: tuple[User, ...]


InboxItem = (
    Event
    | Message
    | AgentRequest
    | IvrHandOff
    | CallbackRequested
    | LoggedElsewhere
    | RulesChanged
    | DirectoryChanged
    | InLoop
)
"""What the live loop's inbox carries: domain events (the call model), raw AMI events
(`RAW_EVENTS`), agent commands, the IVR's hand-offs and call-back requests, events
logged elsewhere, admin changes, and work the dialers run in order with the rest."""


class LiveInbox:
    """The live loop's one ordered inbox. Producers put (no await, from any callback of
    the event loop); the center's consumer takes. Built before the center, so the AMI
    client can be given `put_events` and `put` as its callbacks."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[InboxItem] = asyncio.Queue()
        # told of each arrival as it is put, before the consumer reaches it (the center
        # starts the caller's customer lookup then: see InteractionLog.look_ahead)
        self.on_arrival: Callable[[CallArrived], None] | None = None

    def put(self, item: InboxItem) -> None:
        self._queue.put_nowait(item)

    def put_events(self, events: list[Event]) -> None:
        """The AMI client's `on_events`: the call model's domain events, in stream order."""
        arrival = self.on_arrival
        for event in events:
            if arrival is not None and type(event) is CallArrived:
                arrival(event)
            self._queue.put_nowait(event)

    async def get(self) -> InboxItem:
        return await self._queue.get()

    def get_nowait(self) -> InboxItem | None:
        """The next item if one is queued, else None (items are never None)."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def task_done(self) -> None:
        self._queue.task_done()

    async def join(self) -> None:
        """Until every item put has been processed."""
        await self._queue.join()
