"""The wallboard alerts' history (issue 17 item 3): each alert raised, its numbers and
when it cleared, read from the event log (`AlertRaised` / `AlertCleared`,
reports/alert_log.py).

GET /wallboard/alerts          the page (supervisor, admin)
GET /api/v1/alerts/history     ?from=YYYY-MM-DD&to=YYYY-MM-DD (default today), ?queue=
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from cti.server import STORE
from events import AlertCleared, AlertRaised
from reports.alert_log import episodes
from reports.alerts import seen_by
from reports.web import BadQuery, parse_report_query, view_of
from web.app import CLOCK, api_error, require

ROWS_MAX = 2000


async def history(request: web.Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the query as parsed, the episodes), or BadQuery naming the parameter."""
    q = parse_report_query(request.query, request.app[CLOCK]())
    # the whole of the last day (a PBX clock may be ahead of ours)
    end = (datetime.fromisoformat(q["to"]) + timedelta(days=1)).timestamp()
    kinds = (AlertRaised, AlertCleared)
    events = [stored.event async for stored in request.app[STORE].iter_events(q["start"], end, kinds=kinds)]
    view = view_of(require(request, "supervisor"))  # a team's or an agent's alert: its team's supervisors only
    rows = [r for r in episodes(events) if (not q["queue"] or r["queue"] == q["queue"]) and seen_by(r, view.teams)]
    return q, rows[:ROWS_MAX]


async def history_json(request: web.Request) -> web.Response:
    require(request, "supervisor")
    try:
        q, rows = await history(request)
    except BadQuery as exc:
        return api_error(400, str(exc))
    return web.json_response({"from": q["from"], "to": q["to"], "alerts": rows})


async def history_page(request: web.Request) -> web.StreamResponse:
    require(request, "supervisor")
    try:
        q, rows = await history(request)
    except BadQuery as exc:
        return web.Response(status=400, text=f"400 Bad Request: {exc}")
    return aiohttp_jinja2.render_template(
        "alerts.html",
        request,
        {
            "query": q,
            "rows": rows,
            "when": lambda t: datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "",
        },
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/wallboard/alerts", history_page)
    app.router.add_get("/api/v1/alerts/history", history_json)
