"""Every bus channel and state map Hotline uses, with its typed message.

The bus (`store.bus`) moves JSON objects; this module is the one place that says what
each channel carries and turns it into a type, so a consumer dispatches on the
message's class (`isinstance` / `match`), never on a `"kind"` string.

Channels (pub/sub, fire-and-forget):

| topic            | name             | message               | from -> to                         |
|------------------|------------------|-----------------------|------------------------------------|
| `EVENTS`         | "events"         | a domain `Event`      | live loop, desktop -> hubs, loop   |
| `AGENT_COMMANDS` | "agent-commands" | `AgentCommandRequest` | web API -> live loop               |
| `AGENT_REPLIES`  | "agent-replies"  | `CommandReply`        | live loop -> web API               |
| `CONFIG_CHANGES` | "config-changes" | `ConfigChanged`       | admin -> live loop, web, wallboard |
| `TASK_CHANGES`   | "tasks"          | `TaskNote`            | task desks, leader -> leader, desks|
| `task_topic(id)` | "task.<id>"      | `TaskNote`            | desk, leader -> chat page, tab     |

State maps (the latest value per key, for a view that (re)connects):

| map              | name        | key         | value          | written by  |
|------------------|-------------|-------------|----------------|-------------|
| `AGENT_VIEWS`    | "agents"    | agent id    | `AgentView`    | live loop   |
| `CAMPAIGN_TILES` | "campaigns" | campaign id | `CampaignTile` | dialer      |

Publish with `await TOPIC.publish(bus, message)`; receive with
`async with subscribe(bus, TOPIC, ...) as inbox: async for message in inbox: ...`
(a malformed message is logged and skipped), or decode one raw message with
`TOPIC.decode(raw)` (raises `BadMessage`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar, cast, overload

import structlog

from events import Event, UnknownEventKind, from_record, to_record
from store.bus import Bus, Publish, SetState, Subscription

log = structlog.get_logger()

M = TypeVar("M")


class BadMessage(ValueError):
    """A message on `channel` that is not what the channel carries; `raw` is what came
    (e.g. to answer a malformed agent command with its `request_id`)."""

    def __init__(self, channel: str, reason: str, raw: Mapping[str, Any]) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason
        self.raw = raw


# ---------------------------------------------------------------- messages


def _text(raw: Mapping[str, Any], name: str, default: str = "") -> str:
    value = raw.get(name)
    return default if value is None else str(value)


@dataclass(frozen=True, slots=True)
class AgentCommandRequest:
    """A desktop's or supervisor's action for the live loop; the reply carries `request_id`.
    `target` is "agent:<id>", "queue:<name>" or "number:<digits>" for transfers."""

    agent_id: str
    action: str
    request_id: str = ""
    call_id: str = ""
    reason: str = ""
    target: str = ""
    disposition: str = ""
    notes: str = ""

    def to_wire(self) -> dict[str, Any]:
        """agent_id, action and request_id always; the other fields when set."""
        wire: dict[str, Any] = {"agent_id": self.agent_id, "action": self.action}
        for name in ("call_id", "reason", "target", "disposition", "notes"):
            value = getattr(self, name)
            if value:
                wire[name] = value
        wire["request_id"] = self.request_id
        return wire

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> AgentCommandRequest:
        values = {f.name: _text(raw, f.name) for f in dataclasses.fields(cls)}
        if not values["agent_id"] or not values["action"]:
            raise ValueError("agent command needs 'agent_id' and 'action'")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class CommandReply:
    """The live loop's answer to one `AgentCommandRequest`."""

    request_id: str
    ok: bool
    error: str = ""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"request_id": self.request_id, "ok": self.ok}
        if self.error:
            wire["error"] = self.error
        return wire

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> CommandReply:
        return cls(request_id=_text(raw, "request_id"), ok=bool(raw.get("ok")), error=_text(raw, "error"))


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    """An admin stored a new version of a settings `section` ("routing", "queues",
    "skills", "pause_codes", "dispositions"...) or changed the agent directory
    (section "users", with the `login` edited)."""

    section: str
    author: str = ""
    version: int | None = None
    login: str = ""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"section": self.section}
        if self.version is not None:
            wire["version"] = self.version
        if self.login:
            wire["login"] = self.login
        wire["author"] = self.author
        return wire

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> ConfigChanged:
        version = raw.get("version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise ValueError(f"version: must be an integer, not {version!r}")
        return cls(
            section=_text(raw, "section"), author=_text(raw, "author"), version=version, login=_text(raw, "login")
        )


@dataclass(frozen=True, slots=True)
class AgentView:
    """An agent's live state as desktops and wallboards show it (state map "agents").
    `call_id` is the call the agent is offered, talks on or wraps up; `wrap_up_until`
    (in wrap-up only) when the router ends that wrap-up; `line` (up / down) only when
    the agents' standing lines are managed."""

    state: str
    since: float
    reason: str = ""
    call_id: str = ""
    queue: str = ""
    line: str | None = None
    wrap_up_until: float | None = None

    def to_wire(self) -> dict[str, Any]:
        # built by hand, not dataclasses.asdict (a deep copy, per agent event in the live loop)
        wire: dict[str, Any] = {
            "state": self.state,
            "since": self.since,
            "reason": self.reason,
            "call_id": self.call_id,
            "queue": self.queue,
        }
        if self.line is not None:
            wire["line"] = self.line
        if self.wrap_up_until is not None:
            wire["wrap_up_until"] = self.wrap_up_until
        return wire

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> AgentView:
        line = raw.get("line")
        until = raw.get("wrap_up_until")
        return cls(
            state=_text(raw, "state"),
            since=float(raw.get("since") or 0.0),
            reason=_text(raw, "reason"),
            call_id=_text(raw, "call_id"),
            queue=_text(raw, "queue"),
            line=None if line is None else str(line),
            wrap_up_until=None if until is None else float(until),
        )


@dataclass(frozen=True, slots=True)
class CampaignTile:
    """An outbound campaign's wallboard tile (state map "campaigns")."""

    name: str = ""
    mode: str = ""
    decision: str = ""
    agents_ready: int = 0
    dialing: int = 0
    dial_level: float = 0.0
    dials: int = 0
    answered: int = 0
    connected: int = 0
    dropped: int = 0
    drop_rate: float = 0.0
    drop_window_h: float = 0.0
    drop_cap: float = 0.0
    leads_left: int = 0
    at: float = 0.0
    # calls not over (ringing, awaiting AMD or an agent, talking, a preview shown) and
    # the dialer's state (running | paused | stopped; "": an older writer's tile): a
    # campaign is deleted only once its dialer says stopped with nothing in progress
    in_flight: int = 0
    state: str = ""

    def to_wire(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> CampaignTile:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if raw.get(f.name) is None:
                continue
            value = raw[f.name]
            kind = {"str": str, "int": int, "float": float}[str(f.type)]
            if kind is not str and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"{f.name}: must be a number, not {value!r}")
            values[f.name] = kind(value)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TaskNote:
    """What happened to a task (issue 18), on its own topic `task_topic(task_id)` (the
    customer's chat page, the agent's tab) and on `TASK_CHANGES` (the leader's task
    loop, every desktop). `kind`: "opened", "offered" (to `agent_id`, to accept),
    "assigned" (taken by `agent_id`), "not_accepted" (the offer to `agent_id` ran out),
    "message", "typing", "transferred", "closed", "abandoned" or "position". `message`: the stored
    TaskMessage as a dict (kind "message"); `who`: who types (kind "typing");
    `position`/`wait_s`: the place in queue and estimated wait (kind "position")."""

    kind: str
    task_id: str
    agent_id: str = ""
    queue: str = ""
    channel: str = ""
    reason: str = ""
    who: str = ""
    position: int | None = None
    wait_s: float | None = None
    message: Mapping[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"kind": self.kind, "task_id": self.task_id}
        for name in ("agent_id", "queue", "channel", "reason", "who"):
            if getattr(self, name):
                wire[name] = getattr(self, name)
        for name in ("position", "wait_s", "message"):
            if getattr(self, name) is not None:
                wire[name] = getattr(self, name)
        return wire

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> TaskNote:
        if not _text(raw, "kind") or not _text(raw, "task_id"):
            raise ValueError("task note needs 'kind' and 'task_id'")
        position, wait_s, message = raw.get("position"), raw.get("wait_s"), raw.get("message")
        if message is not None and not isinstance(message, Mapping):
            raise ValueError("message: must be an object")
        return cls(
            kind=_text(raw, "kind"),
            task_id=_text(raw, "task_id"),
            agent_id=_text(raw, "agent_id"),
            queue=_text(raw, "queue"),
            channel=_text(raw, "channel"),
            reason=_text(raw, "reason"),
            who=_text(raw, "who"),
            position=None if position is None else int(position),
            wait_s=None if wait_s is None else float(wait_s),
            message=None if message is None else dict(message),
        )


BusMessage: TypeAlias = Event | AgentCommandRequest | CommandReply | ConfigChanged | TaskNote
"""What a channel can carry (each channel carries exactly one of these types)."""


# ---------------------------------------------------------------- topics


class Topic(Generic[M]):
    """A pub/sub channel and the type of its messages."""

    def __init__(
        self, name: str, encode: Callable[[M], dict[str, Any]], decode: Callable[[Mapping[str, Any]], M]
    ) -> None:
        self.name = name
        self._encode = encode
        self._decode = decode

    def __repr__(self) -> str:
        return f"Topic({self.name!r})"

    def encode(self, message: M) -> dict[str, Any]:
        return self._encode(message)

    def decode(self, raw: Mapping[str, Any]) -> M:
        """The typed message; BadMessage when `raw` is not one."""
        try:
            return self._decode(raw)
        except (UnknownEventKind, TypeError, ValueError, KeyError, AttributeError) as exc:
            raise BadMessage(self.name, str(exc), raw) from None

    async def publish(self, bus: Bus, message: M) -> None:
        await bus.publish(self.name, self.encode(message))

    def write(self, message: M) -> Publish:
        """The publish, for `Bus.write_many`, with its JSON text (which the live loop
        also logs: an event is encoded once)."""
        wire = self.encode(message)
        return Publish(self.name, wire, json.dumps(wire), message)


class StateMap(Generic[M]):
    """A named map on the bus holding the latest message per key."""

    def __init__(
        self, name: str, encode: Callable[[M], dict[str, Any]], decode: Callable[[Mapping[str, Any]], M]
    ) -> None:
        self.name = name
        self._encode = encode
        self._decode = decode

    def __repr__(self) -> str:
        return f"StateMap({self.name!r})"

    def encode(self, value: M) -> dict[str, Any]:
        return self._encode(value)

    def decode(self, raw: Mapping[str, Any]) -> M:
        try:
            return self._decode(raw)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise BadMessage(self.name, str(exc), raw) from None

    async def set(self, bus: Bus, key: str, value: M) -> None:
        await bus.set_state(self.name, key, self.encode(value))

    def write(self, key: str, value: M) -> SetState:
        """The write, for `Bus.write_many`."""
        return SetState(self.name, key, self.encode(value))

    async def delete(self, bus: Bus, key: str) -> None:
        await bus.delete_state(self.name, key)

    async def get(self, bus: Bus, key: str) -> M | None:
        """The value under `key`; None when there is none or it is malformed (logged)."""
        raw = await bus.get_state_key(self.name, key)
        return None if raw is None else self._decoded(key, raw)

    async def get_all(self, bus: Bus) -> dict[str, M]:
        """Every readable value, by key (a malformed one is logged and left out)."""
        values: dict[str, M] = {}
        for key, raw in (await bus.get_state(self.name)).items():
            value = self._decoded(key, raw)
            if value is not None:
                values[key] = value
        return values

    def _decoded(self, key: str, raw: Mapping[str, Any]) -> M | None:
        try:
            return self.decode(raw)
        except BadMessage as exc:
            log.warning("bus_state_malformed", name=self.name, key=key, error=exc.reason)
            return None


EVENTS: Topic[Event] = Topic("events", to_record, from_record)
AGENT_COMMANDS: Topic[AgentCommandRequest] = Topic(
    "agent-commands", AgentCommandRequest.to_wire, AgentCommandRequest.from_wire
)
AGENT_REPLIES: Topic[CommandReply] = Topic("agent-replies", CommandReply.to_wire, CommandReply.from_wire)
CONFIG_CHANGES: Topic[ConfigChanged] = Topic("config-changes", ConfigChanged.to_wire, ConfigChanged.from_wire)
TASK_CHANGES: Topic[TaskNote] = Topic("tasks", TaskNote.to_wire, TaskNote.from_wire)


def task_topic(task_id: str) -> Topic[TaskNote]:
    """The topic of one task: "task.<task_id>" (its chat page and desktop tab listen)."""
    return Topic(f"task.{task_id}", TaskNote.to_wire, TaskNote.from_wire)


AGENT_VIEWS: StateMap[AgentView] = StateMap("agents", AgentView.to_wire, AgentView.from_wire)
CAMPAIGN_TILES: StateMap[CampaignTile] = StateMap("campaigns", CampaignTile.to_wire, CampaignTile.from_wire)

TOPICS: tuple[Topic[Any], ...] = (EVENTS, AGENT_COMMANDS, AGENT_REPLIES, CONFIG_CHANGES, TASK_CHANGES)
STATE_MAPS: tuple[StateMap[Any], ...] = (AGENT_VIEWS, CAMPAIGN_TILES)


# ---------------------------------------------------------------- receiving


class Inbox(Generic[M]):
    """Typed messages from a bus subscription to some topics (`M`: their type)."""

    def __init__(self, sub: Subscription, topics: Mapping[str, Topic[Any]]) -> None:
        self._sub = sub
        self._topics = dict(topics)
        self.malformed = 0

    async def get(self) -> M:
        """The next well-formed message; a malformed one is logged, counted and skipped."""
        while True:
            delivery = await self._sub.next_delivery()
            topic = self._topics.get(delivery.channel)
            if topic is None:  # not one of ours (a shared Redis): ignore it
                continue
            if delivery.typed is not None:  # this process's own, as published (Topic.write)
                return cast(M, delivery.typed)
            channel, raw = delivery.message()
            try:
                return cast(M, topic.decode(raw))
            except BadMessage as exc:
                self.malformed += 1
                log.warning("bus_message_malformed", channel=channel, error=exc.reason)

    @property
    def gaps(self) -> int:
        """How many times messages may have been lost (`Subscription.gaps`)."""
        return self._sub.gaps

    def __aiter__(self) -> AsyncIterator[M]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[M]:
        while True:
            yield await self.get()


@overload
def subscribe(bus: Bus, topic: Topic[M], /) -> AbstractAsyncContextManager[Inbox[M]]: ...
@overload
def subscribe(bus: Bus, /, *topics: Topic[Any]) -> AbstractAsyncContextManager[Inbox[BusMessage]]: ...
def subscribe(bus: Bus, /, *topics: Topic[Any]) -> AbstractAsyncContextManager[Inbox[Any]]:
    """Subscribe to `topics`; the inbox yields their messages, typed, in order (with
    one topic, of that topic's type; with several, a `BusMessage` to dispatch on)."""
    if not topics:
        raise ValueError("subscribe: name at least one topic")
    return _subscribe(bus, topics)


@asynccontextmanager
async def _subscribe(bus: Bus, topics: tuple[Topic[Any], ...]) -> AsyncIterator[Inbox[Any]]:
    async with bus.subscribe(*(t.name for t in topics)) as sub:
        yield Inbox(sub, {t.name: t for t in topics})


__all__ = [
    "AGENT_COMMANDS",
    "AGENT_REPLIES",
    "AGENT_VIEWS",
    "CAMPAIGN_TILES",
    "CONFIG_CHANGES",
    "EVENTS",
    "STATE_MAPS",
    "TASK_CHANGES",
    "TOPICS",
    "AgentCommandRequest",
    "AgentView",
    "BadMessage",
    "BusMessage",
    "CampaignTile",
    "CommandReply",
    "ConfigChanged",
    "Inbox",
    "StateMap",
    "TaskNote",
    "Topic",
    "subscribe",
    "task_topic",
]
