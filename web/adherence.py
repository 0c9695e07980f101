"""The published schedule and adherence to it (issue 19; wfm/adherence.py does the math).

PUT /api/v1/schedule   {"shifts": [{"agent", "start", "end", "break": [start, end] | null}], "comment"?}
                       supervisor (their teams' agents) or admin; times are epoch seconds or
                       ISO 8601 with a zone; stored as a new version (settings section
                       "schedule"), audited; a bad shift is refused naming `shifts[i].field`
GET /api/v1/schedule   the published shifts (version 0: none yet)
GET /api/v1/adherence?date=YYYY-MM-DD&interval=1800
                       per agent (each interval and the day), per team and overall:
                       adherence, conformance, and who is scheduled on the phones or on a
                       break now; shown on the wallboard (web/static/adherence.js)
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from cti.server import STORE
from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged
from web.app import CLOCK, api_error, json_body, require
from web.audit import record
from web.security import Identity
from wfm.adherence import adherence, scheduled_now
from wfm.schedule import Shift

SECTION = "schedule"
INTERVALS = (900, 1800, 3600)
MAX_SHIFTS = 20_000
LEAD_IN_S = 86_400.0  # an agent logged in before the day began is on the phones at its start


class BadShift(ValueError):
    pass


def _time(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.timestamp()
    raise BadShift(f"{where}: epoch seconds or an ISO 8601 time with its zone, not {value!r}")


def parse_shifts(body: Any, known: set[str]) -> list[Shift]:
    """The shifts of a PUT body (BadShift naming the field of the first problem)."""
    shifts = body.get("shifts") if isinstance(body, dict) else None
    if not isinstance(shifts, list):
        raise BadShift("shifts: a list of {agent, start, end, break}")
    if len(shifts) > MAX_SHIFTS:
        raise BadShift(f"shifts: at most {MAX_SHIFTS}")
    out = []
    for i, s in enumerate(shifts):
        where = f"shifts[{i}]"
        if not isinstance(s, dict):
            raise BadShift(f"{where}: an object {{agent, start, end, break}}")
        unknown = sorted(set(s) - {"agent", "start", "end", "break"})
        if unknown:
            raise BadShift(f"{where}.{unknown[0]}: unknown field")
        agent = s.get("agent")
        if not isinstance(agent, str) or agent not in known:
            raise BadShift(f"{where}.agent: {agent!r} is not an agent you may schedule")
        start, end = _time(s.get("start"), f"{where}.start"), _time(s.get("end"), f"{where}.end")
        if not 0 < end - start <= 16 * 3600:
            raise BadShift(f"{where}.end: after the start, at most 16 hours later")
        brk = s.get("break")
        pause = None
        if brk is not None:
            if not isinstance(brk, list) or len(brk) != 2:
                raise BadShift(f"{where}.break: [start, end] or null")
            b0, b1 = _time(brk[0], f"{where}.break[0]"), _time(brk[1], f"{where}.break[1]")
            if not start <= b0 < b1 <= end:
                raise BadShift(f"{where}.break: inside the shift, its start before its end")
            pause = (b0, b1)
        out.append(Shift(agent, "", start, end, pause))
    return out


async def _schedulable(request: web.Request, me: Identity) -> tuple[set[str], dict[str, str]]:
    """The agents `me` may schedule and see, and every agent's team."""
    users = await request.app[STORE].list_users("agent")
    teams = {u.login: u.team for u in users}
    return {u.login for u in users if me.role == "admin" or me.may_see_agent(u.login, u.team)}, teams


async def published(request: web.Request) -> tuple[int, list[Shift]]:
    found = await request.app[STORE].get_settings_version(SECTION)
    if found is None:
        return 0, []
    rows = json.loads(found.body)
    return found.version, [
        Shift(r["agent"], "", r["start"], r["end"], (r["break"][0], r["break"][1]) if r["break"] else None)
        for r in rows
    ]


def _shift_json(s: Shift) -> dict[str, Any]:
    return {"agent": s.agent, "start": s.start, "end": s.end, "break": list(s.break_) if s.break_ else None}


async def schedule_put(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    body = await json_body(request)
    allowed, _ = await _schedulable(request, me)
    try:
        shifts = parse_shifts(body, allowed)
    except BadShift as exc:
        return api_error(400, str(exc))
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 500:
        return api_error(400, "comment: text, at most 500 characters")
    if me.role != "admin":  # a supervisor replaces their teams' shifts, not the others'
        _, kept = await published(request)
        shifts = [s for s in kept if s.agent not in allowed] + shifts
    text = json.dumps([_shift_json(s) for s in sorted(shifts, key=lambda s: (s.start, s.agent))])
    stored = await request.app[STORE].put_settings_version(
        SECTION, text, author=me.login, comment=comment, at=request.app[CLOCK]()
    )
    await record(request, "schedule.published", str(stored.version), shifts=len(shifts))
    return web.json_response({"version": stored.version, "shifts": len(shifts)})


async def schedule_get(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    allowed, _ = await _schedulable(request, me)
    version, shifts = await published(request)
    return web.json_response({"version": version, "shifts": [_shift_json(s) for s in shifts if s.agent in allowed]})


async def adherence_get(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    now = request.app[CLOCK]()
    q = request.query
    try:
        day = date.fromisoformat(q["date"]) if q.get("date") else datetime.fromtimestamp(now).date()
    except ValueError:
        return api_error(400, f"date: YYYY-MM-DD, not {q.get('date')!r}")
    try:
        interval = int(q.get("interval", "1800"))
    except ValueError:
        interval = 0
    if interval not in INTERVALS:
        return api_error(400, f"interval: one of {', '.join(map(str, INTERVALS))}")
    start = time.mktime(day.timetuple())
    end = time.mktime((day + timedelta(days=1)).timetuple())
    allowed, teams = await _schedulable(request, me)
    _, shifts = await published(request)
    shifts = [s for s in shifts if s.agent in allowed and s.end > start and s.start < end]
    kinds = (AgentLoggedIn, AgentStateChanged, AgentLoggedOut)
    events = [
        s.event
        async for s in request.app[STORE].iter_events(start - LEAD_IN_S, min(end, now), kinds=kinds)
        if getattr(s.event, "agent_id", "") in allowed
    ]
    report = adherence(shifts, events, start, end, interval, now, teams)
    report["date"] = day.isoformat()
    report["now"] = scheduled_now(shifts, now)
    return web.json_response(report)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/schedule", schedule_get)
    app.router.add_put("/api/v1/schedule", schedule_put)
    app.router.add_get("/api/v1/adherence", adherence_get)
