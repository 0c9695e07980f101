"""The desktop websocket carries the agent's written tasks' changes (agents/task_push.py):
the task notes on the bus that name the agent (assigned by the leader, a message on
their task, taken from them by a transfer, closed) reach their `/agent/ws` at once, and
no other agent's; typing and queue positions do not."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from agents.desktop import HUB
from cti.server import BUS
from store.topics import TASK_CHANGES, TaskNote
from tasks.web import TASK_DESK
from tests.web.test_web_desktop import desktop_socket, wf
from tests.web.web_helpers import login


async def next_frame(ws: Any) -> dict[str, Any]:
    return json.loads((await wf(ws.receive(), 5)).data)


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
