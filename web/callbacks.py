"""Call-back promises over the REST API:

- `GET /api/v1/callbacks[?state=S][&queue=Q][&agent=A][&due_from=T][&due_to=T][&limit=L]`:
  the promises, by due time (epoch seconds, `due_from <= due_at < due_to`);
- `POST /api/v1/callbacks/{id}/cancel` or `DELETE /api/v1/callbacks/{id}`: cancel one
  that is waiting to be dialled (due, not due yet, or waiting for its next attempt).

An agent sees and cancels their own (the ones they promised: `agent_id`); supervisors
and admins all of them. A cancellation is final in the store (`Callbacks.cancel_callback`,
and the live loop's later steps on that promise are not written): it is never dialled
again, whatever restarts; one queued already leaves the queue at the live loop's next
poll (`[pbx] callback_poll_s`). One being dialled right now cannot be cancelled (409).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web

from cti.server import STORE
from store.models import CALLBACK_CLOSED, CALLBACK_OPEN, Callback, CallbackQuery
from store.port import NotFound
from web.app import api_error, forbidden, require
from web.security import Identity

log = structlog.get_logger()

STATES = (*CALLBACK_OPEN, *CALLBACK_CLOSED)
FILTERS = ("state", "queue", "agent", "due_from", "due_to", "limit")
MAX_LIMIT = 10_000


class BadQuery(ValueError):
    """A query parameter that cannot be read; its message names it."""


def callback_json(c: Callback) -> dict[str, Any]:
    return {
        "id": c.id,
        "state": c.state,
        "kind": c.kind,
        "due_at": c.due_at,
        "number": c.number,
        "queue": c.queue,
        "agent_id": c.agent_id,
        "customer_id": c.customer_id,
        "call_id": c.call_id,
        "attempts": c.attempts,
        "outcome": c.outcome,
        "notes": c.notes,
        "created_at": c.created_at,
    }


def _seconds(query: Mapping[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadQuery(f"{name}: must be a time in epoch seconds, not {raw!r}") from None
    if not math.isfinite(value):
        raise BadQuery(f"{name}: must be a finite number of epoch seconds")
    return value


def _filters(request: web.Request, me: Identity) -> CallbackQuery:
    """The store's filters from the query; an agent's are their own promises."""
    query = request.query
    unknown = sorted(set(query) - set(FILTERS))
    if unknown:
        raise BadQuery(f"{unknown[0]}: unknown parameter (known: {', '.join(FILTERS)})")
    state = query.get("state")
    if state is not None and state not in STATES:
        raise BadQuery(f"state: must be one of {', '.join(STATES)}, not {state!r}")
    agent = query.get("agent")
    if not me.at_least("supervisor"):
        if agent is not None and agent != me.login:
            raise forbidden(request, "agent: an agent sees only their own call-backs")
        agent = me.login
    due_from, due_to = _seconds(query, "due_from"), _seconds(query, "due_to")
    if due_from is not None and due_to is not None and due_to < due_from:
        raise BadQuery("due_to: must not be before due_from")
    raw_limit = query.get("limit", "1000")
    try:
        limit = int(raw_limit)
    except ValueError:
        raise BadQuery(f"limit: must be an integer, not {raw_limit!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit: must be 1-{MAX_LIMIT}")
    return CallbackQuery(state, query.get("queue"), agent, due_from, due_to, limit)


async def callbacks_list(request: web.Request) -> web.Response:
    me = require(request, "agent")
    try:
        filters = _filters(request, me)
    except BadQuery as exc:
        return api_error(400, str(exc))
    rows = await request.app[STORE].list_callbacks(filters)
    return web.json_response({"callbacks": [callback_json(c) for c in rows]})


async def callback_cancel(request: web.Request) -> web.Response:
    me = require(request, "agent")
    callback_id = request.match_info["callback_id"]
    store = request.app[STORE]
    try:
        row = await store.get_callback(callback_id)
    except NotFound:
        return api_error(404, f"id: no call-back {callback_id!r}")
    if not me.at_least("supervisor") and row.agent_id != me.login:
        return api_error(403, f"id: call-back {callback_id!r} is not yours to cancel")
    if row.state == "pending":
        row = await store.cancel_callback(callback_id, by=me.login)
        if row.state == "cancelled":
            log.info("callback_cancelled", callback_id=callback_id, by=me.login, attempts=row.attempts)
            return web.json_response({"callback": callback_json(row), "cancelled": True})
    if row.state == "cancelled":
        return web.json_response({"callback": callback_json(row), "cancelled": True, "repeated": True})
    if row.state == "dialing":
        message = f"id: call-back {callback_id!r} is being dialled now (attempt {row.attempts}); it cannot be cancelled"
    else:
        message = f"id: call-back {callback_id!r} is {row.state} already ({row.outcome or 'closed'})"
    return api_error(409, message, callback=callback_json(row))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/callbacks", callbacks_list)
    app.router.add_post("/api/v1/callbacks/{callback_id}/cancel", callback_cancel)
    app.router.add_delete("/api/v1/callbacks/{callback_id}", callback_cancel)
