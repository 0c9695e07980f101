"""Through the real app on PostgreSQL: the web process that holds the report-days lease
follows the event log, keeps a day in the store when it closes, and after a restart
the report of that day is read back, not refolded, with the numbers of the raw log."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from aiohttp.test_utils import TestClient, TestServer

from config.schema import StoreConfig
from cti.server import STORE, create_app
from events import (
    AgentLoggedIn,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallQueued,
    Event,
    WrapUpEnded,
)
from reports.kpi import KpiConfig, batch_report
from reports.report_days import LEAD_OUT_S, day_start
from reports.report_keeper import ReportKeeper
from reports.web import REPORT_DAYS, REPORT_KEEPER
from store import open_store
from tests.web.conftest import web_config
from tests.web.web_helpers import login, seed_users
from web.app import CLOCK

DAY = date(2026, 3, 18)


def calls(start: float, n: int, first: int) -> list[Event]:
    out: list[Event] = []
    for k in range(n):
        t, cid = start + 600 * k, f"k{first + k}"
        out.append(CallQueued(t, cid, queue="billing"))
        if k % 3 == 2:
            out.append(CallAbandoned(t + 40, cid))
            continue
        out += [CallConnected(t + 5 + k, cid, "agent01", "billing"), CallEnded(t + 200, cid)]
        out.append(WrapUpEnded(t + 230, cid, "agent01", "resolved"))
    return out


async def start(url: str, clock: list[float]) -> TestClient:
    app = create_app(web_config(url))
    app[CLOCK] = lambda: clock[0]
    client = TestClient(TestServer(app))
    await asyncio.wait_for(client.start_server(), 20)
    return client


async def folded_to(keeper: ReportKeeper, seq: int) -> None:
    for _ in range(200):
        if keeper.read_to >= seq:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the keeper folded up to seq {keeper.read_to}, not {seq}")


async def kept_views(url: str, day: date) -> set[str]:
    store = await open_store(StoreConfig(url=url))
    try:
        rows = await store._db.fetch(
            "SELECT view FROM report_days WHERE day = $1 AND settings NOT LIKE '%:open'", day.isoformat()
        )  # type: ignore[attr-defined]
        return {r["view"] for r in rows}
    finally:
        await store.close()


async def test_a_day_kept_when_it_closes_is_read_back_after_a_restart(fresh_pg_url: str) -> None:
    seeding = await open_store(StoreConfig(url=fresh_pg_url))
    await seeding.migrate()
    await seed_users(seeding)
    await seeding.close()
    d0 = day_start(DAY)
    clock = [d0 + 8 * 3600]
    morning = [AgentLoggedIn(d0 + 7 * 3600, "agent01"), AgentStateChanged(d0 + 7 * 3600, "agent01", "available")]
    morning += calls(d0 + 7 * 3600 + 60, 6, 0)
    afternoon = calls(d0 + 13 * 3600, 6, 100)
    client = await start(fresh_pg_url, clock)
    try:
        store = client.server.app[STORE]
        keeper = client.server.app[REPORT_KEEPER]
        await folded_to(keeper, max(await store.append_many(morning)))  # folded as logged, a step a second
        clock[0] = d0 + 14 * 3600
        await folded_to(keeper, max(await store.append_many(afternoon)))
        assert await kept_views(fresh_pg_url, DAY) == set()  # not closed yet
        clock[0] = day_start(DAY + timedelta(days=1)) + LEAD_OUT_S + 60
        for _ in range(100):
            if "" in await kept_views(fresh_pg_url, DAY):
                break
            await asyncio.sleep(0.1)
        assert "" in await kept_views(fresh_pg_url, DAY)
    finally:
        await asyncio.wait_for(client.close(), 20)

    again = await start(fresh_pg_url, clock)  # a restart
    try:
        await login(again, "admin")
        r = await again.get(f"/api/v1/reports?from={DAY}&to={DAY}&interval=3600")
        assert r.status == 200, await r.text()
        got = await r.json()
        cache = again.server.app[REPORT_DAYS]
        assert cache.folded == 0 and cache.loaded >= 1  # read back from the store, not refolded
        want = batch_report(
            morning + afternoon, KpiConfig(interval_s=3600), d0, day_start(DAY + timedelta(days=1))
        ).to_dict()
        assert got["overall"]["offered"] == want["overall"]["offered"] == 12
        assert got["overall"]["answered"] == want["overall"]["answered"] == 8
        assert got["overall"]["service_level"] == want["overall"]["service_level"]
        assert got["agents"]["agent01"]["total"]["handled"] == 8
    finally:
        await asyncio.wait_for(again.close(), 20)
