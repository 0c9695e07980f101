"""The wallboard's TV mode (`/wallboard/tv`): full screen, large type, no navigation and
no controls, updating live over its own websocket, for a display on the wall.

Who may watch: a signed-in supervisor or admin (to try it out), or a wall display
holding a read-only API token (scopes exactly `read`, of a supervisor or admin: the
board shows that user's teams). A wall display has no keyboard and nobody to sign in
again: a web session ends after `session_max_s` (12 h) and carries the role's full
rights (monitoring, force logout), which a screen in a corridor must not hold. A
read-only token cannot change anything, expires, is listed and revoked by an admin at
once (the socket closes within `SOCKET_RECHECK`), and stays out of URLs: the kiosk's
start page `/wallboard/tv?token=hl_...` trades it for an HttpOnly, SameSite=Strict
cookie scoped to `/wallboard/tv` that lives as long as the token, and redirects to the
same URL without it (so it is in no history, log line or Referer after that).

Query: `tiles=alerts,totals,outbound,queues,teams,agents` (those shown, in that order)
and `rotate=N` (seconds: queues, teams and agents take turns on screen instead of
sharing it); or `board=NAME`, a saved board's tiles (reports/boards.py); or
`boards=A,B` (`*`: every saved board), the boards taking turns every `rotate` seconds
(15 by default); `sound=1`: a short tone when an alert appears (off unless chosen; a
kiosk browser must allow audio without a click, e.g. chromium
--autoplay-policy=no-user-gesture-required).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import structlog
from aiohttp import web

from cti.server import STORE
from reports.boards import TILES, saved_boards
from reports.web import board_socket
from store.models import ApiToken, User
from web.app import CLOCK, current, still_signed_in, token_user
from web.security import Identity

log = structlog.get_logger()

COOKIE = "hotline_tv"
PATH = "/wallboard/tv"
ROTATE_MAX_S = 3600
BOARD_TURN_S = 15  # boards taking turns, when `rotate` does not say


def _fits(token: ApiToken | None, user: User | None) -> str:
    """Why this token cannot run a wall display, or ""."""
    if token is None or user is None:
        return ""  # (the lookup said why)
    if tuple(token.scopes) != ("read",):
        return "a TV takes a read-only token (scopes: read), not one that can change things"
    if user.role not in ("supervisor", "admin"):
        return f"the token's user {user.login!r} is not a supervisor or an admin"
    return ""


async def _from_token(request: web.Request, secret: str) -> tuple[Identity | None, str]:
    token, user, why = await token_user(request.app, secret)
    why = why or _fits(token, user)
    if why or user is None:
        return None, why or "invalid token"
    return Identity.of(user, via="token"), ""


async def tv_identity(request: web.Request) -> tuple[Identity | None, str]:
    """The watcher: a signed-in supervisor or admin, else the TV cookie's token."""
    me = current(request)
    if me is not None and me.at_least("supervisor"):
        return me, ""
    secret = request.cookies.get(COOKIE, "")
    if not secret:
        return None, "open this page with ?token= a read-only API token of a supervisor (or sign in)"
    return await _from_token(request, secret)


def _refused(why: str) -> web.Response:
    return web.Response(status=401, text=f"401 Unauthorized: {why}", content_type="text/plain")


async def tv_page(request: web.Request) -> web.StreamResponse:
    query = {k: v for k, v in request.query.items() if k in ("tiles", "rotate", "board", "boards", "sound")}
    secret = request.query.get("token", "")
    if secret:  # the kiosk's start URL: keep the token in a cookie, go on without it in the URL
        me, why = await _from_token(request, secret)
        if me is None:
            log.warning("tv_token_refused", reason=why)
            return _refused(why)
        token, _, _ = await token_user(request.app, secret)
        lifetime = (token.expires_at - request.app[CLOCK]()) if token and token.expires_at else 365 * 86400.0
        answer = web.HTTPFound(PATH + (f"?{urlencode(query)}" if query else ""))
        answer.set_cookie(
            COOKIE,
            secret,
            max_age=max(1, int(lifetime)),
            path=PATH,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
        log.info("tv_token_accepted", login=me.login)
        raise answer
    me, why = await tv_identity(request)
    if me is None:
        return _refused(why)
    try:
        rotate = min(max(int(request.query.get("rotate", "0")), 0), ROTATE_MAX_S)
    except ValueError:
        rotate = 0
    boards = await _boards(request)
    if isinstance(boards, web.Response):
        return boards
    if len(boards) > 1 and not rotate:
        rotate = BOARD_TURN_S
    tiles = [t for t in TILES if any(t in b["tiles"] for b in boards)]
    sound = request.query.get("sound", "0") == "1"  # the alerts' tone: off unless chosen
    context = {"tiles": tiles, "boards": boards, "rotate": rotate, "viewer": me, "sound": sound}
    return aiohttp_jinja2.render_template("tv.html", request, context)


async def _boards(request: web.Request) -> list[dict[str, Any]] | web.Response:
    """The boards to show: `board` / `boards` (saved), else one of the `tiles` asked."""
    names = request.query.get("boards", "") or request.query.get("board", "")
    if not names:
        tiles = [t for t in request.query.get("tiles", ",".join(TILES)).split(",") if t in TILES] or list(TILES)
        return [{"name": "", "tiles": tiles}]
    saved = await saved_boards(request.app[STORE])
    wanted = list(saved) if names.strip() == "*" else [n.strip() for n in names.split(",") if n.strip()]
    missing = [n for n in wanted if n not in saved]
    if missing or not wanted:
        text = f"404 Not Found: board: no saved board {missing[0]!r}" if missing else "404 Not Found: no saved board"
        return web.Response(status=404, text=text, content_type="text/plain")
    return [{"name": n, "tiles": saved[n]} for n in wanted]


async def _still_watching(request: web.Request, me: Identity) -> bool:
    if current(request) is not None:  # signed in (or a Bearer token): as every socket is checked
        return await still_signed_in(request)
    again, _ = await _from_token(request, request.cookies.get(COOKIE, ""))
    return again is not None and again.role == me.role


async def tv_ws(request: web.Request) -> web.StreamResponse:
    me, why = await tv_identity(request)
    if me is None:
        return _refused(why)
    return await board_socket(request, me, lambda: _still_watching(request, me))


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, tv_page)
    app.router.add_get(PATH + "/ws", tv_ws)
