"""Recordings played back in the browser (issue 17).

- `GET /recordings/{call_id}` a page with the recording in an `<audio>` player;
- `GET /api/v1/interactions/{call_id}/recording` the WAV file.

Only an agent who took the call (the one it was recorded with, or the interaction's
agent after a transfer), a supervisor of their team, or an admin
(else 403; 404 when the call has no recording or its file is gone). Every playback of
the file is an audit entry (`recording.play`). The retention job runs here too
(cti/recording_retention.py).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from cti.recording_retention import daily
from cti.server import CONFIG, STORE
from store.models import Recording
from store.port import NotFound
from web.app import CLOCK, WEB_TASKS, agent_team, api_error, forbidden, require
from web.audit import record as audit


async def _allowed(request: web.Request, call_id: str) -> Recording:
    """The call's recording if the caller may hear it (raises 403 / 404)."""
    me = require(request, "agent")
    try:
        rec = await request.app[STORE].get_recording(call_id)
    except NotFound:
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"call_id: no recording of call {call_id!r}"}), content_type="application/json"
        ) from None
    if me.role == "admin":
        return rec
    for agent_id in await _agents_of(request, rec):
        if me.login == agent_id:
            return rec
        if me.role == "supervisor" and me.may_see_agent(agent_id, await agent_team(request, agent_id)):
            return rec
    raise forbidden(request, f"not allowed to hear the recording of call {call_id!r}")


async def _agents_of(request: web.Request, rec: Recording) -> list[str]:
    """Who took the call: the agent it was recorded with, and the interaction's agent
    (the one who ended it, after a transfer)."""
    agents = [rec.agent_id] if rec.agent_id else []
    try:
        last = (await request.app[STORE].get_interaction(rec.call_id)).agent_id
    except NotFound:
        last = ""
    return agents + ([last] if last and last not in agents else [])


async def recording_file(request: web.Request) -> web.StreamResponse:
    call_id = request.match_info["call_id"]
    rec = await _allowed(request, call_id)
    path = Path(rec.path)
    if not path.is_file():
        return api_error(404, f"call_id: the recording of call {call_id!r} is no longer on disk")
    await audit(request, "recording.play", call_id, agent_id=rec.agent_id, queue=rec.queue)
    return web.FileResponse(path, headers={"Content-Type": "audio/wav", "Cache-Control": "no-store"})


async def recording_page(request: web.Request) -> web.StreamResponse:
    call_id = request.match_info["call_id"]
    rec = await _allowed(request, call_id)
    return aiohttp_jinja2.render_template("recording.html", request, {"rec": rec})


def setup(app: web.Application) -> None:
    async def start_retention(app: web.Application) -> None:
        """(A web task: cancelled with the others at shutdown, web.app.setup.)"""
        days = app[CONFIG].recording.retention_days
        app[WEB_TASKS].append(asyncio.create_task(daily(app[STORE], app[CLOCK], days), name="recordings-retention"))

    app.on_startup.append(start_retention)
    app.router.add_get("/recordings/{call_id}", recording_page)
    app.router.add_get("/api/v1/interactions/{call_id}/recording", recording_file)
