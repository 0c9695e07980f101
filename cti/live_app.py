"""The live loop in `hotline serve`: AMI -> call model -> event log and bus -> router ->
PBX actions, the FastAGI IVR, agent commands from the desktops, campaigns.

Enabled by `[pbx] enabled = true`. The loop is wired by its composition root
(cti/live_root.py); this module runs it in the app's cleanup context (stopped in
reverse order on shutdown) while this process holds the leader lease
(cti/leadership.py: of several servers sharing a store, one runs it, the others stand
by), and reports on it in /healthz.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from config.schema import HotlineConfig
from cti.leadership import Leadership
from cti.live_pbxs import PBX_LINKS, pbxs_health
from cti.live_root import AMI, EVENTLOG, LIVE, Live, build_live
from cti.standby import STANDBY, Standby
from store.drivers import PostgresDriver
from store.sql import SqlStore

__all__ = ["AMI", "EVENTLOG", "LEADERSHIP", "LIVE", "live_health", "setup_live"]

LEADERSHIP = web.AppKey("leadership", Leadership)


def live_health(app: web.Application, config: HotlineConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pbx status, live figures) for /healthz. A standby says so: it serves the web
    and is healthy without the live loop (`leader` tells which process runs it)."""
    if not config.pbx.enabled:
        return {"status": "disabled"}, {}
    leadership = app.get(LEADERSHIP)
    role = {"leader": leadership.health()} if leadership is not None else {}
    if STANDBY in app:  # following the log, the FastAGI hand-offs (cti/standby.py)
        role["standby"] = app[STANDBY].health()
    if AMI not in app:
        status = "standby" if leadership is not None and leadership.role == "standby" else "starting"
        return {"status": status, **role}, {}
    client, center, eventlog = app[AMI], app[LIVE], app[EVENTLOG]
    status = "ok" if client.connected and not client.stale else ("stale" if client.connected else "down")
    pbx = {
        "status": status,
        "connections": client.connections,
        "resyncs": client.resyncs,
        "event_filter": client.event_filter_state,
        **role,
    }
    if len(config.pbxs) > 1 and PBX_LINKS in app:  # several Asterisks: each link's own state
        pbx.update(pbxs_health(app[PBX_LINKS]))
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


class _LiveRunner:
    """Starts the live loop when this process is elected, kills it when deposed (as a
    crash would: no AMI logoff, nothing more written; the next leader restores from
    the log and the PBX) and stops it cleanly at shutdown."""

    def __init__(
        self, app: web.Application, config: HotlineConfig, leadership: Callable[[], Leadership], standby: Standby
    ) -> None:
        self.app = app
        self.config = config
        self._leadership = leadership
        self.standby = standby
        self.live: Live | None = None

    async def elect(self, epoch: int) -> None:
        from cti.server import BUS, PHONE_MATCHES, STORE

        await self.standby.stop()
        fence = self._leadership().fence
        snapshot = await self.standby.snapshot_for_takeover()
        live = await build_live(
            self.config,
            self.app[STORE],
            self.app[BUS],
            fence=fence,
            epoch=epoch,
            snapshot=snapshot,
            phone_matches=self.app.get(PHONE_MATCHES),
        )
        await self.standby.lead(epoch, live.center.submit, fence)  # (the standbys' callers, before the resync)
        await live.start()
        self.live = live
        self.app[LIVE], self.app[AMI], self.app[EVENTLOG] = live.center, live.client, live.eventlog
        self.app[PBX_LINKS] = live.pbx_links

    async def depose(self, reason: str) -> None:
        live, self.live = self.live, None
        for key in (LIVE, AMI, EVENTLOG, PBX_LINKS):
            self.app.pop(key, None)
        await self.standby.unlead()
        if live is not None:
            await live.kill()
        await self.standby.start()

    async def stop(self) -> None:
        live, self.live = self.live, None
        await self.standby.unlead()
        if live is not None:
            await live.stop()
        await self.standby.stop()


def _live_context(config: HotlineConfig) -> Callable[[web.Application], AsyncIterator[None]]:
    from cti.server import STORE

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[STANDBY] = standby = Standby(config, app[STORE])
        runner = _LiveRunner(app, config, lambda: leadership, standby)
        lease_store, own = await _lease_store(config, app[STORE])
        leadership = Leadership(
            lease_store,
            on_elected=runner.elect,
            on_deposed=runner.depose,
            ttl_s=config.pbx.lease_s,
            renew_s=config.pbx.lease_s / 3,
        )
        app[LEADERSHIP] = leadership
        await standby.warm()
        await leadership.claim_once()  # a lone server leads from its start
        if leadership.role != "leader":
            await runner.standby.start()
        task = asyncio.create_task(leadership.run(), name="leadership")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            try:
                await runner.stop()
            finally:
                try:
                    await leadership.release()
                finally:
                    if own:
                        await lease_store.close()

    return context


async def _lease_store(config: HotlineConfig, shared: SqlStore) -> tuple[SqlStore, bool]:
    """The store the lease is claimed and renewed through: on PostgreSQL, a connection
    of its own, so that a renewal never waits behind the web's queries for one of the
    shared pool's (at 1,000 desktops that wait outlasted the lease: the leader was
    deposed every few seconds). SQLite's one connection is shared (the embedded demo).
    Whether the caller closes it."""
    if config.store.kind != "postgresql":
        return shared, False
    url = config.store.url.get_secret_value()
    return SqlStore(await PostgresDriver.connect(url, min_size=1, max_size=1)), True
