"""Deleting a user (admin): `DELETE /api/v1/users/{login}`.

The user, every web session of theirs and every API token of theirs go in one store
transaction (`Store.delete_user`), so they are signed out on every server process at
their next request (sessions and tokens are read from the store each time; open
sockets close within `SOCKET_RECHECK`). What they did stays: events, interactions and
recordings keep their login, audit entries keep them as actor. Audited.

Refused: deleting yourself (409: another admin does it, so nobody locks themselves
out by a slip) and deleting the last enabled admin (409: nobody could administer;
checked again inside the store's transaction, so two admins deleting each other at
once leave one).
"""

from __future__ import annotations

import structlog
from aiohttp import web

from cti.server import STORE
from store.port import Conflict, NotFound
from web.admin import announce_user
from web.app import api_error, require
from web.audit import record

log = structlog.get_logger()


async def user_delete(request: web.Request) -> web.Response:
    me = require(request, "admin")
    login = request.match_info["login"]
    store = request.app[STORE]
    if login == me.login:
        return api_error(409, "login: you cannot delete yourself; another admin can")
    try:
        user = await store.get_user(login)
    except NotFound:
        return api_error(404, f"login: no user {login!r}")
    if user.role == "admin" and not user.disabled:
        admins = [u for u in await store.list_users("admin") if not u.disabled]
        if len(admins) <= 1:
            return api_error(409, f"login: {login!r} is the last admin; make another admin first")
    try:
        deleted = await store.delete_user(login)
    except Conflict as exc:  # another admin deleted the others meanwhile
        return api_error(409, str(exc))
    if not deleted:
        return api_error(404, f"login: no user {login!r}")
    log.info("user_deleted", login=login, by=me.login)
    await record(request, "user.deleted", login, role=user.role, team=user.team, display_name=user.display_name)
    await announce_user(request, me.login, login)  # the live loop logs an agent out and forgets them
    return web.json_response({"login": login, "deleted": True})


def setup(app: web.Application) -> None:
    app.router.add_delete("/api/v1/users/{login}", user_delete)
