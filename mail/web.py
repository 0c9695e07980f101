"""E-mail in the web application: the `MailService` in `hotline serve`'s lifetime, and
what the desktop reads of a mail besides the task's messages.

- `GET /api/v1/mail/attachments/{attachment_id}`: a received attachment's file;
- `GET /api/v1/tasks/{task_id}/messages/{message_id}/html`: a received mail's HTML,
  sanitised at intake (mail/sanitize.py), served as a page of its own under a CSP that
  forbids scripts and remote loads, for the desktop's `<iframe sandbox>`;
- `GET /api/v1/tasks/{task_id}/mail`: the thread's delivery state: each reply's outbox
  row (queued, sending, sent, failed; attempts, error) and the attachments.

Only the agent the task is with, a supervisor (of that agent's team; any supervisor
while nobody has it) or an admin (else 403; 404 for an unknown id). Every attachment
download is an audit entry (`mail.attachment`).
"""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from urllib.parse import quote

from aiohttp import web

from cti.server import BUS, CONFIG, STORE
from mail.intake import email_lookup
from mail.reopen import TaskReopener
from mail.sanitize import FRAME_CSP
from mail.service import MailService
from mail.store import SqlMailStore
from store.port import NotFound
from tasks.model import Task
from tasks.web import TASK_DESK
from web.app import CLOCK, agent_team, api_error, forbidden, require
from web.audit import record as audit

MAIL = web.AppKey("mail", MailService)
_INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp")  # (never svg: it may carry script)


def _not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=json.dumps({"error": what}), content_type="application/json")


async def _task_allowed(request: web.Request, task_id: str) -> Task:
    me = require(request, "agent")
    try:
        task = await request.app[STORE].get_task(task_id)
    except NotFound:
        raise _not_found(f"task_id: no task {task_id!r}") from None
    if me.role == "admin" or (task.agent_id and me.login == task.agent_id):
        return task
    if me.role == "supervisor":
        if not task.agent_id or me.may_see_agent(task.agent_id, await agent_team(request, task.agent_id)):
            return task
    raise forbidden(request, f"not allowed to read task {task_id!r}")


async def attachment_file(request: web.Request) -> web.StreamResponse:
    att_id = request.match_info["attachment_id"]
    service = request.app[MAIL]
    att = await service.store.attachment(att_id)
    if att is None:
        raise _not_found(f"attachment_id: no attachment {att_id!r}")
    await _task_allowed(request, att.task_id)
    path = service.files.path_of(att.sha256)
    if not path.is_file():
        return api_error(404, f"attachment_id: the file of attachment {att_id!r} is no longer on disk")
    await audit(request, "mail.attachment", att.task_id, attachment_id=att_id, filename=att.filename)
    inline = att.content_type in _INLINE
    disposition = "inline" if inline else "attachment"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": att.content_type if inline else "application/octet-stream",
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(att.filename)}",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


async def message_html(request: web.Request) -> web.StreamResponse:
    task_id, message_id = request.match_info["task_id"], request.match_info["message_id"]
    await _task_allowed(request, task_id)
    found = [m for m in await request.app[STORE].task_messages(task_id) if m.message_id == message_id]
    if not found or found[0].html is None:
        raise _not_found(f"message_id: no HTML mail {message_id!r} on task {task_id!r}")
    page = (
        '<!doctype html><html><head><meta charset="utf-8"><title>'
        f"{html.escape(str(found[0].meta.get('subject', '')))}</title></head><body>{found[0].html}</body></html>"
    )
    return web.Response(
        text=page,
        content_type="text/html",
        headers={
            "Content-Security-Policy": FRAME_CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "private, no-store",
        },
    )


async def task_mail(request: web.Request) -> web.Response:
    task = await _task_allowed(request, request.match_info["task_id"])
    service = request.app[MAIL]
    outbox = await service.store.outbox_for(task.task_id)
    attachments = await service.store.attachments_of(task.task_id)
    keep = ("id", "message_id", "rcpt", "subject", "state", "attempts", "created_at", "sent_at", "error")
    return web.json_response(
        {
            "task_id": task.task_id,
            "outbox": [{k: v for k, v in asdict(row).items() if k in keep} for row in outbox],
            "attachments": [asdict(a) | {"url": f"/api/v1/mail/attachments/{a.id}"} for a in attachments],
        }
    )


async def mail_health(app: web.Application) -> dict[str, object]:
    """For /healthz: is mail received (where), the IMAP mailbox's last poll (degraded
    with `imap_error` while its polls fail), and the outbox's rows by state (a growing
    `queued` or any `failed` wants a look at the relay)."""
    service = app.get(MAIL)
    if service is None:
        return {"status": "starting"}
    if not service.config.enabled and service.config.relay is None:
        return {"status": "disabled"}
    listen = f"{service.bound[0]}:{service.bound[1]}" if service.bound else None
    body: dict[str, object] = {"status": "ok", "listen": listen, "imap": service.imap is not None}
    if service.imap is not None:  # the mailbox's last polls: a failure names its cause (a refused certificate...)
        health = service.imap.health
        body["imap_polled_at"] = health.polled_at
        if health.error:
            body |= {"status": "degraded", "imap_error": health.error, "imap_failures": health.failures}
    try:
        body["outbox"] = await service.store.outbox_counts()
    except Exception as exc:  # noqa: BLE001 - health reports the failure (the store's own entry says more)
        body["outbox_error"] = type(exc).__name__
    return body


def setup(app: web.Application) -> None:
    """The mail service for the app's lifetime, on the app's task desk (tasks/web.py:
    the one the desktop's replies go through, so the outbound hook is on it); set up
    after tasks.web's, whose cleanup context makes the desk."""

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG].mail
        store = app[STORE]
        clock = lambda: app[CLOCK]()  # noqa: E731 - (read at each use: a test may move the app's clock)
        desk = app[TASK_DESK]
        service = MailService(
            config,
            SqlMailStore.of(store),
            desk,
            store,
            TaskReopener(store, app[BUS], clock),
            email_lookup(store),
            clock,
        )
        app[MAIL] = service
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app.cleanup_ctx.append(lifetime)
    app.router.add_get("/api/v1/mail/attachments/{attachment_id}", attachment_file)
    app.router.add_get("/api/v1/tasks/{task_id}/messages/{message_id}/html", message_html)
    app.router.add_get("/api/v1/tasks/{task_id}/mail", task_mail)
