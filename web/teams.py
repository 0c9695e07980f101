"""Teams: who is in each (agents) and who supervises it, and renaming one. A team is a
name on users (`team`, several separated by commas: a supervisor's are the teams they
see), so renaming rewrites it on every user who has it, each user announced like an
admin save (the live loop, wallboards and supervisors' scopes follow) and the whole
rename audited once.

GET /api/v1/teams (supervisor: their own teams; admin: all)
POST /api/v1/teams/{team}/rename {"to": NEW} (admin)
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from aiohttp import web

from cti.server import STORE
from store.models import User
from web.admin import announce_user
from web.app import api_error, json_body, require
from web.audit import record

TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def teams_of(user: User) -> list[str]:
    return [t.strip() for t in user.team.split(",") if t.strip()]


def team_table(users: list[User]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for u in users:
        for team in teams_of(u):
            row = table.setdefault(team, {"name": team, "agents": [], "supervisors": [], "disabled": []})
            if u.disabled:
                row["disabled"].append(u.login)
            elif u.role == "agent":
                row["agents"].append(u.login)
            else:
                row["supervisors"].append(u.login)
    return dict(sorted(table.items()))


async def teams_list(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    table = team_table(await request.app[STORE].list_users())
    if me.role != "admin":
        table = {k: v for k, v in table.items() if k in me.teams}
    return web.json_response({"teams": list(table.values())})


async def team_rename(request: web.Request) -> web.Response:
    me = require(request, "admin")
    team = request.match_info["team"]
    body = await json_body(request)
    new = body.get("to")
    if not isinstance(new, str) or not TEAM_NAME.match(new.strip()):
        return api_error(400, "to: the new name, 1-64 letters, digits, spaces, '_', '.', '-'")
    new = new.strip()
    store = request.app[STORE]
    users = await store.list_users()
    members = [u for u in users if team in teams_of(u)]
    if not members:
        return api_error(404, f"team: no user is in team {team!r}")
    if new != team and any(new in teams_of(u) for u in users):
        return api_error(409, f"to: team {new!r} exists already (move its users one by one)")
    for u in members:
        await store.put_user(replace(u, team=",".join(new if t == team else t for t in teams_of(u))))
        await announce_user(request, me.login, u.login)
    await record(request, "team.renamed", team, to=new, users=[u.login for u in members])
    return web.json_response({"team": new, "users": [u.login for u in members]})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/teams", teams_list)
    app.router.add_post("/api/v1/teams/{team}/rename", team_rename)
