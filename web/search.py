"""Read APIs to find customers and interactions, paged and filtered: customers for
anyone signed in (the agent desktop's search), interactions for supervisors and admins
(the CRM side of reports and call-backs). Bad parameters get a 400 naming them.

GET /api/v1/customers?q=TEXT          name, company, email, account number (any case)
                                      or 4+ digits of a number; by name
GET /api/v1/interactions?customer_id=&agent_id=&queue=&direction=&outcome=&disposition=
                        &from=YYYY-MM-DD&to=YYYY-MM-DD   latest first
Both take limit (1-200, default 50) and offset; the answer says `next_offset` (null on
the last page). A supervisor filtering by agent may name only their teams' agents.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from agents.hub import customer_card, interaction_row
from cti.server import STORE
from store.models import InteractionFilter
from store.port import NotFound
from web.app import api_error, require

LIMIT_MAX = 200
OFFSET_MAX = 1_000_000
TEXT_MAX = 200


class BadParameter(ValueError):
    """A query parameter's problem, `name: reason`."""


def _int(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"{name}: must be an integer {lo}-{hi}, not {raw!r}") from None
    if not lo <= value <= hi:
        raise BadParameter(f"{name}: must be {lo}-{hi}, not {value}")
    return value


def _day(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(f"{name}: must be a date YYYY-MM-DD, not {raw!r}") from None


def _text(query: Mapping[str, str], name: str) -> str | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > TEXT_MAX:
        raise BadParameter(f"{name}: at most {TEXT_MAX} characters")
    return raw


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    return _int(query, "limit", 50, 1, LIMIT_MAX), _int(query, "offset", 0, 0, OFFSET_MAX)


def interaction_filter(query: Mapping[str, str]) -> InteractionFilter:
    known = {*InteractionFilter.EQUAL, "from", "to", "limit", "offset"}
    for name in query:
        if name not in known:
            raise BadParameter(f"{name}: unknown filter (one of {', '.join(sorted(known))})")
    first, last = _day(query, "from"), _day(query, "to")
    if first and last and last < first:
        raise BadParameter("to: must not be before from")
    return InteractionFilter(
        **{name: _text(query, name) for name in InteractionFilter.EQUAL},
        since=time.mktime(first.timetuple()) if first else None,
        until=time.mktime((last + timedelta(days=1)).timetuple()) if last else None,
    )


def page_of(items: list[Any], limit: int, offset: int, key: str) -> dict[str, Any]:
    """`items` fetched with limit + 1: the extra one only says a next page exists."""
    return {
        key: items[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(items) > limit else None,
    }


async def customers_search(request: web.Request) -> web.Response:
    require(request, "agent")  # (the desktop's "Find a customer"; agents read records anyway)
    try:
        limit, offset = paging(request.query)
        text = _text(request.query, "q") or ""
    except BadParameter as exc:
        return api_error(400, str(exc))
    found = await request.app[STORE].search_customers(text, limit + 1, offset)
    return web.json_response(page_of([customer_card(c, "store") for c in found], limit, offset, "customers"))


async def interactions_search(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    try:
        limit, offset = paging(request.query)
        where = interaction_filter(request.query)
    except BadParameter as exc:
        return api_error(400, str(exc))
    if where.agent_id and me.role != "admin":
        try:
            team: str | None = (await request.app[STORE].get_user(where.agent_id)).team
        except NotFound:
            team = None
        if not me.may_see_agent(where.agent_id, team):
            return api_error(403, f"agent_id: {where.agent_id!r} is not an agent of your teams")
    found = await request.app[STORE].search_interactions(where, limit + 1, offset)
    rows = [{**interaction_row(i), "customer_id": i.customer_id, "caller": i.caller} for i in found]
    return web.json_response(page_of(rows, limit, offset, "interactions"))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/customers", customers_search)
    app.router.add_get("/api/v1/interactions", interactions_search)
