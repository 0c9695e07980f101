"""`GET /api/v1/commands/{request_id}`: where a kept agent command stands.

A command the API answered 202 (no reply from the live loop in time: web/commands.py)
waits in the store; this tells whether it is still `pending`, or was `applied`,
`refused` (with the live loop's reason) or `expired` (it waited longer than
`[pbx] command_ttl_s` for the live loop), and when. Who may read it: as for sending
the agent's commands (the agent, a supervisor of their team, an admin); 404 for an
unknown request id.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from cti.server import STORE
from store.port import NotFound
from web.app import api_error, require, require_agent_access
from web.commands import STORE_TIMEOUT_S, status_json


async def command_status(request: web.Request) -> web.Response:
    require(request, "agent")
    request_id = request.match_info["request_id"]
    try:
        async with asyncio.timeout(STORE_TIMEOUT_S):
            row = await request.app[STORE].get_command(request_id)
    except NotFound:
        return api_error(404, f"no command with request_id {request_id!r}")
    await require_agent_access(request, row.agent_id)
    return web.json_response(status_json(row))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/commands/{request_id}", command_status)
