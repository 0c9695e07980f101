"""The wallboard's drill-downs: from a queue tile to the queue's calls waiting and its
agents, from an agent to their calls today. Both for a supervisor (their teams'
agents; a queue's waiting calls are shared, as its tile is) or an admin.

GET /api/v1/wallboard/queues/{queue}   the live board's calls waiting (who, how long) and
                                       the agents with the queue's skill (state, time in state)
GET /api/v1/agents/{agent_id}/calls    their calls today, latest first: time, queue,
                                       customer, duration, outcome, disposition, recording
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from agents.team_moves import team_today
from cti.server import STORE
from reports.web import WALLBOARD, view_of
from reports.web_live import day_start, queue_detail
from store.models import Interaction, InteractionFilter
from store.port import NotFound
from web.app import CLOCK, api_error, require, require_agent_access

CALLS_MAX = 200  # an agent's calls in a day (a busy day is about 100)


async def queue_drill(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    hub = request.app[WALLBOARD]
    await asyncio.wait_for(hub.ready.wait(), timeout=10)
    queue = request.match_info["queue"]
    found = queue_detail(hub.board, request.app[CLOCK](), queue, view_of(me))
    if found is None:
        return api_error(404, f"queue: no queue {queue!r}")
    return web.json_response(found)


def _seconds(i: Interaction) -> tuple[float | None, float | None]:
    """(duration from the start, talk from the answer), None while unknown."""
    if i.ended_at is None:
        return None, None
    talk = i.ended_at - i.answered_at if i.answered_at is not None else None
    return round(i.ended_at - i.started_at, 1), (None if talk is None else round(talk, 1))


async def agent_calls(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    await require_agent_access(request, agent_id)
    store = request.app[STORE]
    now = request.app[CLOCK]()
    try:
        user = await store.get_user(agent_id)
    except NotFound:
        return api_error(404, f"agent_id: no agent {agent_id!r}")
    calls = await store.search_interactions(InteractionFilter(agent_id=agent_id, since=day_start(now)), CALLS_MAX, 0)
    names: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for i in calls:
        if i.customer_id and i.customer_id not in names:
            try:
                names[i.customer_id] = (await store.get_customer(i.customer_id)).name
            except NotFound:
                names[i.customer_id] = ""
        try:
            await store.get_recording(i.id)
            recording: str | None = f"/recordings/{i.id}"
        except NotFound:
            recording = None
        duration, talk = _seconds(i)
        rows.append(
            {
                "call_id": i.id,
                "started_at": i.started_at,
                "queue": i.queue,
                "direction": i.direction,
                "customer_id": i.customer_id,
                "customer": names.get(i.customer_id, ""),
                "caller": i.caller,
                "duration_s": duration,
                "talk_s": talk,
                "outcome": i.outcome,
                "disposition": i.disposition,
                "recording": recording,
            }
        )
    return web.json_response(
        {
            "agent": agent_id,
            "name": user.display_name or agent_id,
            "team": await team_today(store, user, now),
            "home_team": user.team,
            "day_start": day_start(now),
            "calls": rows,
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/wallboard/queues/{queue}", queue_drill)
    app.router.add_get("/api/v1/agents/{agent_id}/calls", agent_calls)
