"""The live loop in `hotline serve`: AMI -> call model -> event log and bus -> router ->
PBX actions, the FastAGI IVR, agent commands from the desktops, campaigns.

Enabled by `[pbx] enabled = true`. The loop is wired by its composition root
(cti/live_root.py); this module runs it in the app's cleanup context (stopped in
reverse order on shutdown) and reports on it in /healthz.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from config.schema import HotlineConfig
from cti.live_root import AMI, EVENTLOG, LIVE, build_live

__all__ = ["AMI", "EVENTLOG", "LIVE", "live_health", "setup_live"]


def live_health(app: web.Application, config: HotlineConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pbx status, live figures) for /healthz."""
    if not config.pbx.enabled or AMI not in app:
        return {"status": "disabled" if not config.pbx.enabled else "starting"}, {}
    client, center, eventlog = app[AMI], app[LIVE], app[EVENTLOG]
    status = "ok" if client.connected and not client.stale else ("stale" if client.connected else "down")
    pbx = {"status": status, "connections": client.connections, "resyncs": client.resyncs}
    stats = center.stats
    live = {
        "calls_offered": stats.calls_offered,
        "calls_answered": stats.calls_answered,
        "calls_abandoned": stats.calls_abandoned,
        "event_log": eventlog.health(),
        "bus_failures": stats.bus_failures,
    }
    if center.lines is not None:
        live["standing_lines"] = center.lines.health()
    return pbx, live


def setup_live(app: web.Application, config: HotlineConfig) -> None:
    if config.pbx.enabled:
        app.cleanup_ctx.append(_live_context(config))


def _live_context(config: HotlineConfig) -> Callable[[web.Application], AsyncIterator[None]]:
    from cti.server import BUS, STORE

    async def context(app: web.Application) -> AsyncIterator[None]:
        live = await build_live(config, app[STORE], app[BUS])
        await live.start()
        app[LIVE], app[AMI], app[EVENTLOG] = live.center, live.client, live.eventlog
        try:
            yield
        finally:
            await live.stop()

    return context
