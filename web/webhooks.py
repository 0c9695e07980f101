"""Webhook subscriptions and their delivery log (admin), and the worker that sends them
(webhooks/outbox.py, a web task of every process; one at a time works).

GET    /api/v1/webhooks                 the subscriptions and the events one may choose
POST   /api/v1/webhooks                 {"url", "events": [...], "secret"?} -> 201 (audited);
                                        without a secret one is made and shown once
DELETE /api/v1/webhooks/{id}            (audited); its pending deliveries are failed
GET    /api/v1/webhooks/deliveries      ?status=pending|delivered|failed&subscription=ID&limit=N
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

from aiohttp import web

from cti.server import CONFIG, STORE
from reports.web import WALLBOARD
from reports.web_live import View
from store.port import NotFound
from store.webhooks import DELIVERY_STATES, WebhookDelivery, WebhookSubscription
from web.app import CLOCK, WEB_TASKS, api_error, json_body, require
from web.audit import record
from webhooks.events import WEBHOOK_EVENTS
from webhooks.outbox import WebhookWorker
from webhooks.targets import RefusedTarget, check_url, networks

WORKER = web.AppKey("webhook_worker", WebhookWorker)
MIN_SECRET = 16


def _sub_json(s: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": s.id,
        "url": s.url,
        "events": list(s.events),
        "enabled": s.enabled,
        "created_by": s.created_by,
        "created_at": s.created_at,
    }


def _delivery_json(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "subscription_id": d.subscription_id,
        "event": d.event,
        "created_at": d.created_at,
        "status": d.status,
        "attempts": d.attempts,
        "next_at": d.next_at if d.status == "pending" else None,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "done_at": d.done_at,
    }


async def webhooks_list(request: web.Request) -> web.Response:
    require(request, "admin")
    subs = await request.app[STORE].list_webhooks()
    return web.json_response({"webhooks": [_sub_json(s) for s in subs], "events": WEBHOOK_EVENTS})


def _checked(request: web.Request, body: dict[str, Any]) -> tuple[str, tuple[str, ...], str] | web.Response:
    url, events, secret = body.get("url"), body.get("events"), body.get("secret")
    if not isinstance(url, str) or not url.strip():
        return api_error(400, "url: the receiver's http:// or https:// URL")
    try:
        url = check_url(url.strip(), networks(request.app[CONFIG].webhooks.allow_private))
    except RefusedTarget as exc:
        return api_error(400, str(exc))
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        return api_error(400, f"events: a list of one or more of {', '.join(WEBHOOK_EVENTS)}")
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if unknown:
        return api_error(400, f"events: unknown {', '.join(unknown)} (one of {', '.join(WEBHOOK_EVENTS)})")
    if secret is None or secret == "":
        secret = secrets.token_urlsafe(24)
    elif not isinstance(secret, str) or len(secret) < MIN_SECRET or len(secret) > 200:
        return api_error(400, f"secret: {MIN_SECRET} to 200 characters (or leave it out: one is made)")
    return url, tuple(sorted(set(events))), secret


async def webhook_create(request: web.Request) -> web.Response:
    me = require(request, "admin")
    checked = _checked(request, await json_body(request))
    if isinstance(checked, web.Response):
        return checked
    url, events, secret = checked
    sub = WebhookSubscription(
        id=uuid.uuid4().hex[:12],
        url=url,
        events=events,
        secret=secret,
        created_by=me.login,
        created_at=request.app[CLOCK](),
    )
    await request.app[STORE].put_webhook(sub)
    await record(request, "webhook.created", sub.id, url=url, events=list(events))
    return web.json_response({**_sub_json(sub), "secret": secret}, status=201)


async def webhook_delete(request: web.Request) -> web.Response:
    require(request, "admin")
    sub_id = request.match_info["webhook_id"]
    if not await request.app[STORE].delete_webhook(sub_id):
        return api_error(404, f"webhook_id: no webhook {sub_id!r}")
    await record(request, "webhook.deleted", sub_id)
    return web.json_response({"deleted": sub_id})


async def deliveries_list(request: web.Request) -> web.Response:
    require(request, "admin")
    q = request.query
    status = q.get("status") or None
    if status is not None and status not in DELIVERY_STATES:
        return api_error(400, f"status: one of {', '.join(DELIVERY_STATES)}")
    try:
        limit = int(q.get("limit", "100"))
        if not 1 <= limit <= 1000:
            raise ValueError
    except ValueError:
        return api_error(400, "limit: a whole number from 1 to 1000")
    sub_id = q.get("subscription") or None
    if sub_id is not None:
        try:
            await request.app[STORE].get_webhook(sub_id)
        except NotFound:
            return api_error(404, f"subscription: no webhook {sub_id!r}")
    rows = await request.app[STORE].list_webhook_deliveries(subscription_id=sub_id, status=status, limit=limit)
    return web.json_response({"deliveries": [_delivery_json(d) for d in rows]})


def setup(app: web.Application) -> None:
    async def start_worker(app: web.Application) -> None:
        """(A web task: cancelled with the others at shutdown, web.app.setup.)"""

        def alerts() -> list[dict[str, Any]]:
            hub = app.get(WALLBOARD)
            board = getattr(hub, "board", None)
            return [] if board is None else list(board.snapshot(app[CLOCK](), View(None))["alerts"])

        worker = WebhookWorker(app[STORE], app[CONFIG].webhooks, lambda: app[CLOCK](), alerts)
        app[WORKER] = worker
        app[WEB_TASKS].append(asyncio.create_task(worker.run(), name="webhooks"))

    app.on_startup.append(start_worker)
    app.router.add_get("/api/v1/webhooks", webhooks_list)
    app.router.add_post("/api/v1/webhooks", webhook_create)
    app.router.add_get("/api/v1/webhooks/deliveries", deliveries_list)
    app.router.add_delete("/api/v1/webhooks/{webhook_id}", webhook_delete)
