"""One contract suite over the tasks' rows (`store.port.TaskRows`, issue 18): PostgreSQL
(asyncpg), SQLite and the in-memory adapter; and the desk (tasks/desk.py) over the
real SQL stores and both buses' in-process adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from store.bus import MemoryBus
from store.memory import MemoryStore
from store.port import NotFound, TaskRows
from store.topics import TASK_CHANGES, TaskNote, subscribe, task_topic
from tasks.desk import TaskDesk, TaskEnded
from tasks.model import Task, TaskMessage
from tests.contract.test_contract_store import _sql_store


@pytest.fixture(params=["postgresql", "sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[TaskRows]:
    if request.param == "memory":
        yield MemoryStore()
        return
    s = await _sql_store(request.param, request, tmp_path)
    if request.param == "postgresql":  # (the session's database is shared by the tests)
        await s._db.execute("TRUNCATE task_messages, tasks")
    try:
        yield s
    finally:
        await s.close()


def chat(task_id: str, created_at: float = 100.0, **changes: Any) -> Task:
    row = Task(
        task_id=task_id,
        channel="chat",
        queue="support",
        customer_id="C042",
        subject="My order",
        attrs={"email": "ann@example.com"},
        created_at=created_at,
        skills={"support": 3},
        priority=1,
        updated_at=created_at,
    )
    return replace(row, **changes)


def said(task_id: str, message_id: str, direction: str = "in", at: float = 110.0) -> TaskMessage:
    return TaskMessage(message_id, task_id, 0, direction, "ann", f"text {message_id}", None, {"k": [1]}, at)  # type: ignore[arg-type]


async def test_every_field_of_a_task_round_trips(store: TaskRows) -> None:
    full = chat(
        "t1",
        due_at=4000.0,
        state="assigned",
        agent_id="agent07",
        target_agent="agent07",
        offered_at=101.0,
        assigned_at=102.0,
        first_response_at=103.0,
        closed_at=None,
        disposition="sale",
        notes="n",
        outcome="o",
        channel="email",
        missed_by="agent03",
    )
    assert await store.add_task(full) == full
    assert await store.get_task("t1") == full
    moved = replace(full, state="waiting", agent_id=None, missed_by="agent07")
    assert await store.update_task(moved, from_states=("assigned",))
    assert await store.get_task("t1") == moved
    bare = Task("t2", "callback", "sales", created_at=5.0)
    assert await store.add_task(bare) == bare
    assert await store.get_task("t2") == bare


async def test_an_open_repeated_keeps_the_first_row(store: TaskRows) -> None:
    first = chat("t1")
    await store.add_task(first)
    assert await store.add_task(chat("t1", queue="other", created_at=999.0)) == first


async def test_unknown_tasks_are_not_found(store: TaskRows) -> None:
    with pytest.raises(NotFound):
        await store.get_task("nope")
    with pytest.raises(NotFound):
        await store.update_task(chat("nope"), from_states=("waiting",))
    with pytest.raises(NotFound):
        await store.add_task_message(said("nope", "m1"))


async def test_a_state_change_is_a_compare_and_set(store: TaskRows) -> None:
    await store.add_task(chat("t1"))
    offered = chat("t1", state="offered", agent_id="a1", offered_at=120.0)
    assert await store.update_task(offered, from_states=("waiting",))
    assert await store.get_task("t1") == offered
    # a second writer who also saw it waiting loses
    assert not await store.update_task(chat("t1", state="abandoned"), from_states=("waiting",))
    assert await store.get_task("t1") == offered
    assert not await store.update_task(chat("t1", state="closed"), from_states=())


async def test_open_tasks_by_age_and_by_agent(store: TaskRows) -> None:
    await store.add_task(chat("t3", created_at=300.0))
    await store.add_task(chat("t1", created_at=100.0, state="assigned", agent_id="a1"))
    await store.add_task(chat("t2", created_at=200.0, state="closed", agent_id="a1"))
    await store.add_task(chat("t4", created_at=100.0, state="offered", agent_id="a2"))
    await store.add_task(chat("t5", created_at=50.0, state="abandoned"))
    assert [t.task_id for t in await store.open_tasks()] == ["t1", "t4", "t3"]
    assert [t.task_id for t in await store.open_tasks("a1")] == ["t1"]
    assert await store.open_tasks("nobody") == []


async def test_tasks_ended_since_by_their_end(store: TaskRows) -> None:
    await store.add_task(chat("t1", created_at=100.0, state="closed", closed_at=500.0))
    await store.add_task(chat("t2", created_at=200.0, state="abandoned", closed_at=400.0))
    await store.add_task(chat("t3", created_at=50.0, state="closed", closed_at=300.0))
    await store.add_task(chat("t4", created_at=60.0, state="assigned", agent_id="a1"))
    assert [t.task_id for t in await store.tasks_ended_since(400.0)] == ["t2", "t1"]
    assert [t.task_id for t in await store.tasks_ended_since(0.0)] == ["t3", "t2", "t1"]
    assert await store.tasks_ended_since(501.0) == []


async def test_a_customers_tasks_latest_first_and_tasks_between(store: TaskRows) -> None:
    await store.add_task(chat("t1", created_at=100.0))
    await store.add_task(chat("t2", created_at=300.0, channel="email"))
    await store.add_task(chat("t3", created_at=200.0, customer_id="C999"))
    await store.add_task(chat("t4", created_at=250.0, customer_id=None))
    assert [t.task_id for t in await store.tasks_for_customer("C042")] == ["t2", "t1"]
    assert [t.task_id for t in await store.tasks_for_customer("C042", limit=1)] == ["t2"]
    assert [t.task_id for t in await store.tasks_between(100.0, 300.0)] == ["t1", "t3", "t4"]


async def test_messages_are_numbered_per_task_and_a_repeat_keeps_the_first(store: TaskRows) -> None:
    await store.add_task(chat("t1"))
    await store.add_task(chat("t2"))
    m1 = await store.add_task_message(said("t1", "m1"))
    m2 = await store.add_task_message(said("t2", "m2"))
    m3 = await store.add_task_message(said("t1", "m3", at=111.0))
    assert (m1.seq, m2.seq, m3.seq) == (1, 1, 2)
    assert m1 == replace(said("t1", "m1"), seq=1)
    again = await store.add_task_message(replace(said("t1", "m1"), text="changed"))
    assert again == m1
    assert await store.task_messages("t1") == [m1, m3]
    assert await store.task_messages("t1", after_seq=1) == [m3]
    assert await store.task_messages("none") == []


async def test_the_first_outbound_message_is_the_first_response(store: TaskRows) -> None:
    await store.add_task(chat("t1"))
    await store.add_task_message(said("t1", "m1", "in", at=110.0))
    await store.add_task_message(said("t1", "m2", "note", at=115.0))
    assert (await store.get_task("t1")).first_response_at is None
    await store.add_task_message(said("t1", "m3", "out", at=120.0))
    await store.add_task_message(said("t1", "m4", "out", at=130.0))
    assert (await store.get_task("t1")).first_response_at == 120.0


async def test_concurrent_messages_get_distinct_numbers(store: TaskRows) -> None:
    await store.add_task(chat("t1"))
    stored = await asyncio.gather(*(store.add_task_message(said("t1", f"m{i}")) for i in range(8)))
    assert sorted(m.seq for m in stored) == list(range(1, 9))


# ---------------------------------------------------------------- the desk


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_desk_stores_first_then_tells_the_bus(store: TaskRows) -> None:
    bus, clock = MemoryBus(), Clock()
    desk = TaskDesk(store, bus, clock)
    async with subscribe(bus, TASK_CHANGES) as changes, subscribe(bus, task_topic("t1")) as mine:
        task = await desk.open(channel="chat", queue="support", customer_id="C1", task_id="t1", attrs={"a": "b"})
        assert await store.get_task("t1") == task
        assert task.state == "waiting" and task.created_at == 1000.0
        expected = TaskNote("opened", "t1", queue="support", channel="chat")
        assert await asyncio.wait_for(changes.get(), 2) == expected
        assert await asyncio.wait_for(mine.get(), 2) == expected
        clock.now = 1001.0
        assert await desk.open(channel="chat", queue="other", task_id="t1") == task  # idempotent
        message = await desk.add_message("t1", direction="in", author="Ann", text="hello")
        note = await asyncio.wait_for(mine.get(), 2)
        assert note.kind == "message" and note.message is not None and note.message["text"] == "hello"
        assert [m.text for m in await desk.messages("t1")] == ["hello"] and message.seq == 1


async def test_the_desk_status_abandon_transfer_and_close(store: TaskRows) -> None:
    bus, clock = MemoryBus(), Clock()
    desk = TaskDesk(store, bus, clock)
    await desk.open(channel="chat", queue="support", task_id="t1")
    clock.now += 1
    await desk.open(channel="chat", queue="support", task_id="t2", priority=5)
    await desk.open(channel="chat", queue="support", task_id="t3")
    assert (await desk.status("t1")).position == 2  # t2 has the higher priority
    assert (await desk.status("t3")).position == 3 and (await desk.status("t3")).wait_s is None
    await desk.abandon("t3", "page closed")
    assert (await store.get_task("t3")).state == "abandoned"
    with pytest.raises(TaskEnded):
        await desk.transfer("t3", queue="sales")
    await store.update_task(
        replace(await store.get_task("t1"), state="assigned", agent_id="a1"), from_states=("waiting",)
    )
    await desk.abandon("t1", "late")  # taken already: it stays with the agent
    await desk.transfer("t1", agent_id="a2")
    moved = await store.get_task("t1")
    assert (moved.state, moved.agent_id, moved.target_agent, moved.queue) == ("waiting", None, "a2", "support")
    with pytest.raises(ValueError, match="transfer: name a queue or an agent"):
        await desk.transfer("t1")
    await desk.close("t1", by="a2", disposition="solved", notes="ok")
    closed = await store.get_task("t1")
    assert (closed.state, closed.disposition, closed.notes, closed.closed_at) == ("closed", "solved", "ok", clock.now)
    with pytest.raises(TaskEnded):
        await desk.add_message("t1", direction="out", author="a2", text="late")


async def test_an_outbound_message_goes_through_its_channels_handler(store: TaskRows) -> None:
    desk = TaskDesk(store, MemoryBus(), Clock())
    sent: list[tuple[str, str]] = []

    async def send(task: Task, message: TaskMessage) -> None:
        sent.append((task.task_id, message.text))

    desk.on_outbound("email", send)
    await desk.open(channel="email", queue="support", task_id="e1", due_s=3600)
    await desk.open(channel="chat", queue="support", task_id="c1")
    await desk.add_message("e1", direction="in", author="ann@example.com", text="question")
    await desk.add_message("e1", direction="out", author="a1", text="answer")
    await desk.add_message("c1", direction="out", author="a1", text="chat answer")
    assert sent == [("e1", "answer")]


async def test_the_desk_names_the_bad_field(store: TaskRows) -> None:
    desk = TaskDesk(store, MemoryBus(), Clock())
    with pytest.raises(ValueError, match="channel: must be one of"):
        await desk.open(channel="fax", queue="support")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="queue: must not be empty"):
        await desk.open(channel="chat", queue=" ")
    with pytest.raises(ValueError, match="due_s: must be > 0"):
        await desk.open(channel="email", queue="q", due_s=0)
    await desk.open(channel="chat", queue="support", task_id="t1")
    with pytest.raises(ValueError, match="direction: must be one of"):
        await desk.add_message("t1", direction="sideways", author="x", text="y")
    with pytest.raises(ValueError, match="text: must not be empty"):
        await desk.add_message("t1", direction="in", author="x", text="")
