"""Abandoned calls to call back: the report's list and its one action.

`GET /api/v1/reports/abandoned?from=&to=&queue=&limit=&offset=` (supervisor, admin)
lists the calls whose caller hung up while waiting (interactions with outcome
`abandoned`), latest first, each with where it stands: `to_call_back`, `answered_later`
(the same number got through afterwards) or `callback_<state>` (a call-back was asked
for: pending, dialing, done, failed, cancelled).

`POST /api/v1/reports/abandoned/{call_id}/callback` (and the report page's button)
writes a call-back promise, due now, to the caller's number in the call's queue
(`abandoned-<call id>`, kind `abandoned`); the live loop's scheduler picks it up at its
next poll (cti/live_callbacks.py) and dials it like any other. Audited; 409 when one
was asked for already, 404/400 naming `call_id` for an unknown or not abandoned call.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import structlog
from aiohttp import web

from cti.server import STORE
from store.models import Callback, Interaction, InteractionFilter
from store.port import NotFound
from web.app import CLOCK, api_error, require
from web.audit import record
from web.search import BadParameter, interaction_filter, page_of, paging
from webhooks.outbox import publish_callback

log = structlog.get_logger()

ANSWERED_SCAN = 10_000  # answered calls read to tell who got through later


def callback_id(call_id: str) -> str:
    return f"abandoned-{call_id}"


async def abandoned_rows(store: Any, where: InteractionFilter, limit: int, offset: int) -> list[dict[str, Any]]:
    """The abandoned calls `where` selects (limit + 1 of them: the extra says a next page
    exists), each with its status."""
    calls: list[Interaction] = await store.search_interactions(replace(where, outcome="abandoned"), limit + 1, offset)
    if not calls:
        return []
    since = min(i.started_at for i in calls)
    answered = await store.search_interactions(InteractionFilter(outcome="answered", since=since), ANSWERED_SCAN, 0)
    got_through: dict[str, float] = {}
    for i in answered:
        if i.caller:
            got_through[i.caller] = max(got_through.get(i.caller, 0.0), i.started_at)
    rows = []
    for i in calls:
        status = "to_call_back"
        try:
            status = "callback_" + (await store.get_callback(callback_id(i.id))).state
        except NotFound:
            if got_through.get(i.caller, 0.0) > i.started_at:
                status = "answered_later"
        rows.append(
            {
                "call_id": i.id,
                "started_at": i.started_at,
                "queue": i.queue,
                "caller": i.caller,
                "customer_id": i.customer_id,
                "wait_s": None if i.ended_at is None else round(i.ended_at - i.started_at, 1),
                "status": status,
            }
        )
    return rows


async def abandoned_list(request: web.Request) -> web.Response:
    require(request, "supervisor")
    try:
        limit, offset = paging(request.query)
        where = interaction_filter({k: v for k, v in request.query.items() if k != "outcome"})
    except BadParameter as exc:
        return api_error(400, str(exc))
    rows = await abandoned_rows(request.app[STORE], where, limit, offset)
    return web.json_response(page_of(rows, limit, offset, "calls"))


async def ask_callback(request: web.Request, call_id: str) -> tuple[int, str]:
    """Write the promise; (HTTP status, message)."""
    me = require(request, "supervisor")
    store = request.app[STORE]
    try:
        call = await store.get_interaction(call_id)
    except NotFound:
        return 404, f"call_id: no call {call_id!r}"
    if call.outcome != "abandoned":
        return 400, f"call_id: call {call_id!r} was not abandoned ({call.outcome or 'no outcome'})"
    if not call.caller:
        return 400, f"call_id: call {call_id!r} has no caller number to call back"
    try:
        found = await store.get_callback(callback_id(call_id))
        return 409, f"call_id: a call-back for {call_id!r} was asked for already ({found.state})"
    except NotFound:
        pass
    now = request.app[CLOCK]()
    promise = Callback(
        id=callback_id(call_id),
        due_at=now,
        call_id=call_id,
        customer_id=call.customer_id,
        number=call.caller,
        queue=call.queue,
        created_at=now,
        kind="abandoned",
        notes=f"abandoned call {call_id}, call-back asked by {me.login}",
    )
    await store.put_callback(promise)
    await publish_callback(store, promise)
    log.info("abandoned_callback_asked", call_id=call_id, by=me.login)
    await record(request, "callback.abandoned", call_id, number=call.caller, queue=call.queue)
    return 201, f"call-back to {call.caller} queued ({call.queue or 'default queue'})"


async def callback_api(request: web.Request) -> web.Response:
    status, message = await ask_callback(request, request.match_info["call_id"])
    if status >= 400:
        return api_error(status, message)
    return web.json_response(
        {"callback_id": callback_id(request.match_info["call_id"]), "message": message}, status=201
    )


async def callback_form(request: web.Request) -> web.StreamResponse:
    """The report page's button: back to the report, saying what happened."""
    status, message = await ask_callback(request, request.match_info["call_id"])
    if status >= 400:
        refusal = {404: web.HTTPNotFound, 409: web.HTTPConflict}.get(status, web.HTTPBadRequest)
        raise refusal(text=message)
    back = str((await request.post()).get("back", "/reports"))
    raise web.HTTPSeeOther((back if back.startswith("/reports") else "/reports") + "#abandoned")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/reports/abandoned", abandoned_list)
    app.router.add_post("/api/v1/reports/abandoned/{call_id}/callback", callback_api)
    app.router.add_post("/reports/abandoned/{call_id}/callback", callback_form)
