"""Saved wallboards: a board is a name and the tiles it shows, in order, kept in the
store (settings section `wallboard_boards`, versioned: two supervisors saving at once
lose nothing) for every supervisor and wall display. The TV mode shows one
(`/wallboard/tv?board=NAME`) or takes turns between several
(`?boards=A,B&rotate=N`, `?boards=*`: all of them).

GET    /api/v1/wallboard/boards         the boards and the tiles there are (supervisor, admin)
PUT    /api/v1/wallboard/boards/{name}  {"tiles": [...]}: saved (made or replaced), audited
DELETE /api/v1/wallboard/boards/{name}  removed, audited
"""

from __future__ import annotations

import json
import re
from typing import Any

import structlog
from aiohttp import web

from cti.server import STORE
from store.models import SettingsVersion
from store.settings_update import update_settings
from web.app import CLOCK, api_error, json_body, require
from web.audit import record

log = structlog.get_logger()

SECTION = "wallboard_boards"
TILES = ("alerts", "totals", "outbound", "queues", "teams", "agents")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")
BOARDS_MAX = 50


async def saved_boards(store: Any) -> dict[str, list[str]]:
    """Name -> tiles, in the order they were first saved."""
    return _boards_of(await store.get_settings_version(SECTION))


def _boards_of(stored: SettingsVersion | None) -> dict[str, list[str]]:
    if stored is None:
        return {}
    try:
        return {str(b["name"]): [t for t in b["tiles"] if t in TILES] for b in json.loads(stored.body)["boards"]}
    except (ValueError, TypeError, KeyError):
        log.error("wallboard_boards_unreadable", version=stored.version)
        return {}


async def _save(store: Any, name: str, tiles: list[str] | None, author: str, at: float) -> dict[str, list[str]]:
    """Set (None: remove) one board, over the boards saved meanwhile by others."""
    boards: dict[str, list[str]] = {}

    def change(stored: SettingsVersion | None) -> str:
        nonlocal boards
        boards = _boards_of(stored)
        if tiles is None:
            boards.pop(name, None)
        else:
            boards[name] = tiles
        return json.dumps({"boards": [{"name": n, "tiles": t} for n, t in boards.items()]})

    comment = ("save " if tiles is not None else "remove ") + name
    await update_settings(store, SECTION, change, author=author, comment=comment, at=at)
    return boards


def _rows(boards: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [{"name": n, "tiles": t} for n, t in boards.items()]


async def boards_get(request: web.Request) -> web.Response:
    require(request, "supervisor")
    return web.json_response({"tiles": list(TILES), "boards": _rows(await saved_boards(request.app[STORE]))})


def _name(request: web.Request) -> str | web.Response:
    name = request.match_info["name"]
    if not NAME.match(name):
        return api_error(400, "name: 1-40 letters, digits, spaces, '_', '.', '-', starting with a letter or digit")
    return name


async def board_put(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    name = _name(request)
    if isinstance(name, web.Response):
        return name
    body = await json_body(request)
    tiles = body.get("tiles")
    if not isinstance(tiles, list) or not tiles or not all(isinstance(t, str) for t in tiles):
        return api_error(400, f"tiles: a list of one or more of {', '.join(TILES)}")
    unknown = [t for t in tiles if t not in TILES]
    if unknown:
        return api_error(400, f"tiles: unknown tile {unknown[0]!r} (there are {', '.join(TILES)})")
    if len(set(tiles)) != len(tiles):
        return api_error(400, "tiles: each tile at most once")
    store = request.app[STORE]
    if name not in await saved_boards(store) and len(await saved_boards(store)) >= BOARDS_MAX:
        return api_error(409, f"name: at most {BOARDS_MAX} boards (remove one first)")
    boards = await _save(store, name, list(tiles), me.login, request.app[CLOCK]())
    await record(request, "wallboard.board_saved", name, tiles=tiles)
    return web.json_response({"name": name, "tiles": tiles, "boards": _rows(boards)})


async def board_delete(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    name = _name(request)
    if isinstance(name, web.Response):
        return name
    store = request.app[STORE]
    if name not in await saved_boards(store):
        return api_error(404, f"name: no board {name!r}")
    boards = await _save(store, name, None, me.login, request.app[CLOCK]())
    await record(request, "wallboard.board_removed", name)
    return web.json_response({"boards": _rows(boards)})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/wallboard/boards", boards_get)
    app.router.add_put("/api/v1/wallboard/boards/{name}", board_put)
    app.router.add_delete("/api/v1/wallboard/boards/{name}", board_delete)
