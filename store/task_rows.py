"""The tasks' rows (issue 18): the halves of the store adapters that keep them.

`store.port.TaskRows` is what tasks/desk.py and the leader's task loop ask of the store: a row per
task (tasks.model.Task) and per message (tasks.model.TaskMessage). `SqlTaskRows` is
mixed into store.sql.SqlStore (PostgreSQL and SQLite), `MemoryTaskRows` into
store.memory.MemoryStore; tests/contract/test_contract_tasks.py holds all three to one
suite. Every change of a task's state is a compare-and-set (`update_task` with the
states it may come from), so two processes (a desk closing, the leader offering) never
both win.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from store.drivers import Executor, UniqueViolation
from store.port import NotFound
from tasks.model import OPEN_STATES, Task, TaskMessage, check_channel, check_direction

_TASK_COLS = (
    "task_id, channel, queue, customer_id, subject, attrs, created_at, due_at, state, agent_id, skills, priority,"
    " target_agent, offered_at, assigned_at, first_response_at, closed_at, disposition, notes, outcome, updated_at,"
    " missed_by"
)
_N_TASK_COLS = len(_TASK_COLS.split(","))
_MESSAGE_COLS = "message_id, task_id, seq, direction, author, text, html, meta, at"


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _task_params(t: Task) -> tuple[Any, ...]:
    return (
        t.task_id,
        t.channel,
        t.queue,
        t.customer_id,
        t.subject,
        json.dumps({str(k): str(v) for k, v in t.attrs.items()}),
        float(t.created_at),
        _opt_float(t.due_at),
        t.state,
        t.agent_id,
        json.dumps({str(k): int(v) for k, v in t.skills.items()}),
        int(t.priority),
        t.target_agent,
        _opt_float(t.offered_at),
        _opt_float(t.assigned_at),
        _opt_float(t.first_response_at),
        _opt_float(t.closed_at),
        t.disposition,
        t.notes,
        t.outcome,
        float(t.updated_at),
        t.missed_by,
    )


def task_from_row(row: Mapping[str, Any]) -> Task:
    return Task(
        task_id=str(row["task_id"]),
        channel=check_channel(str(row["channel"])),
        queue=str(row["queue"]),
        customer_id=row["customer_id"],
        subject=str(row["subject"]),
        attrs={str(k): str(v) for k, v in _json(row["attrs"]).items()},
        created_at=float(row["created_at"]),
        due_at=_opt_float(row["due_at"]),
        state=row["state"],
        agent_id=row["agent_id"],
        skills={str(k): int(v) for k, v in _json(row["skills"]).items()},
        priority=int(row["priority"]),
        target_agent=row["target_agent"],
        offered_at=_opt_float(row["offered_at"]),
        assigned_at=_opt_float(row["assigned_at"]),
        first_response_at=_opt_float(row["first_response_at"]),
        closed_at=_opt_float(row["closed_at"]),
        disposition=str(row["disposition"]),
        notes=str(row["notes"]),
        outcome=str(row["outcome"]),
        updated_at=float(row["updated_at"]),
        missed_by=str(row["missed_by"]),
    )


def message_from_row(row: Mapping[str, Any]) -> TaskMessage:
    return TaskMessage(
        message_id=str(row["message_id"]),
        task_id=str(row["task_id"]),
        seq=int(row["seq"]),
        direction=check_direction(str(row["direction"])),
        author=str(row["author"]),
        text=str(row["text"]),
        html=row["html"],
        meta=_json(row["meta"]),
        at=float(row["at"]),
    )


def _placeholders(count: int, first: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(first, first + count))


class SqlTaskRows:
    """`TaskRows` on the SQL store (mixed into store.sql.SqlStore, which sets `_db`)."""

    _db: Any  # store.drivers.Driver

    async def add_task(self, task: Task) -> Task:
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO tasks ({_TASK_COLS}) VALUES ({_placeholders(_N_TASK_COLS)})"
                " ON CONFLICT (task_id) DO NOTHING",
                *_task_params(task),
            )
            return await _get_task(tx, task.task_id)

    async def get_task(self, task_id: str) -> Task:
        return await _get_task(self._db, task_id)

    async def update_task(self, task: Task, *, from_states: Collection[str]) -> bool:
        states = sorted(set(from_states))
        if not states:
            return False
        sets = ", ".join(f"{c.strip()} = ${i}" for i, c in enumerate(_TASK_COLS.split(","), start=1) if i > 1)
        async with self._db.transaction() as tx:
            written = await tx.fetch(
                f"UPDATE tasks SET {sets} WHERE task_id = $1"
                f" AND state IN ({_placeholders(len(states), _N_TASK_COLS + 1)}) RETURNING task_id",
                *_task_params(task),
                *states,
            )
            if not written:
                await _get_task(tx, task.task_id)  # NotFound for an unknown id
        return bool(written)

    async def open_tasks(self, agent_id: str | None = None) -> list[Task]:
        sql = f"SELECT {_TASK_COLS} FROM tasks WHERE state IN ($1, $2, $3)"
        args: list[Any] = list(OPEN_STATES)
        if agent_id is not None:
            sql += " AND agent_id = $4"
            args.append(agent_id)
        rows = await self._db.fetch(sql + " ORDER BY created_at, task_id", *args)
        return [task_from_row(r) for r in rows]

    async def tasks_for_customer(self, customer_id: str, limit: int = 20) -> list[Task]:
        rows = await self._db.fetch(
            f"SELECT {_TASK_COLS} FROM tasks WHERE customer_id = $1 ORDER BY created_at DESC, task_id LIMIT $2",
            customer_id,
            int(limit),
        )
        return [task_from_row(r) for r in rows]

    async def tasks_between(self, start: float, end: float) -> list[Task]:
        rows = await self._db.fetch(
            f"SELECT {_TASK_COLS} FROM tasks WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, task_id",
            float(start),
            float(end),
        )
        return [task_from_row(r) for r in rows]

    async def tasks_ended_since(self, since: float) -> list[Task]:
        rows = await self._db.fetch(
            f"SELECT {_TASK_COLS} FROM tasks WHERE closed_at IS NOT NULL AND closed_at >= $1"
            " ORDER BY closed_at, task_id",
            float(since),
        )
        return [task_from_row(r) for r in rows]

    async def add_task_message(self, message: TaskMessage) -> TaskMessage:
        m = message
        check_direction(m.direction)
        try:
            async with self._db.transaction() as tx:
                stored = await _get_message(tx, m.message_id)
                if stored is not None:
                    return stored
                count = await tx.fetchval(
                    "UPDATE tasks SET message_count = message_count + 1, first_response_at = CASE"
                    " WHEN first_response_at IS NULL AND $2 = 'out' THEN $3 ELSE first_response_at END"
                    " WHERE task_id = $1 RETURNING message_count",
                    m.task_id,
                    m.direction,
                    float(m.at),
                )
                if count is None:
                    raise NotFound(f"task {m.task_id!r}")
                await tx.execute(
                    f"INSERT INTO task_messages ({_MESSAGE_COLS}) VALUES ({_placeholders(9)})",
                    m.message_id,
                    m.task_id,
                    int(count),
                    m.direction,
                    m.author,
                    m.text,
                    m.html,
                    json.dumps(dict(m.meta)),
                    float(m.at),
                )
                return replace(m, seq=int(count), meta=json.loads(json.dumps(dict(m.meta))))
        except UniqueViolation:  # the same message id stored concurrently: that one stands
            stored = await _get_message(self._db, m.message_id)
            if stored is None:
                raise
            return stored

    async def task_messages(self, task_id: str, after_seq: int = 0) -> list[TaskMessage]:
        rows = await self._db.fetch(
            f"SELECT {_MESSAGE_COLS} FROM task_messages WHERE task_id = $1 AND seq > $2 ORDER BY seq",
            task_id,
            int(after_seq),
        )
        return [message_from_row(r) for r in rows]


async def _get_task(db: Executor, task_id: str) -> Task:
    rows = await db.fetch(f"SELECT {_TASK_COLS} FROM tasks WHERE task_id = $1", task_id)
    if not rows:
        raise NotFound(f"task {task_id!r}")
    return task_from_row(rows[0])


async def _get_message(db: Executor, message_id: str) -> TaskMessage | None:
    rows = await db.fetch(f"SELECT {_MESSAGE_COLS} FROM task_messages WHERE message_id = $1", message_id)
    return message_from_row(rows[0]) if rows else None


def _plain_task(task: Task) -> Task:
    """What a row gives back: fresh maps of strings/ints, as the SQL adapter returns."""
    return replace(
        task,
        attrs={str(k): str(v) for k, v in task.attrs.items()},
        skills={str(k): int(v) for k, v in task.skills.items()},
    )


class MemoryTaskRows:
    """`TaskRows` in one process's memory (mixed into store.memory.MemoryStore). Each
    method runs without an await between its reads and writes: atomic on the loop."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._messages: dict[str, list[TaskMessage]] = {}
        self._message_ids: dict[str, TaskMessage] = {}

    async def add_task(self, task: Task) -> Task:
        check_channel(task.channel)
        return self._tasks.setdefault(task.task_id, _plain_task(task))

    async def get_task(self, task_id: str) -> Task:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise NotFound(f"task {task_id!r}") from None

    async def update_task(self, task: Task, *, from_states: Collection[str]) -> bool:
        stored = await self.get_task(task.task_id)
        if stored.state not in from_states:
            return False
        self._tasks[task.task_id] = _plain_task(task)
        return True

    async def open_tasks(self, agent_id: str | None = None) -> list[Task]:
        rows = [
            t for t in self._tasks.values() if t.state in OPEN_STATES and (agent_id is None or t.agent_id == agent_id)
        ]
        return sorted(rows, key=lambda t: (t.created_at, t.task_id))

    async def tasks_for_customer(self, customer_id: str, limit: int = 20) -> list[Task]:
        rows = sorted(
            (t for t in self._tasks.values() if t.customer_id == customer_id),
            key=lambda t: (-t.created_at, t.task_id),
        )
        return rows[:limit]

    async def tasks_between(self, start: float, end: float) -> list[Task]:
        rows = [t for t in self._tasks.values() if start <= t.created_at < end]
        return sorted(rows, key=lambda t: (t.created_at, t.task_id))

    async def tasks_ended_since(self, since: float) -> list[Task]:
        rows = [t for t in self._tasks.values() if t.closed_at is not None and t.closed_at >= since]
        return sorted(rows, key=lambda t: (t.closed_at or 0.0, t.task_id))

    async def add_task_message(self, message: TaskMessage) -> TaskMessage:
        check_direction(message.direction)
        if message.message_id in self._message_ids:
            return self._message_ids[message.message_id]
        task = await self.get_task(message.task_id)
        transcript = self._messages.setdefault(message.task_id, [])
        stored = replace(message, seq=len(transcript) + 1, meta=json.loads(json.dumps(dict(message.meta))))
        transcript.append(stored)
        self._message_ids[stored.message_id] = stored
        if message.direction == "out" and task.first_response_at is None:
            self._tasks[task.task_id] = replace(task, first_response_at=float(message.at))
        return stored

    async def task_messages(self, task_id: str, after_seq: int = 0) -> list[TaskMessage]:
        return [m for m in self._messages.get(task_id, []) if m.seq > after_seq]


__all__ = ["MemoryTaskRows", "SqlTaskRows", "message_from_row", "task_from_row"]
