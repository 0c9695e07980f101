"""Composition root: builds the aiohttp application from a validated configuration.

Everything with a lifetime (store, bus, later the AMI link and the router loop) is
opened in the app's cleanup context, so it is closed in reverse order on shutdown.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from config.schema import HotlineConfig, redact_url
from cti.bounded import within
from store import Bus, SqlStore, open_bus, open_store
from store.phone_matches import PhoneMatches

log = structlog.get_logger()

CONFIG = web.AppKey("config", HotlineConfig)
STORE = web.AppKey("store", SqlStore)
BUS: web.AppKey[Bus] = web.AppKey("bus")  # (Bus is abstract: typed by the annotation)
STARTED_AT = web.AppKey("started_at", float)
# what the live loop's caller lookups found, for the screen pops of this process
PHONE_MATCHES = web.AppKey("phone_matches", PhoneMatches)

HEALTH_TIMEOUT_S = 2.0


async def _check(probe: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    try:
        await within(probe(), HEALTH_TIMEOUT_S, "health probe")  # (on time even on a silent network cut)
    except Exception as exc:  # noqa: BLE001 - health reports the failure instead of raising
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok"}


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    config = app[CONFIG]
    store = {**await _check(app[STORE].ping), "kind": app[STORE].kind}
    bus = {**await _check(app[BUS].ping), "kind": app[BUS].kind}
    from cti.live_app import live_health

    pbx, live = live_health(app, config)
    ok = store["status"] == "ok" and bus["status"] == "ok" and pbx["status"] in ("ok", "disabled", "standby")
    body = {
        "status": "ok" if ok else "degraded",
        "store": store,
        "bus": bus,
        "pbx": pbx,
        "uptime_s": round(time.time() - app[STARTED_AT], 3),
        # today's, from the event log at the live loop's start (zero while it is off)
        "calls_offered": 0,
        "calls_answered": 0,
        "calls_abandoned": 0,
        **live,
    }
    from mail.web import mail_health

    try:
        body["mail"] = await within(mail_health(app), HEALTH_TIMEOUT_S, "mail health")
    except Exception as exc:  # noqa: BLE001 - health reports the failure instead of raising
        body["mail"] = {"status": "down", "error": type(exc).__name__}
    return web.json_response(body, status=200 if ok else 503)


def create_app(config: HotlineConfig, *, migrate: bool = True) -> web.Application:
    app = web.Application()
    app[CONFIG] = config
    app[STARTED_AT] = time.time()
    app[PHONE_MATCHES] = PhoneMatches()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        store = await open_store(config.store)
        bus = open_bus(config.bus)
        try:
            if migrate:
                await store.migrate()
            app[STORE] = store
            app[BUS] = bus
            log.info(
                "server_resources_open",
                store=redact_url(config.store.url.get_secret_value()),
                bus=redact_url(config.bus.url.get_secret_value()),
            )
            yield
        finally:
            await bus.close()
            await store.close()

    app.cleanup_ctx.append(resources)
    app.router.add_get("/healthz", healthz)
    import web as hotline_web  # local import: web's modules import this one's AppKeys

    hotline_web.setup(app)  # login, agent desktop, wallboard, reports, admin, REST API
    from cti.live_app import setup_live

    setup_live(app, config)  # AMI, router, IVR: only with [pbx] enabled
    return app
