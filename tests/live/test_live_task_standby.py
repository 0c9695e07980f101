"""Written tasks across a change of leader (issue 18): two `hotline serve` on one PBX
emulator and one PostgreSQL; one leads and routes the e-mails (offer, the agent's
accept, close), the other stands by. The leader SIGKILLed, the standby takes over from
the task rows: a task accepted under the old leader stays its agent's (not offered
again, its slot still taken), an offer the agent accepts while no one leads is theirs
too, a task closed while no one leads frees its agent, and each task's steps are in
the event log exactly once, also those the old leader had not yet written when it was
killed and the close no leader saw."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from events import TaskAccepted, TaskClosed, TaskNotAccepted, TaskOffered, TaskQueued
from store.bus import MemoryBus
from store.models import User
from tasks.desk import TaskDesk
from tests.live.serve_process import free_port, health, kill, pbx_and_store, serve, stop_all, until, write_config
from tests.live.test_live_standby import _leader, _statuses

pytestmark = pytest.mark.xdist_group("live-load")

SECRET = "task-standby-secret"
AGENTS = [
    User(login="ada", display_name="Ada", skills={"support": 5}, phone_endpoint="Local/2003@agents"),
    User(login="eve", display_name="Eve", skills={"support": 5}, phone_endpoint="Local/2001@agents"),
    User(login="sol", display_name="Sol", skills={"support": 5}, phone_endpoint="Local/2002@agents"),
]
TABLES = """
[routing.rona]
accept_s = { email = 600 }
max_misses = 0
[routing.capacity.default]
combos = [{ voice = 1 }, { email = 1 }]
[[routing.queues.email.targets]]
expression = "skills.support >= 1"
"""
STEPS = (TaskQueued, TaskOffered, TaskAccepted, TaskClosed)


async def test_tasks_accepted_under_the_old_leader_are_neither_offered_again_nor_lost(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    ports = [free_port() for _ in range(2)]
    emulator, store = await pbx_and_store(SECRET, fresh_pg_url, AGENTS)
    configs = [
        write_config(
            tmp_path / f"hotline-{n}.toml", ports[n], fresh_pg_url, "memory://", emulator.port, SECRET, tables=TABLES
        )
        for n in range(2)
    ]
    logs = [tmp_path / f"serve-{n}.log" for n in range(2)]
    servers = [serve(configs[n], logs[n]) for n in range(2)]
    bus = MemoryBus()  # (the leaders hear of the desk's changes by polling the rows)
    desk = TaskDesk(store, bus, time.time)

    async def row(task_id: str, state: str, timeout: float = 20) -> str:
        """The row once in `state`: its agent."""
        deadline = time.monotonic() + timeout
        while (task := await store.get_task(task_id)).state != state:
            assert time.monotonic() < deadline, f"{task_id}: {task.state}, not {state}"
            await asyncio.sleep(0.1)
        return task.agent_id or ""

    async def taken(task_id: str) -> str:
        """Opened, offered and accepted: its agent."""
        await desk.open(channel="email", queue="email", subject=task_id, due_s=3600, task_id=task_id)
        agent = await row(task_id, "offered")
        await desk.accept(task_id, agent)
        await asyncio.sleep(2.5)  # (the leader's poll hears the accept)
        return agent

    try:
        await until(lambda: sorted(_statuses(ports)) == ["ok", "standby"], 60, "one leader, one standby")
        lead = _leader(ports)
        # under the first leader: e1 and e4 offered and accepted, e2 offered to the third agent
        first, fourth = await taken("e1"), await taken("e4")
        await desk.open(channel="email", queue="email", subject="e2", due_s=3600, task_id="e2")
        # the leader killed as soon as it has offered e2: its steps may not have reached the log
        deadline = time.monotonic() + 20
        while (e2 := await store.get_task("e2")).state != "offered":
            assert time.monotonic() < deadline, e2.state
            await asyncio.sleep(0.002)
        kill(servers[lead])
        second = e2.agent_id or ""
        assert len({first, second, fourth}) == 3
        # while no one leads: e2 accepted, e4 closed (its agent free again), e3 opened
        await desk.accept("e2", second)
        await desk.close("e4", by=fourth, disposition="answered")
        await desk.open(channel="email", queue="email", subject="e3", due_s=3600, task_id="e3")
        await until(lambda: _leader(ports) not in (-1, lead), 30, "the standby to take over")

        assert await row("e3", "offered") == fourth  # the only agent with room: e1's and e2's kept theirs
        await desk.accept("e3", fourth)
        await desk.open(channel="email", queue="email", subject="e5", due_s=3600, task_id="e5")
        await asyncio.sleep(5)  # (the new leader's polls)
        assert (await store.get_task("e5")).state == "waiting"  # every agent has an e-mail
        assert [await row(t, "assigned") for t in ("e1", "e2", "e3")] == [first, second, fourth]
        await desk.abandon("e5", "test over")
        for task_id, agent in (("e1", first), ("e2", second), ("e3", fourth)):
            await desk.close(task_id, by=agent, disposition="answered")
        new = 1 - lead
        await asyncio.sleep(3)  # (the poll that logs the closes)
        await until(lambda: health(ports[new])["event_log"]["backlog"] == 0, 20, "the event log to be written")
    finally:
        await asyncio.to_thread(stop_all, servers)
        await emulator.stop()
        await bus.close()

    try:
        events = [s.event for s in await store.events_between(0, 1e12)]
        for task_id in ("e1", "e2", "e3", "e4"):
            kinds = Counter(type(e).__name__ for e in events if getattr(e, "task_id", "") == task_id)
            assert kinds == Counter({k.__name__: 1 for k in STEPS}), (task_id, kinds)
        assert not [e for e in events if isinstance(e, TaskNotAccepted)]
        accepted = {e.task_id: e.agent_id for e in events if isinstance(e, TaskAccepted)}
        assert accepted == {"e1": first, "e2": second, "e3": fourth, "e4": fourth}
        e5 = [type(e).__name__ for e in events if getattr(e, "task_id", "") == "e5"]
        assert e5 == ["TaskQueued", "TaskAbandoned"]
    finally:
        await store.close()
