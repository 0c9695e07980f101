"""The desktop's side panel: the agent's queues now and their own day.

GET /api/v1/agents/{agent_id}/today (the agent, their supervisor, an admin):
- `queues`: for each queue the agent is skilled for (all queues when none), calls
  waiting now and the longest wait (the wallboard's live numbers);
- `me`: today's handled calls, AHT, talk, time paused and logged in, occupancy (the
  wallboard's engine, the agent's own bucket);
- `callbacks`: the call-backs they promised that are still open, by due time;
- `calls`: their calls today, latest first (at most 20).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from agents.hub import interaction_row
from cti.server import STORE
from reports.web import WALLBOARD
from reports.web_live import View, day_start
from store.models import CALLBACK_OPEN, CallbackQuery, InteractionFilter
from store.port import NotFound
from web.app import CLOCK, require_agent_access

CALLS_SHOWN = 20
ME_FIELDS = ("handled", "aht", "avg_talk", "paused_s", "logged_in_s", "occupancy", "rona")


async def today(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    await require_agent_access(request, agent_id)
    store = request.app[STORE]
    now = request.app[CLOCK]()
    try:
        skills = set((await store.get_user(agent_id)).skills)
    except NotFound:  # (an admin looking at a login not in the directory: every queue)
        skills = set()
    board = request.app[WALLBOARD].board
    snapshot = board.snapshot(time.time(), View(None))
    queues = [
        {"name": q["name"], "waiting": q["waiting"], "longest_wait": q["longest_wait"]}
        for q in snapshot["queues"]
        if not skills or q["name"] in skills
    ]
    mine = board.engine.agent_total(agent_id, max(now, board.engine.last_event_at))
    promised = await store.list_callbacks(CallbackQuery(agent_id=agent_id, limit=200))
    calls = await store.search_interactions(InteractionFilter(agent_id=agent_id, since=day_start(now)), CALLS_SHOWN, 0)
    body: dict[str, Any] = {
        "queues": queues,
        "me": {k: mine.get(k) for k in ME_FIELDS},
        "callbacks": [
            {"id": c.id, "due_at": c.due_at, "number": c.number, "customer_id": c.customer_id, "state": c.state}
            for c in promised
            if c.state in CALLBACK_OPEN
        ],
        "calls": [{**interaction_row(i), "caller": i.caller} for i in calls],
    }
    return web.json_response(body)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/agents/{agent_id}/today", today)
