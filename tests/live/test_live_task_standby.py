"""Written tasks across a change of leader (issue 18): two `hotline serve` on one PBX
emulator and one PostgreSQL; one leads and routes the tasks (offer, the agent's accept
or its ring-no-answer, close), the other stands by. The leader SIGKILLed, the standby
takes over from the task rows: a task accepted under the old leader stays its agent's
(not offered again, its slot still taken), an offer the agent accepts while no one
leads is theirs too, a task closed while no one leads frees its agent, and each task's
steps are in the event log exactly once, also those the old leader had not yet written
when it was killed (an offer, a ring-no-answer) and the close no leader saw."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from events import Event, TaskAbandoned, TaskAccepted, TaskClosed, TaskNotAccepted, TaskOffered, TaskQueued
from store import SqlStore
from store.bus import MemoryBus
from store.models import User
from tasks.desk import TaskDesk
from tests.live.serve_process import free_port, health, kill, pbx_and_store, serve, stop_all, until, write_config
from tests.live.test_live_standby import _leader, _statuses

pytestmark = pytest.mark.xdist_group("live-load")

SECRET = "task-standby-secret"
AGENTS = [
    User(login="ada", display_name="Ada", skills={"support": 5, "chat": 5}, phone_endpoint="Local/2003@agents"),
    User(login="eve", display_name="Eve", skills={"support": 5}, phone_endpoint="Local/2001@agents"),
    User(login="sol", display_name="Sol", skills={"support": 5}, phone_endpoint="Local/2002@agents"),
]
TABLES = """
[routing.rona]
accept_s = { email = 600, chat = 2 }
max_misses = 0
[routing.capacity.default]
combos = [{ voice = 1 }, { email = 1, chat = 1 }]
[[routing.queues.email.targets]]
expression = "skills.support >= 1"
[[routing.queues.chat.targets]]
expression = "skills.chat >= 1"
"""
STEPS = (TaskQueued, TaskOffered, TaskAccepted, TaskClosed)


@dataclass
class Pair:
    """The two servers (one leads), the store they share and a desk on it."""

    ports: list[int]
    servers: list[subprocess.Popen[bytes]]
    store: SqlStore
    desk: TaskDesk
    lead: int = -1

    async def row(self, task_id: str, state: str, timeout: float = 20) -> str:
        """The row once in `state`: its agent."""
        deadline = time.monotonic() + timeout
        while (task := await self.store.get_task(task_id)).state != state:
            assert time.monotonic() < deadline, f"{task_id}: {task.state}, not {state}"
            await asyncio.sleep(0.1)
        return task.agent_id or ""

    async def kill_when(self, task_id: str, state: str) -> str:
        """SIGKILL the leader as soon as the row is in `state` (its steps may not have
        reached the log), then wait for the other to take over: the row's agent."""
        deadline = time.monotonic() + 20
        while (task := await self.store.get_task(task_id)).state != state:
            assert time.monotonic() < deadline, task.state
            await asyncio.sleep(0.002)
        kill(self.servers[self.lead])
        return task.agent_id or task.missed_by

    async def taken_over(self) -> None:
        await until(lambda: _leader(self.ports) not in (-1, self.lead), 30, "the standby to take over")

    async def until_logged(self, task_id: str, *kinds: type[Event], timeout: float = 20) -> list[Event]:
        """Every event, once the log has one of `kinds` for the task (a leader's poll
        heard of the change and wrote it)."""
        deadline = time.monotonic() + timeout
        while True:
            events = [s.event for s in await self.store.events_between(0, 1e12)]
            if any(isinstance(e, kinds) and getattr(e, "task_id", "") == task_id for e in events):
                return events
            assert time.monotonic() < deadline, f"{task_id}: no {[k.__name__ for k in kinds]} logged"
            await asyncio.sleep(0.1)

    async def logged(self, *task_ids: str) -> list[Event]:
        """Every event, once the new leader has logged the end of each of `task_ids`
        and written its log."""
        new = 1 - self.lead
        for task_id in task_ids:
            await self.until_logged(task_id, TaskClosed, TaskAbandoned)
        await until(lambda: health(self.ports[new])["event_log"]["backlog"] == 0, 20, "the event log to be written")
        return [s.event for s in await self.store.events_between(0, 1e12)]


@contextlib.asynccontextmanager
async def two_servers(tmp_path: Path, store_url: str) -> AsyncIterator[Pair]:
    ports = [free_port() for _ in range(2)]
    emulator, store = await pbx_and_store(SECRET, store_url, AGENTS)
    configs = [
        write_config(
            tmp_path / f"hotline-{n}.toml", ports[n], store_url, "memory://", emulator.port, SECRET, tables=TABLES
        )
        for n in range(2)
    ]
    servers = [serve(configs[n], tmp_path / f"serve-{n}.log") for n in range(2)]
    bus = MemoryBus()  # (the leaders hear of the desk's changes by polling the rows)
    pair = Pair(ports, servers, store, TaskDesk(store, bus, time.time))
    try:
        await until(lambda: sorted(_statuses(ports)) == ["ok", "standby"], 60, "one leader, one standby")
        pair.lead = _leader(ports)
        yield pair
    finally:
        await asyncio.to_thread(stop_all, servers)
        await emulator.stop()
        await bus.close()
        await store.close()


def steps(events: list[Event], task_id: str) -> Counter[str]:
    return Counter(type(e).__name__ for e in events if getattr(e, "task_id", "") == task_id)


async def test_tasks_accepted_under_the_old_leader_are_neither_offered_again_nor_lost(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    async with two_servers(tmp_path, fresh_pg_url) as pair:
        desk = pair.desk

        async def taken(task_id: str) -> str:
            """Opened, offered and accepted: its agent."""
            await desk.open(channel="email", queue="email", subject=task_id, due_s=3600, task_id=task_id)
            agent = await pair.row(task_id, "offered")
            await desk.accept(task_id, agent)
            await pair.until_logged(task_id, TaskAccepted)  # (the leader's poll heard the accept)
            return agent

        # under the first leader: e1 and e4 offered and accepted, e2 offered to the third agent
        first, fourth = await taken("e1"), await taken("e4")
        await desk.open(channel="email", queue="email", subject="e2", due_s=3600, task_id="e2")
        second = await pair.kill_when("e2", "offered")
        assert len({first, second, fourth}) == 3
        # while no one leads: e2 accepted, e4 closed (its agent free again), e3 opened
        await desk.accept("e2", second)
        await desk.close("e4", by=fourth, disposition="answered")
        await desk.open(channel="email", queue="email", subject="e3", due_s=3600, task_id="e3")
        await pair.taken_over()

        assert await pair.row("e3", "offered") == fourth  # the only agent with room: e1's and e2's kept theirs
        await desk.accept("e3", fourth)
        await desk.open(channel="email", queue="email", subject="e5", due_s=3600, task_id="e5")
        await asyncio.sleep(5)  # (the new leader's polls)
        assert (await pair.store.get_task("e5")).state == "waiting"  # every agent has an e-mail
        assert [await pair.row(t, "assigned") for t in ("e1", "e2", "e3")] == [first, second, fourth]
        await desk.abandon("e5", "test over")
        for task_id, agent in (("e1", first), ("e2", second), ("e3", fourth)):
            await desk.close(task_id, by=agent, disposition="answered")
        events = await pair.logged("e1", "e2", "e3", "e4", "e5")

    for task_id in ("e1", "e2", "e3", "e4"):
        assert steps(events, task_id) == Counter({k.__name__: 1 for k in STEPS}), task_id
    assert not [e for e in events if isinstance(e, TaskNotAccepted)]
    accepted = {e.task_id: e.agent_id for e in events if isinstance(e, TaskAccepted)}
    assert accepted == {"e1": first, "e2": second, "e3": fourth, "e4": fourth}
    assert steps(events, "e5") == Counter(["TaskQueued", "TaskAbandoned"])


async def test_a_ring_no_answer_the_killed_leader_wrote_is_logged_once(tmp_path: Path, fresh_pg_url: str) -> None:
    """A chat only ada takes, offered to her and not accepted in time: the leader writes
    the row back in line and is killed at once; the customer leaves while no one leads.
    The new leader logs the offer, its ring-no-answer (ada's) and the abandon, once."""
    async with two_servers(tmp_path, fresh_pg_url) as pair:
        await pair.desk.open(channel="chat", queue="chat", subject="hello?", task_id="c1")
        assert await pair.row("c1", "offered") == "ada"
        assert await pair.kill_when("c1", "waiting") == "ada"  # (2 s later: back in line)
        await pair.desk.abandon("c1", "customer left")
        await pair.taken_over()
        events = await pair.logged("c1")
        row = await pair.store.get_task("c1")

    assert steps(events, "c1") == Counter(["TaskQueued", "TaskOffered", "TaskNotAccepted", "TaskAbandoned"])
    [missed] = [e for e in events if isinstance(e, TaskNotAccepted)]
    assert (missed.agent_id, row.missed_by, row.state) == ("ada", "ada", "abandoned")
