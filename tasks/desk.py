"""The task desk: how the web side of any server process opens, answers and ends tasks.

One `TaskDesk` per server process (leader or not). Every call writes the store first
(a row is the promise), then tells the others on the bus:

- `TASK_CHANGES` ("tasks"): a `TaskNote` per change, for the leader's task loop
  (cti/live_tasks.py, which routes the open tasks and recovers them from the store at
  start, so a note lost on the bus only delays a task until its next scan) and for the
  agent desktops (which keep the notes of their agent's tasks);
- `task_topic(task_id)` ("task.<task_id>"): the same notes for one task, for the
  customer's side (the chat widget hears the agent's messages and typing here).

Notes' kinds: "opened", "assigned" (agent_id: an agent took it), "message" (message:
the stored TaskMessage, see `message_wire`), "typing" (who), "transferred" (queue /
agent_id: where it goes), "closed", "abandoned" (reason), "position" (position, wait_s).

Outbound messages (direction "out", written on the agent's desktop) are delivered by
the channel: chat hears them on the task's topic; a channel that must deliver them
itself registers `on_outbound(channel, handler)`: the handler is awaited, after the
message row is stored and before `add_message` returns, with the task and the stored
message (its `message_id` is the idempotency key of the delivery: a handler that keeps
its own outbox row per message id sends each exactly once). A handler that raises
makes `add_message` raise (the agent sees the failure); the message row stays, and the
channel finds such undelivered messages with `TaskRows.task_messages`.

States: the leader's task loop offers a waiting task to an agent: "offered" when the
channel has an accept time (routing rules `rona.accept_s`; the agent's `accept` makes
it "assigned", else the leader puts it back to "waiting" for the next agent when the
time runs out), straight to "assigned" otherwise (the agent's desktop opens it in a
tab); `transfer` puts it back to "waiting"; `close` and `abandon` end it. In the web application the process's desk is
`request.app[tasks.web.TASK_DESK]`.

Errors: `ValueError` for bad input (the message names the field), `store.port.NotFound`
for an unknown task, `TaskEnded` for a change to a task that is closed or abandoned.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import structlog

from store.bus import Bus
from store.port import TaskRows
from store.topics import TASK_CHANGES, TaskNote, task_topic
from tasks.model import (
    OPEN_STATES,
    Channel,
    Task,
    TaskMessage,
    TaskStatus,
    check_channel,
    check_direction,
    line_order,
)

log = structlog.get_logger()

OutboundHandler = Callable[[Task, TaskMessage], Awaitable[None]]
MAX_TEXT = 20_000  # characters of one message's text
ESTIMATE_WINDOW_S = 3600.0  # recent tasks whose wait makes the estimate


class TaskEnded(ValueError):
    """The task is closed or abandoned: it can no longer change."""


class NotOffered(ValueError):
    """An accept of a task that is not offered to that agent (any more)."""


def message_wire(message: TaskMessage) -> dict[str, Any]:
    """A stored message as JSON (bus notes, the API): every field of TaskMessage."""
    return {f.name: getattr(message, f.name) for f in dataclasses.fields(message)} | {"meta": dict(message.meta)}


def task_wire(task: Task) -> dict[str, Any]:
    """A task as JSON (the API, the desktop)."""
    wire = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)}
    wire["attrs"] = dict(task.attrs)
    wire["skills"] = dict(task.skills)
    return wire


def _text_field(name: str, value: object, *, required: bool = False, limit: int = 200) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name}: must be text")
    if required and not value.strip():
        raise ValueError(f"{name}: must not be empty")
    if len(value) > limit:
        raise ValueError(f"{name}: at most {limit} characters")
    return value


class TaskDesk:
    """Open, answer, transfer and end tasks; `clock()` gives seconds since the epoch."""

    def __init__(self, store: TaskRows, bus: Bus, clock: Callable[[], float]) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._outbound: dict[str, OutboundHandler] = {}

    def on_outbound(self, channel: Channel, handler: OutboundHandler) -> None:
        """Deliver this channel's outbound messages with `handler` (one per channel)."""
        self._outbound[check_channel(channel)] = handler

    async def open(
        self,
        *,
        channel: Channel,
        queue: str,
        customer_id: str | None = None,
        subject: str = "",
        attrs: Mapping[str, str] | None = None,
        due_s: float | None = None,
        task_id: str | None = None,
        skills: Mapping[str, int] | None = None,
        priority: int = 0,
    ) -> Task:
        """Store a new waiting task (idempotent on `task_id`: the stored one is returned
        as it stands), then wake the leader, whose router offers it."""
        now = self._clock()
        check_channel(channel)
        _text_field("queue", queue, required=True)
        _text_field("subject", subject, limit=1000)
        if due_s is not None and not due_s > 0:
            raise ValueError("due_s: must be > 0")
        for name, level in (skills or {}).items():
            if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 10:
                raise ValueError(f"skills.{name}: must be an integer 0-10")
        task = Task(
            task_id=task_id or uuid.uuid4().hex,
            channel=channel,
            queue=queue,
            customer_id=customer_id or None,
            subject=subject,
            attrs={str(k): str(v) for k, v in (attrs or {}).items()},
            created_at=now,
            due_at=None if due_s is None else now + due_s,
            skills=dict(skills or {}),
            priority=int(priority),
            updated_at=now,
        )
        stored = await self._store.add_task(task)
        if stored.created_at == task.created_at:  # new, not a repeat
            log.info("task_opened", task_id=task.task_id, channel=channel, queue=queue)
            await self._tell(TaskNote("opened", stored.task_id, queue=queue, channel=channel))
        return stored

    async def get(self, task_id: str) -> Task:
        return await self._store.get_task(task_id)

    async def abandon(self, task_id: str, reason: str) -> None:
        """The customer left before an agent took it (waiting or offered). A task an
        agent took stays with the agent (their transcript, their close); an ended one
        is left as it is."""
        task = await self._store.get_task(task_id)
        if task.state not in ("waiting", "offered"):
            return
        now = self._clock()
        ended = replace(task, state="abandoned", closed_at=now, outcome=reason, updated_at=now)
        if await self._store.update_task(ended, from_states=("waiting", "offered")):
            log.info("task_abandoned", task_id=task_id, reason=reason)
            await self._tell(TaskNote("abandoned", task_id, agent_id=task.agent_id or "", reason=reason))

    async def add_message(
        self,
        task_id: str,
        *,
        direction: str,
        author: str,
        text: str,
        html: str | None = None,
        meta: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> TaskMessage:
        """Store a message (idempotent on `message_id`), publish it, and deliver an
        outbound one through its channel's handler (see the module's docstring)."""
        check_direction(direction)
        _text_field("text", text, required=html is None, limit=MAX_TEXT)
        task = await self._store.get_task(task_id)
        if direction == "out" and not task.is_open:
            raise TaskEnded(f"task {task_id!r} is {task.state}")
        draft = TaskMessage(
            message_id=message_id or uuid.uuid4().hex,
            task_id=task_id,
            seq=0,
            direction=direction,  # type: ignore[arg-type]  # checked above
            author=author,
            text=text,
            html=html,
            meta=dict(meta or {}),
            at=self._clock(),
        )
        stored = await self._store.add_task_message(draft)
        if stored.message_id == draft.message_id and stored.at == draft.at:  # new, not a repeat
            await self._tell(TaskNote("message", task_id, agent_id=task.agent_id or "", message=message_wire(stored)))
        handler = self._outbound.get(task.channel)
        if direction == "out" and handler is not None:
            await handler(task, stored)
        return stored

    async def typing(self, task_id: str, who: str) -> None:
        """Someone types (not stored: a hint for the other side)."""
        await self._tell(TaskNote("typing", task_id, who=who))

    async def messages(self, task_id: str, after_seq: int = 0) -> list[TaskMessage]:
        await self._store.get_task(task_id)  # NotFound for an unknown task
        return await self._store.task_messages(task_id, after_seq)

    async def status(self, task_id: str) -> TaskStatus:
        """Its state and agent; while waiting, its place among its queue's waiting tasks
        (`tasks.model.line_order`: higher priority, then the earliest due) and an estimate: that place times the
        mean wait of the queue's tasks taken in the last hour (None without any)."""
        task = await self._store.get_task(task_id)
        if task.state != "waiting":
            return TaskStatus(task_id, task.state, agent_id=task.agent_id)
        waiting = [t for t in await self._store.open_tasks() if t.state == "waiting" and t.queue == task.queue]
        mine = line_order(task)
        position = 1 + sum(1 for t in waiting if line_order(t) < mine)
        now = self._clock()
        recent = await self._store.tasks_between(now - ESTIMATE_WINDOW_S, now + 1)
        waits = [t.assigned_at - t.created_at for t in recent if t.queue == task.queue and t.assigned_at is not None]
        wait_s = None if not waits else round(position * sum(waits) / len(waits), 1)
        return TaskStatus(task_id, "waiting", position=position, wait_s=wait_s)

    async def transfer(self, task_id: str, *, queue: str | None = None, agent_id: str | None = None) -> None:
        """Send it back to be routed: to `queue` (its own when None), and only to agent
        `agent_id` when given. The agent it leaves is freed."""
        if queue is None and agent_id is None:
            raise ValueError("transfer: name a queue or an agent")
        if queue is not None:
            _text_field("queue", queue, required=True)
        if agent_id is not None:
            _text_field("agent_id", agent_id, required=True)
        task = await self._store.get_task(task_id)
        if not task.is_open:
            raise TaskEnded(f"task {task_id!r} is {task.state}")
        now = self._clock()
        moved = replace(
            task,
            state="waiting",
            queue=queue or task.queue,
            agent_id=None,
            target_agent=agent_id,
            offered_at=None,
            updated_at=now,
        )
        if not await self._store.update_task(moved, from_states=(task.state,)):
            raise TaskEnded(f"task {task_id!r} changed meanwhile: try again")
        log.info("task_transferred", task_id=task_id, queue=moved.queue, agent_id=agent_id, left=task.agent_id)
        await self._tell(
            TaskNote("transferred", task_id, agent_id=agent_id or "", queue=moved.queue, reason=task.agent_id or "")
        )

    async def accept(self, task_id: str, agent_id: str) -> Task:
        """The agent takes the task offered to them (offered -> assigned), then the
        leader hears it and the desktops too. An offer that is not (or no longer) theirs:
        `TaskEnded` for an ended task, `NotOffered` otherwise (it ran out, or went to
        another agent). Accepting a task already theirs is harmless (returned as is)."""
        task = await self._store.get_task(task_id)
        if task.state == "assigned" and task.agent_id == agent_id:
            return task
        if not task.is_open:
            raise TaskEnded(f"task {task_id!r} is {task.state}")
        if task.state != "offered" or task.agent_id != agent_id:
            raise NotOffered(f"task {task_id!r} is not offered to {agent_id!r}")
        now = self._clock()
        taken = replace(task, state="assigned", assigned_at=now, updated_at=now)
        if not await self._store.update_task(taken, from_states=("offered",)):
            raise NotOffered(f"task {task_id!r} changed meanwhile: not offered to {agent_id!r} any more")
        log.info("task_accepted", task_id=task_id, agent_id=agent_id, wait_s=round(now - task.created_at, 3))
        await self._tell(TaskNote("assigned", task_id, agent_id=agent_id, queue=task.queue, channel=task.channel))
        return taken

    async def close(self, task_id: str, *, by: str, disposition: str = "", notes: str = "") -> None:
        """End it (the agent's wrap-up: disposition and notes, kept on the row). Closing
        an ended task only updates a given wrap-up."""
        _text_field("disposition", disposition)
        _text_field("notes", notes, limit=MAX_TEXT)
        task = await self._store.get_task(task_id)
        now = self._clock()
        if not task.is_open:
            if disposition or notes:
                wrapped = replace(task, disposition=disposition or task.disposition, notes=notes or task.notes)
                await self._store.update_task(wrapped, from_states=(task.state,))
            return
        ended = replace(
            task,
            state="closed",
            closed_at=now,
            outcome=f"closed by {by}",
            disposition=disposition,
            notes=notes,
            updated_at=now,
        )
        if not await self._store.update_task(ended, from_states=OPEN_STATES):
            return
        log.info("task_closed", task_id=task_id, by=by)
        await self._tell(TaskNote("closed", task_id, agent_id=task.agent_id or "", reason=by))

    async def _tell(self, note: TaskNote) -> None:
        await task_topic(note.task_id).publish(self._bus, note)
        await TASK_CHANGES.publish(self._bus, note)


__all__ = ["MAX_TEXT", "NotOffered", "OutboundHandler", "TaskDesk", "TaskEnded", "message_wire", "task_wire"]
