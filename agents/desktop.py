"""The agent desktop (`/agent`): page, websocket, call controls and wrap-up.

- `GET /agent` the page; `GET /agent/ws` the desktop's websocket (screen-pops and the
  agent's own events); `?agent=ID` lets a supervisor (their teams) or an admin watch.
- `POST /api/v1/agents/{agent_id}/commands` availability, pause, logout and call
  controls: a command of `agents.commands` (400 naming the field), sent to the live loop
  on `agent-commands`; its reply is returned (409 refused, 202 kept for later). A
  supervisor's (monitor, stop_monitor; force_pause, force_logout: audited) only from a
  supervisor of the team or an admin (agents/supervisor_commands.py); the agent's own
  only from the agent (or an admin): a supervisor watching `?agent=` sees the desktop read-only (403).
- `GET /api/v1/agents/{agent_id}/screen-pop` the agent's latest screen-pop (403 for
  another agent's).
- `POST /api/v1/interactions/{call_id}/wrap-up` disposition, notes and an optional
  callback, saved on the interaction; a WrapUpEnded event is logged and published.
  Only for the call the agent is wrapping up now, as the live loop sees the agent (the
  `agents` state map): else 409 naming the call they wrap up, or saying they are not in
  wrap-up. Bad input is 400 naming the field; the same wrap-up again is 200 and changes
  nothing (no second event, no second callback).
- The quick "new customer" form posts to `POST /api/v1/customers` (agents.customers_web).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from agents.commands import (
    BY_ACTION,
    TRANSFER_KINDS,
    CommandError,
    ForceLogout,
    ForcePause,
    Pause,
    action_of,
    applicability,
    parse_command,
)
from agents.crm import CrmLookup
from agents.customer_access import HandledCall
from agents.customers_web import customers_of_call
from agents.hub import ScreenPopHub
from agents.supervisor_commands import as_supervisor
from agents.task_tabs import apply_task_command
from cti.server import BUS, CONFIG, PHONE_MATCHES, STORE
from events import WrapUpEnded, to_record
from store import Bus, SqlStore
from store.models import Callback, Interaction
from store.port import NotFound
from store.topics import AGENT_VIEWS
from web.app import (
    CLOCK,
    COMMAND_TIMEOUT,
    COMMANDS,
    SETTINGS,
    WEB_TASKS,
    api_error,
    json_body,
    require,
    require_agent_access,
    signed_in_only,
)
from web.audit import record
from webhooks.outbox import publish_callback

log = structlog.get_logger()

NOTES_MAX = 4000
CALLBACK_HORIZON_S = 366 * 86400.0


class OneAtATime:
    """The wrap-ups of one call are saved one at a time in this process: a second click
    waits for the first, then finds it saved (the same wrap-up: nothing more to do)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def one_at_a_time(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


HUB = web.AppKey("screen_pop_hub", ScreenPopHub)
WRAP_UPS = web.AppKey("wrap_up_locks", OneAtATime)


def _agent_param(request: web.Request) -> str:
    me = require(request, "agent")
    return request.query.get("agent", me.login)


def desktop_commands() -> dict[str, dict[str, Any]]:
    """The desktop's button table, from the command contract: each action's label, the
    call kinds and phase it applies to, whether it works on a standing line, and the
    fields its body carries (the page embeds it; agent.js reads nothing else)."""
    return {
        action: {**row, "fields": sorted(BY_ACTION[action].model_fields)} for action, row in applicability().items()
    }


async def desktop_page(request: web.Request) -> web.StreamResponse:
    agent_id = _agent_param(request)
    me = await require_agent_access(request, agent_id)
    settings = request.app[SETTINGS]
    return aiohttp_jinja2.render_template(
        "agent.html",
        request,
        {
            "agent_id": agent_id,
            "watching": agent_id != me.login,
            "monitor": agent_id != me.login and me.role in ("supervisor", "admin"),
            "pause_codes": (await settings.live("pause_codes")).data,
            "dispositions": (await settings.live("dispositions")).data,
            "queues": sorted((await settings.live("queues")).data),
            "commands": desktop_commands(),
            "transfer_kinds": TRANSFER_KINDS,
        },
    )


async def desktop_ws(request: web.Request) -> web.StreamResponse:
    agent_id = _agent_param(request)
    await require_agent_access(request, agent_id)
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
    await ws.prepare(request)
    hub.register(agent_id, ws)
    try:
        if hub.closing:  # (the shutdown closed the others while this one shook hands: web/open_sockets.py)
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
            return ws
        # where the agent and their call are now (a reload mid-call, a reconnect)
        hello = {"type": "hello", "agent_id": agent_id, **await hub.desktop_view(agent_id)}
        await ws.send_str(json.dumps(hello))
        async with signed_in_only(request, ws):  # closed (4401) once signed out
            async for msg in ws:  # the desktop only pings; commands go over HTTP (CSRF)
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    await ws.send_str('{"type":"pong"}')
                elif msg.type == WSMsgType.ERROR:
                    break
    finally:
        hub.unregister(agent_id, ws)
    return ws


async def screen_pop(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    await require_agent_access(request, agent_id)
    pop = request.app[HUB].last_pop(agent_id)
    if pop is None:
        return api_error(404, f"no screen-pop for agent {agent_id!r} yet")
    return web.json_response(pop)


async def command(request: web.Request) -> web.Response:
    """Validate with the command contract, send to the live loop, return its reply:
    400 naming the field, 409 with the live loop's refusal, 202 when it did not answer in
    time (the command is kept and applied when the loop is back: web/commands.py,
    GET /api/v1/commands/{id})."""
    agent_id = request.match_info["agent_id"]
    me = await require_agent_access(request, agent_id)
    body = await json_body(request)
    try:
        cmd = parse_command(body)
    except CommandError as exc:
        return api_error(400, str(exc))
    if type(cmd).by == "agent" and me.login != agent_id and me.role != "admin":
        return api_error(
            403, f"action: {action_of(type(cmd))} is the agent's own: a supervisor's view of {agent_id} is read-only"
        )
    if type(cmd).on_task:  # a written task's tab: the task desk applies it here (agents/task_tabs.py)
        return await apply_task_command(request, agent_id, cmd)
    if type(cmd).by == "supervisor":
        supervised = await as_supervisor(request, me, agent_id, cmd)
        if isinstance(supervised, web.Response):
            return supervised
        cmd = supervised
    if isinstance(cmd, Pause | ForcePause):
        pause_codes = (await request.app[SETTINGS].live("pause_codes")).data
        if cmd.reason not in pause_codes:
            return api_error(
                400, f"reason: must be one of the pause codes ({', '.join(sorted(pause_codes))}), not {cmd.reason!r}"
            )
    reply = await request.app[COMMANDS].send(agent_id, cmd, request.app[COMMAND_TIMEOUT])
    log.info("agent_command", agent_id=agent_id, action=action_of(type(cmd)), ok=reply.ok, error=reply.error)
    if reply.ok and isinstance(cmd, ForcePause | ForceLogout):
        await record(request, f"agent.{action_of(type(cmd))}", agent_id, reason=getattr(cmd, "reason", ""))
    return web.json_response(reply.to_json(), status=200 if reply.ok else (504 if reply.timed_out else 409))


def _float_or_none(value: Any, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number of seconds since the epoch, not {value!r}") from None


async def _the_calls_customer(
    request: web.Request, info: dict[str, Any], existing: Interaction | None, customer_id: Any
) -> bool:
    """Is `customer_id` one of the call's own customers (its queue's customer id, the
    IVR's account, the caller's number, the live loop's interaction)? An agent's wrap-up
    links the call to no other customer's history."""
    if existing is not None and existing.customer_id == customer_id:
        return True
    attributes = dict(info.get("attributes") or {})
    call = HandledCall(
        "",
        str(info.get("caller", "")),
        str(info.get("customer_id", "") or ""),
        str(attributes.get("account_number", "") or ""),
    )
    return customer_id in await customers_of_call(request, call)


async def wrap_up(request: web.Request) -> web.Response:
    me = require(request, "agent")
    call_id = request.match_info["call_id"]
    body = await json_body(request)
    agent_id = str(body.get("agent_id") or me.login)
    if agent_id != me.login and me.role != "admin":
        return api_error(403, "only the agent who took the call (or an admin) wraps it up")
    hub = request.app[HUB]
    info = hub.call_info(call_id) or {}
    store = request.app[STORE]
    try:
        existing: Interaction | None = await store.get_interaction(call_id)
    except NotFound:
        existing = None
    owner = info.get("offered_to") or (existing.agent_id if existing else "")
    if owner != agent_id and me.role != "admin":
        return api_error(403, f"call {call_id!r} was not offered to {agent_id!r}")
    sent_customer = body.get("customer_id")
    if sent_customer and me.role != "admin" and not await _the_calls_customer(request, info, existing, sent_customer):
        return api_error(403, f"customer_id: {sent_customer!r} is not the customer of call {call_id!r}")
    dispositions = (await request.app[SETTINGS].live("dispositions")).data
    disposition = body.get("disposition")
    notes = str(body.get("notes", "")).strip()
    if not isinstance(disposition, str) or disposition not in dispositions:
        return api_error(400, f"disposition: must be one of {', '.join(dispositions)}, not {disposition!r}")
    if len(notes) > NOTES_MAX:
        return api_error(400, f"notes: at most {NOTES_MAX} characters")
    if dispositions[disposition].get("requires_notes") and not notes:
        return api_error(400, f"notes: required for disposition {disposition!r}")
    try:
        callback_at = _float_or_none(body.get("callback_at"), "callback_at")
    except ValueError as exc:
        return api_error(400, str(exc))
    now = request.app[CLOCK]()
    if dispositions[disposition].get("schedules_callback") and callback_at is None:
        return api_error(400, f"callback_at: required for disposition {disposition!r}")
    async with request.app[WRAP_UPS].one_at_a_time(call_id):
        try:  # again, in turn: a save of the same call that came first has now finished
            existing = await store.get_interaction(call_id)
        except NotFound:
            existing = None
        if existing is not None and (existing.disposition, existing.notes) == (disposition, notes):
            # the same wrap-up again (a retry, a second click): what was saved stands
            callback_id = await _saved_callback(store, call_id, agent_id, callback_at)
            if callback_id is not None:
                log.info("wrap_up_repeated", call_id=call_id, agent_id=agent_id, disposition=disposition)
                saved = {"ok": True, "call_id": call_id, "disposition": disposition, "callback_id": callback_id}
                return web.json_response({**saved, "repeated": True})
        if callback_at is not None and callback_at <= now:
            return api_error(400, "callback_at: must be in the future")
        if callback_at is not None and not callback_at <= now + CALLBACK_HORIZON_S:  # (NaN too)
            return api_error(400, "callback_at: at most a year ahead")
        refused = await _not_wrapping_up(request.app[BUS], agent_id, call_id)
        if refused is not None:
            return refused
        callback_id = await _save_wrap_up(request.app, body, info, existing, agent_id, call_id, callback_at)
    log.info("wrap_up_saved", call_id=call_id, agent_id=agent_id, disposition=disposition, callback=bool(callback_id))
    return web.json_response({"ok": True, "call_id": call_id, "disposition": disposition, "callback_id": callback_id})


async def _save_wrap_up(
    app: web.Application,
    body: dict[str, Any],
    info: dict[str, Any],
    existing: Interaction | None,
    agent_id: str,
    call_id: str,
    callback_at: float | None,
) -> str:
    """Disposition and notes on the interaction (the row made when missing), the callback
    when one is asked, and WrapUpEnded logged and published; returns the callback's id."""
    store = app[STORE]
    now = app[CLOCK]()
    disposition, notes = str(body["disposition"]), str(body.get("notes", "")).strip()
    if existing is None:
        await store.put_interaction(
            Interaction(
                id=call_id,
                direction=str(info.get("direction", "inbound")),
                queue=str(info.get("queue", "")),
                agent_id=agent_id,
                customer_id=str(body.get("customer_id") or info.get("customer_id") or ""),
                caller=str(info.get("caller", "")),
                started_at=float(info.get("arrived_at") or info.get("queued_at") or info.get("offered_at") or now),
                disposition=disposition,
                notes=notes,
            )
        )
    else:
        await store.set_disposition(call_id, disposition, notes)
    callback_id = ""
    if callback_at is not None:
        callback_id = uuid.uuid4().hex[:12]
        promise = Callback(
            id=callback_id,
            due_at=callback_at,
            call_id=call_id,
            customer_id=str(
                body.get("customer_id") or (existing.customer_id if existing else info.get("customer_id", ""))
            ),
            agent_id=agent_id,
            number=str(body.get("callback_number") or info.get("caller", "")),
            notes=notes,
            created_at=now,
            # the live loop's scheduler (cti/live_callbacks.py) queues it here when due
            queue=str(existing.queue if existing and existing.queue else info.get("queue", "")),
            kind="scheduled",
        )
        await store.put_callback(promise)
        await publish_callback(store, promise)
    event = WrapUpEnded(at=now, call_id=call_id, agent_id=agent_id, disposition=disposition, notes=notes)
    await store.append(event)
    await app[BUS].publish("events", to_record(event))
    return callback_id


async def _saved_callback(store: SqlStore, call_id: str, agent_id: str, callback_at: float | None) -> str | None:
    """For a wrap-up saved once already: the id of its callback due at `callback_at`
    ("" when none is asked), None when that callback is not there (not the same wrap-up)."""
    if callback_at is None:
        return ""
    due = await store.callbacks_between(callback_at, callback_at + 0.001, agent_id)
    return next((c.id for c in due if c.call_id == call_id), None)


async def _not_wrapping_up(bus: Bus, agent_id: str, call_id: str) -> web.Response | None:
    """409 unless the live loop's view of the agent (the `agents` state map) is wrap-up
    of `call_id`: a wrap-up belongs to its call, never to the next one or the last one."""
    view = await AGENT_VIEWS.get(bus, agent_id)
    if view is not None and view.state == "wrap_up" and view.call_id == call_id:
        return None
    if view is not None and view.state == "wrap_up" and view.call_id:
        message = f"{agent_id} is wrapping up call {view.call_id!r}, not {call_id!r}"
    else:
        state = "unknown to the call server" if view is None else view.state.replace("_", " ")
        held = f" (call {view.call_id!r})" if view is not None and view.call_id else ""
        message = f"{agent_id} is not in wrap-up (now {state}{held}): call {call_id!r} cannot be wrapped up"
    log.info("wrap_up_refused", call_id=call_id, agent_id=agent_id, state=view.state if view else None)
    return api_error(
        409,
        message,
        state=view.state if view is not None else None,
        wrapping_up=view.call_id if view is not None and view.state == "wrap_up" and view.call_id else None,
    )


async def _close_sockets(app: web.Application) -> None:
    """Graceful shutdown: desktops reconnect (to another process) on 1001 Going Away."""
    if HUB in app:
        app[HUB].closing = True
        for ws in app[HUB].sockets():
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")  # type: ignore[attr-defined]


def setup(app: web.Application) -> None:
    config = app[CONFIG]
    crm = CrmLookup(config.crm) if config.crm is not None else None  # validated with the config

    async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
        hub = ScreenPopHub(
            app[STORE],
            app[BUS],
            crm,
            app[CLOCK],
            tell_monitoring=config.monitor.told(),
            matches=app.get(PHONE_MATCHES),
        )
        app[HUB] = hub
        task = asyncio.create_task(hub.run(), name="screen-pop-hub")
        app[WEB_TASKS].append(task)
        try:
            yield
        finally:
            task.cancel()
            if crm is not None:
                await crm.close()

    app[WRAP_UPS] = OneAtATime()
    app.cleanup_ctx.append(hub_ctx)
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/agent", desktop_page)
    app.router.add_get("/agent/ws", desktop_ws)
    app.router.add_get("/api/v1/agents/{agent_id}/screen-pop", screen_pop)
    app.router.add_post("/api/v1/agents/{agent_id}/commands", command)
    app.router.add_post("/api/v1/interactions/{call_id}/wrap-up", wrap_up)
