"""A task is one contact waiting for, or being handled by, an agent: a call, a chat, an
e-mail or a web call-back request. One model for every channel so one router, one
desktop and one report treat them alike; the channel says how it is delivered.

Pure: no I/O. `Task` and `TaskMessage` are what the store keeps (a row each).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Channel = Literal["voice", "chat", "email", "callback"]
TaskState = Literal["waiting", "offered", "assigned", "closed", "abandoned"]
Direction = Literal["in", "out", "note"]

CHANNELS: tuple[str, ...] = get_args(Channel)
TASK_STATES: tuple[str, ...] = get_args(TaskState)
DIRECTIONS: tuple[str, ...] = get_args(Direction)
OPEN_STATES: tuple[str, ...] = ("waiting", "offered", "assigned")
ENDED_STATES: tuple[str, ...] = ("closed", "abandoned")


@dataclass(frozen=True, slots=True)
class Task:
    """One contact to route. `state`: waiting (in queue) -> offered (reserved for
    `agent_id`, on their desktop, until they accept or the channel's accept time,
    `rona.accept_s`, runs out: then waiting again, `offered_at` kept) -> assigned (the
    agent took it; at once when the channel has no accept time) -> closed; or
    abandoned (the customer left before an agent took it). `agent_id` is the agent it
    is offered to or assigned to (None while waiting). `target_agent`: a transfer to a
    named agent (only that agent is offered it). `skills`/`priority` are the router's
    inputs as for a call; `due_at`: when it should be answered by (e-mail: hours).
    `disposition`/`notes`: the agent's wrap-up; `outcome`: why it ended (who closed it,
    or the abandon reason). `missed_by`: the agent who let its last offer (`offered_at`)
    run out ("" once it is offered again). Times are seconds since the epoch."""

    task_id: str
    channel: Channel
    queue: str
    customer_id: str | None = None
    subject: str = ""
    attrs: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    due_at: float | None = None
    state: TaskState = "waiting"
    agent_id: str | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    target_agent: str | None = None
    offered_at: float | None = None
    assigned_at: float | None = None
    first_response_at: float | None = None
    closed_at: float | None = None
    disposition: str = ""
    notes: str = ""
    outcome: str = ""
    updated_at: float = 0.0
    missed_by: str = ""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True)
class TaskMessage:
    """One message of a task's transcript: `direction` "in" (from the customer), "out"
    (to the customer, delivered by the channel) or "note" (internal). `seq` counts from
    1 per task, in the order they were stored. `html`: the original HTML of an e-mail
    (shown sanitised, never as is). `meta`: channel data (e-mail headers, attachments)."""

    message_id: str
    task_id: str
    seq: int
    direction: Direction
    author: str
    text: str
    html: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """Where a task stands, for the customer's side: its state, the agent (once offered
    or assigned), its place among the waiting tasks of its queue (1 = next; None when
    not waiting) and the estimated seconds until an agent takes it (None: unknown)."""

    task_id: str
    state: TaskState
    agent_id: str | None = None
    position: int | None = None
    wait_s: float | None = None


def line_order(task: Task) -> tuple[int, float, float, str]:
    """A waiting task's place in its queue's line, as the router orders it: higher
    priority first, then the earliest due (an e-mail's due time; a task without one
    stands in line from when it was opened), then the oldest."""
    return (-task.priority, task.due_at if task.due_at is not None else task.created_at, task.created_at, task.task_id)


def check_channel(value: str) -> Channel:
    """`value` as a Channel; ValueError naming the allowed ones."""
    if value not in CHANNELS:
        raise ValueError(f"channel: must be one of {', '.join(CHANNELS)}, not {value!r}")
    return value  # type: ignore[return-value]


def check_direction(value: str) -> Direction:
    if value not in DIRECTIONS:
        raise ValueError(f"direction: must be one of {', '.join(DIRECTIONS)}, not {value!r}")
    return value  # type: ignore[return-value]


__all__ = [
    "CHANNELS",
    "DIRECTIONS",
    "ENDED_STATES",
    "OPEN_STATES",
    "TASK_STATES",
    "Channel",
    "Direction",
    "Task",
    "TaskMessage",
    "TaskState",
    "TaskStatus",
    "check_channel",
    "check_direction",
    "line_order",
]
