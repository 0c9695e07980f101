"""The agent's side of a chat's live hints: `GET /agent/tasks/{task_id}/ws`, one socket
per open tab of the desktop (web/static/agent_tasks.js), for the agent the task is
assigned to only.

Hotline -> desktop: `{"type": "typing", "who": "customer"}` (the customer types: shown
a few seconds). A message or another change of the task reaches the desktop over its own
websocket (`/agent/ws`, agents/task_push.py), with every other task of the agent's.
Desktop -> Hotline: `{"type": "typing"}` (the agent types: the customer's page shows it;
at most one a second is passed on).
Same-origin and signed-in only (web.app's identity middleware, `signed_in_only`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import structlog
from aiohttp import WSMsgType, web

from chat.limits import Gate
from cti.server import BUS
from store.port import NotFound
from store.topics import subscribe, task_topic
from tasks.web import TASK_DESK
from web.app import CLOCK, api_error, require, signed_in_only
from web.open_sockets import OpenSockets

log = structlog.get_logger()

# the open desktop sockets, closed at shutdown (an open one would hold the server's stop)
AGENT_SOCKETS: web.AppKey[OpenSockets] = web.AppKey("chat_agent_sockets")


async def task_socket(request: web.Request) -> web.StreamResponse:
    me = require(request, "agent")
    task_id = request.match_info["task_id"]
    desk = request.app[TASK_DESK]
    try:
        task = await desk.get(task_id)
    except NotFound:
        return api_error(404, f"task_id: no task {task_id!r}")
    if task.agent_id != me.login:
        return api_error(403, f"task_id: task {task_id!r} is not assigned to you")
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await ws.prepare(request)
    if not await request.app[AGENT_SOCKETS].add(ws):  # (the server is stopping)
        return ws
    async with signed_in_only(request, ws), subscribe(request.app[BUS], task_topic(task_id)) as inbox:

        async def forward() -> None:
            async for note in inbox:
                if note.kind == "typing" and note.who != me.login:
                    await ws.send_str(json.dumps({"type": "typing", "who": note.who}))

        forwarder = asyncio.create_task(forward(), name="agent-task-socket")
        gate = Gate(per_minute=1)  # (only its typing throttle)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and msg.data == '{"type":"typing"}':
                    if gate.typing(request.app[CLOCK]()):
                        await desk.typing(task_id, me.login)
        finally:
            request.app[AGENT_SOCKETS].discard(ws)
            forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                await forwarder
    return ws


def setup(app: web.Application) -> None:
    app[AGENT_SOCKETS] = OpenSockets()
    app.on_shutdown.append(app[AGENT_SOCKETS].close_all)  # (the tab opens its socket again)
    app.router.add_get("/agent/tasks/{task_id}/ws", task_socket)
