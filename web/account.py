"""A user's own account and an admin's hold on others' sessions:

- `POST /api/v1/me/password` {current, new}: a session user changes their password;
  every other session of theirs ends (this one stays).
- `DELETE /api/v1/users/{login}/sessions`: "sign out everywhere" (an admin for
  anyone, a user for themselves): every session of the user ends at its next request,
  on every server process.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import structlog
from aiohttp import web
from aiohttp_session import get_session

from cti.server import STORE
from web.app import api_error, json_body, require, self_or_admin
from web.audit import record
from web.security import hash_password, verify_password
from web.sessions import session_id

log = structlog.get_logger()

PASSWORD_MIN = 8


async def change_password(request: web.Request) -> web.Response:
    me = require(request)
    if me.via != "session":
        return api_error(403, "an API token cannot change a password; log in")
    body = await json_body(request)
    current, new = body.get("current"), body.get("new")
    if not isinstance(current, str) or not current:
        return api_error(400, "current: the present password")
    if not isinstance(new, str) or len(new) < PASSWORD_MIN:
        return api_error(400, f"new: at least {PASSWORD_MIN} characters")
    store = request.app[STORE]
    user = await store.get_user(me.login)
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, verify_password, user.password_hash, current):
        return api_error(403, "current: wrong password")
    await store.put_user(replace(user, password_hash=await loop.run_in_executor(None, hash_password, new)))
    secret = (await get_session(request)).get("sid", "")
    gone = await store.delete_sessions(me.login, keep=session_id(str(secret)))
    log.info("password_changed", login=me.login, other_sessions_revoked=gone)
    await record(request, "user.password_changed", me.login, other_sessions_revoked=gone)
    return web.json_response({"changed": True, "other_sessions_revoked": gone})


async def revoke_sessions(request: web.Request) -> web.Response:
    me = require(request)
    login = request.match_info["login"]
    refused = await self_or_admin(request, me, login, "signs out")
    if refused is not None:
        return refused
    gone = await request.app[STORE].delete_sessions(login)
    log.info("user_sessions_revoked", login=login, by=me.login, sessions=gone)
    await record(request, "user.signed_out_everywhere", login, sessions=gone)
    return web.json_response({"login": login, "revoked": gone})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/me/password", change_password)
    app.router.add_delete("/api/v1/users/{login}/sessions", revoke_sessions)
