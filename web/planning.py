"""`/planning` (supervisor, admin): the staffing plan from the store's call history
(wfm.plan: forecast vs actual, required vs scheduled, the schedule per agent), as the
self-contained page `hotline plan --html` writes.

Query: `to` (YYYY-MM-DD, default today: the history ends at that midnight), `days` of
history (default 28, at most 62), `holdout` (days at the end of the history to plan and
compare with what happened, default 7; 0 plans the `ahead` days after it), `target`
(service level, default 0.8), `threshold` (s, default 20), `shrinkage` (default 0.2).
No simulated check on this page (it would hold a worker for tens of seconds): run
`hotline plan --from-store --replications N` for it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from cti.server import STORE
from web.app import CLOCK, require

MAX_DAYS = 62


class BadPlanQuery(ValueError):
    pass


def parse_plan_query(query: Mapping[str, str], now: float) -> dict[str, Any]:
    """The page's parameters, or BadPlanQuery naming the field."""

    def num(name: str, default: float, lo: float, hi: float) -> float:
        raw = query.get(name)
        if raw is None or raw == "":
            return default
        try:
            v = float(raw)
        except ValueError:
            raise BadPlanQuery(f"{name}: {raw!r} is not a number") from None
        if not lo <= v <= hi:
            raise BadPlanQuery(f"{name}: must be between {lo:g} and {hi:g}, got {raw}")
        return v

    raw_to = query.get("to")
    try:
        to = date.fromisoformat(raw_to) if raw_to else datetime.fromtimestamp(now, UTC).date()
    except ValueError:
        raise BadPlanQuery(f"to: {raw_to!r} is not YYYY-MM-DD") from None
    days = int(num("days", 28, 7, MAX_DAYS))
    holdout = int(num("holdout", 7, 0, 14))
    return {
        "to": to,
        "days": days,
        "holdout": holdout,
        "ahead": int(num("ahead", 7, 1, 14)),
        "target": num("target", 0.8, 0.01, 0.99),
        "threshold": num("threshold", 20.0, 0.0, 600.0),
        "shrinkage": num("shrinkage", 0.2, 0.0, 0.9),
    }


async def planning_page(request: web.Request) -> web.Response:
    require(request, "supervisor")
    from wfm.forecast import ForecastError
    from wfm.history import records_from_events
    from wfm.plan import make_plan
    from wfm.plan_html import render_plan
    from wfm.schedule import ScheduleError

    try:
        q = parse_plan_query(request.query, request.app[CLOCK]())
    except BadPlanQuery as exc:
        return web.Response(status=400, text=str(exc))
    end = datetime.combine(q["to"], datetime.min.time(), UTC)
    start = end - timedelta(days=q["days"])
    events = [s.event async for s in request.app[STORE].iter_events(start.timestamp(), end.timestamp())]
    calls = records_from_events(events)
    if not calls:
        return web.Response(status=404, text=f"no call in the store between {start.date()} and {end.date()}")
    try:
        plan = await asyncio.to_thread(
            make_plan, calls, 1800, q["holdout"], q["ahead"], q["target"], q["threshold"], q["shrinkage"],
            replications=0,
        )  # fmt: skip
    except (ForecastError, ScheduleError, ValueError) as exc:
        return web.Response(status=422, text=str(exc))
    return web.Response(text=render_plan(plan), content_type="text/html")


def setup(app: web.Application) -> None:
    app.router.add_get("/planning", planning_page)
