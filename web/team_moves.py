"""Moving an agent to another team for the day, over the API (the rule and who reads
it: agents/team_moves.py). A supervisor of both teams (the agent's team today and the
new one) or an admin moves; the move is audited, announced like a saved user (the live
loop's router, the wallboards and the supervisors' scopes follow at once) and ends at
local midnight by itself, or earlier with DELETE.

GET    /api/v1/team-moves                  today's moves (a supervisor: those touching their teams)
PUT    /api/v1/agents/{agent_id}/team-move {"team": NAME}: in that team until midnight
DELETE /api/v1/agents/{agent_id}/team-move back in their own team now
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents.team_moves import Move, day_of, end_of_day, moves_today, save_move
from cti.server import STORE
from store.models import User
from store.port import NotFound
from web.admin import announce_user
from web.app import CLOCK, api_error, json_body, require
from web.audit import record
from web.security import Identity
from web.teams import teams_of


def _names(team: str) -> set[str]:
    return {t.strip() for t in team.split(",") if t.strip()}


def _row(move: Move, now: float) -> dict[str, Any]:
    return {
        "agent": move.agent,
        "team": move.team,
        "home": move.home,
        "by": move.by,
        "at": move.at,
        "day": day_of(now),
        "until": end_of_day(now),
    }


async def moves_list(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    now = request.app[CLOCK]()
    moves = await moves_today(request.app[STORE], now)
    shown = [m for m in moves.values() if me.role == "admin" or {m.team, m.home} & me.teams]
    return web.json_response({"day": day_of(now), "until": end_of_day(now), "moves": [_row(m, now) for m in shown]})


async def _agent(request: web.Request, me: Identity) -> tuple[User, str] | web.Response:
    """The agent and their team today, or the refusal."""
    login = request.match_info["agent_id"]
    store = request.app[STORE]
    try:
        user = await store.get_user(login)
    except NotFound:
        return api_error(404, f"agent_id: no agent {login!r}")
    if user.role != "agent":
        return api_error(400, f"agent_id: {login!r} is a {user.role}, not an agent")
    move = (await moves_today(store, request.app[CLOCK]())).get(login)
    today = move.team if move else user.team
    if me.role != "admin" and not _names(today) <= me.teams:
        return api_error(403, f"agent_id: {login!r} is in team {today!r} today, not one of yours")
    return user, today


async def move_put(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    found = await _agent(request, me)
    if isinstance(found, web.Response):
        return found
    user, today = found
    body = await json_body(request)
    team = body.get("team")
    if not isinstance(team, str) or not team.strip():
        return api_error(400, "team: the team to move the agent to for the day")
    team = team.strip()
    store = request.app[STORE]
    known = {t for u in await store.list_users() for t in teams_of(u)}
    if team not in known:
        return api_error(400, f"team: no team {team!r}")
    if me.role != "admin" and team not in me.teams:
        return api_error(403, f"team: {team!r} is not one of your teams")
    now = request.app[CLOCK]()
    if team == user.team:  # back home: the move ends
        return await _end(request, me, user, today, now)
    move = Move(user.login, team, user.team, me.login, now)
    if team != today:
        await save_move(store, user.login, move, me.login, now)
        await announce_user(request, me.login, user.login)
        await record(request, "agent.team_moved", user.login, team=team, was=today, home=user.team, day=day_of(now))
    return web.json_response(_row(move, now))


async def move_delete(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    found = await _agent(request, me)
    if isinstance(found, web.Response):
        return found
    user, today = found
    return await _end(request, me, user, today, request.app[CLOCK]())


async def _end(request: web.Request, me: Identity, user: User, today: str, now: float) -> web.Response:
    if today != user.team:
        if me.role != "admin" and not _names(user.team) <= me.teams:
            return api_error(403, f"agent_id: their own team {user.team!r} is not one of yours")
        await save_move(request.app[STORE], user.login, None, me.login, now)
        await announce_user(request, me.login, user.login)
        await record(request, "agent.team_move_ended", user.login, team=user.team, was=today, day=day_of(now))
    return web.json_response({"agent": user.login, "team": user.team, "home": user.team, "day": day_of(now)})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/team-moves", moves_list)
    app.router.add_put("/api/v1/agents/{agent_id}/team-move", move_put)
    app.router.add_delete("/api/v1/agents/{agent_id}/team-move", move_delete)
