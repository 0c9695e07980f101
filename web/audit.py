"""The audit log of admin actions: who changed users, settings, routing, tokens,
customers and do-not-call lists, when and from where (`store.port.AuditLog`).

`record` is called by the handlers after the change is made; `GET /api/v1/audit`
(admin) reads it, latest first (`?limit=`, `?before=` a seq for the next page,
`?actor=`, `?action=` an action or its prefix such as `settings`).
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from cti.server import STORE
from store.models import AuditEntry
from web.app import CLOCK, current, require

log = structlog.get_logger()

LIMIT_MAX = 500


async def record(request: web.Request, action: str, target: str = "", **detail: Any) -> None:
    """Keep one entry; a store failure is logged with the whole entry (the change is
    made already: the log line is its record then)."""
    me = current(request)
    entry = AuditEntry(request.app[CLOCK](), me.login if me else "", action, target, detail, request.remote or "")
    try:
        await request.app[STORE].add_audit(entry)
    except Exception as exc:  # noqa: BLE001 - any store failure: the log keeps the entry
        log.error(
            "audit_not_written",
            actor=entry.actor,
            action=action,
            target=target,
            detail=detail,
            address=entry.address,
            error=type(exc).__name__,
        )


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise web.HTTPBadRequest(
            text=f'{{"error": "{name}: an integer {low}-{high}"}}', content_type="application/json"
        )
    return value


async def audit_list(request: web.Request) -> web.Response:
    require(request, "admin")
    limit = _int_param(request, "limit", 100, 1, LIMIT_MAX)
    before = _int_param(request, "before", 0, 0, 2**62)
    entries = await request.app[STORE].audit_entries(
        limit=limit, before_seq=before, actor=request.query.get("actor"), action=request.query.get("action")
    )
    return web.json_response(
        {
            "entries": [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "detail": dict(e.detail),
                    "address": e.address,
                }
                for e in entries
            ],
            "next_before": entries[-1].seq if len(entries) == limit else None,
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/audit", audit_list)
