"""Reports and the wallboard by channel (issue 18; the numbers: reports/channels.py).

- `GET /api/v1/reports/channels?from=YYYY-MM-DD&to=YYYY-MM-DD`: per channel, the
  contacts that arrived in those days (the report page's "Channels" table);
- `GET /api/v1/wallboard/channels`: per written channel now (the wallboard's tiles).

Supervisors and admins (queues are shared by every team).
"""

from __future__ import annotations

from aiohttp import web

from cti.server import STORE
from reports.channels import board, channel_report
from reports.web import BadQuery, parse_report_query
from web.app import CLOCK, api_error, require


async def channels_report(request: web.Request) -> web.Response:
    require(request, "supervisor")
    now = request.app[CLOCK]()
    try:
        q = parse_report_query({k: v for k, v in request.query.items() if k in ("from", "to")}, now)
    except BadQuery as exc:
        return api_error(400, str(exc))
    store = request.app[STORE]
    tasks = await store.tasks_between(q["start"], q["end"])
    calls = await store.interactions_between(q["start"], q["end"])
    body = channel_report(tasks, calls, q["start"], q["end"], now)
    return web.json_response({"from": q["from"], "to": q["to"], **body})


async def channels_board(request: web.Request) -> web.Response:
    require(request, "supervisor")
    now = request.app[CLOCK]()
    return web.json_response({"at": now, "channels": board(await request.app[STORE].open_tasks(), now)})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/reports/channels", channels_report)
    app.router.add_get("/api/v1/wallboard/channels", channels_board)


__all__ = ["setup"]
