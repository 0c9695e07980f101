"""One agent's report (the drill-down from the reports' agents table): their KPIs day
by day over the range (from the per-day buckets reports/report_days.py keeps) and their
calls with the disposition and notes. A supervisor opens only their teams' agents.

GET /reports/agent/{login}?from=&to=   the page
GET /api/v1/reports/agents/{login}?from=&to=   the same as JSON
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from agents.hub import interaction_row
from cti.server import STORE
from reports.kpi import Totals, metrics
from reports.web import BadQuery, build_report, dur_text, parse_report_query, pct_text, sec_text
from store.models import InteractionFilter
from store.port import NotFound
from web.app import CLOCK, is_api, require

CALLS_SHOWN = 200


def _refuse(request: web.Request, status: int, message: str) -> web.HTTPException:
    kind = {400: web.HTTPBadRequest, 403: web.HTTPForbidden, 404: web.HTTPNotFound}[status]
    if is_api(request):
        return kind(text=json.dumps({"error": message}), content_type="application/json")
    return kind(text=message)


async def agent_report(request: web.Request) -> dict[str, Any]:
    me = require(request, "supervisor")
    login = request.match_info["login"]
    store = request.app[STORE]
    try:
        user = await store.get_user(login)
    except NotFound:
        raise _refuse(request, 404, f"login: no agent {login!r}") from None
    if not me.may_see_agent(login, user.team):
        raise _refuse(request, 403, f"login: {login!r} is not an agent of your teams")
    try:
        q = parse_report_query({k: v for k, v in request.query.items() if k in ("from", "to")}, request.app[CLOCK]())
    except BadQuery as exc:
        raise _refuse(request, 400, str(exc)) from None
    data = await build_report(request, me, q)
    cfg = data["cfg"]
    days = [
        {"start": start, **metrics(day.bucket(("agent", login, None)) or Totals(), cfg)} for start, day in data["days"]
    ]
    where = InteractionFilter(agent_id=login, since=q["start"], until=q["end"])
    calls = await store.search_interactions(where, CALLS_SHOWN + 1, 0)
    return {
        "agent": {"login": login, "name": user.display_name or login, "team": user.team},
        "query": q,
        "total": data["report"]["agents"].get(login, {}).get("total") or metrics(Totals(), cfg),
        "days": days,
        "calls": [{**interaction_row(i), "caller": i.caller} for i in calls[:CALLS_SHOWN]],
        "more_calls": len(calls) > CALLS_SHOWN,
    }


async def agent_page(request: web.Request) -> web.StreamResponse:
    data = await agent_report(request)
    return aiohttp_jinja2.render_template(
        "reports_agent.html",
        request,
        {
            **data,
            "pct": pct_text,
            "sec": sec_text,
            "dur": dur_text,
            "day": lambda t: datetime.fromtimestamp(t).strftime("%a %Y-%m-%d"),
            "when": lambda t: datetime.fromtimestamp(t).strftime("%m-%d %H:%M"),
        },
    )


async def agent_json(request: web.Request) -> web.Response:
    return web.json_response(await agent_report(request))


def setup(app: web.Application) -> None:
    app.router.add_get("/reports/agent/{login}", agent_page)
    app.router.add_get("/api/v1/reports/agents/{login}", agent_json)
