"""The desktop websocket carries the agent's written tasks' changes (agents/task_push.py):
the task notes on the bus that name the agent (assigned by the leader, a message on
their task, taken from them by a transfer, closed) reach their `/agent/ws` at once, and
no other agent's; typing and queue positions do not; after a bus outage every desktop
is told to reload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from agents.desktop import HUB
from cti.server import BUS
from store.bus import RedisBus
from store.topics import TASK_CHANGES, TaskNote
from tasks.web import TASK_DESK
from tests.web.conftest import started, web_config
from tests.web.test_web_desktop import desktop_socket, wf
from tests.web.test_web_outages import forwarder_for, through
from tests.web.web_helpers import login


async def next_frame(ws: Any, timeout_s: float = 5) -> dict[str, Any]:
    return json.loads((await wf(ws.receive(), timeout_s)).data)


async def test_the_agents_task_notes_are_pushed_to_their_desktop_only(client: TestClient) -> None:
    app = client.server.app
    await wf(app[HUB].ready.wait())
    await login(client, "agent01")
    ws = await desktop_socket(client)
    bus, desk = app[BUS], app[TASK_DESK]

    # the leader's notes (cti/live_tasks.py publishes these on the bus)
    await TASK_CHANGES.publish(bus, TaskNote("assigned", "t-other", agent_id="agent03", channel="chat"))
    await TASK_CHANGES.publish(bus, TaskNote("position", "t-mine", position=1))
    await TASK_CHANGES.publish(bus, TaskNote("typing", "t-mine", agent_id="agent01", who="customer"))
    await TASK_CHANGES.publish(bus, TaskNote("assigned", "t-mine", agent_id="agent01", channel="chat"))
    assert await next_frame(ws) == {"type": "task", "kind": "assigned", "task_id": "t-mine"}  # (frames keep order)

    # the desk's own: a chat opened (nobody's yet), then sent to agent01, then on to agent03
    chat = await desk.open(channel="chat", queue="support", subject="Hello")
    await desk.transfer(chat.task_id, agent_id="agent01")
    assert await next_frame(ws) == {"type": "task", "kind": "transferred", "task_id": chat.task_id}
    await TASK_CHANGES.publish(bus, TaskNote("transferred", chat.task_id, agent_id="agent03", reason="agent01"))
    assert await next_frame(ws) == {"type": "task", "kind": "transferred", "task_id": chat.task_id}
    await desk.close(chat.task_id, by="agent03", disposition="resolved")
    await TASK_CHANGES.publish(bus, TaskNote("closed", "t-mine", agent_id="agent01", reason="customer"))
    assert await next_frame(ws) == {"type": "task", "kind": "closed", "task_id": "t-mine"}  # (not agent03's close)
    await ws.close()


async def test_a_desktop_watched_by_a_supervisor_hears_the_agents_tasks(client: TestClient) -> None:
    """(`?agent=`: the supervisor's read-only view follows the agent's tabs too.)"""
    app = client.server.app
    await wf(app[HUB].ready.wait())
    await login(client, "sup")
    ws = await desktop_socket(client, "agent01")
    await TASK_CHANGES.publish(app[BUS], TaskNote("message", "t-1", agent_id="agent01", message={"text": "hi"}))
    assert await next_frame(ws) == {"type": "task", "kind": "message", "task_id": "t-1"}
    await ws.close()


async def test_after_a_bus_outage_every_desktop_reloads_its_tasks(
    tmp_path: Path, redis_url: str, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A note published while this process's Redis link was cut is lost to it: when the
    link is back the hub tells each desktop to reload (`resync`), so the tab appears."""
    import cti.server as server_mod
    from store import open_bus

    monkeypatch.setattr(server_mod, "open_bus", lambda config: open_bus(config, redis_namespace))
    redis = forwarder_for(redis_url)
    await redis.start()
    client = await started(web_config(f"sqlite:///{tmp_path}/web.sqlite3", through(redis_url, redis)))
    leader = RedisBus.from_url(redis_url, namespace=redis_namespace)  # (the leader's link: not cut)
    try:
        await wf(client.server.app[HUB].ready.wait())
        await login(client, "agent01")
        ws = await desktop_socket(client)
        await redis.cut()
        await TASK_CHANGES.publish(leader, TaskNote("assigned", "t-lost", agent_id="agent01", channel="chat"))
        await redis.restore()
        assert await next_frame(ws, 20) == {"type": "task", "kind": "resync", "task_id": ""}
        await ws.close()
    finally:
        await leader.close()
        await client.close()
