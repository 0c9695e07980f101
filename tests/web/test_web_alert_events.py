"""Wallboard alerts as events (issue 17): an alert's condition beginning is logged once
as AlertRaised and its end once as AlertCleared, in the event log and on the bus, with
two server processes (PostgreSQL and Redis shared) each computing the same alert; the
alert history (page and API) reads them back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from events import AlertCleared, AlertRaised, CallConnected, CallEnded, CallQueued, Event
from reports.web import WALLBOARD
from store.topics import EVENTS, subscribe
from tests.web.web_helpers import BusCallDriver, login, wait_until


async def _logged(client: TestClient, kind: type[Event]) -> list[Event]:
    stored = await client.server.app[STORE].events_between(0, time.time() + 86400)
    return [s.event for s in stored if isinstance(s.event, kind)]


async def test_an_alert_is_raised_and_cleared_once_across_two_processes(
    redis_processes: Callable[[], Awaitable[TestClient]],
) -> None:
    a, b = await redis_processes(), await redis_processes()
    heard: list[Event] = []

    async def listen() -> None:
        async with subscribe(a.server.app[BUS], EVENTS) as inbox:
            async for event in inbox:
                if isinstance(event, AlertRaised | AlertCleared):
                    heard.append(event)

    listener = asyncio.create_task(listen())
    try:
        hubs = [c.server.app[WALLBOARD] for c in (a, b)]
        for hub in hubs:
            await asyncio.wait_for(hub.ready.wait(), 10)
        driver = BusCallDriver(a.server.app[STORE], a.server.app[BUS])
        await driver.agent_ready("agent01")
        t = time.time() + 1
        await driver.emit(CallQueued(t, "slow", queue="billing"))  # answered after 60 s: SL 0 %
        await driver.emit(CallConnected(t + 60, "slow", "agent01", "billing"))
        await driver.emit(CallEnded(t + 70, "slow"))
        # each board knows it is up (the one that did not log it heard it on the bus): no second raise
        await wait_until(lambda: all(("billing", "service_level") in h.board.alert_book.up for h in hubs), 10)
        [raised] = await _logged(a, AlertRaised)
        assert (raised.queue, raised.alert) == ("billing", "service_level")
        assert raised.text == "Billing: service level 0% over the last 30 min, below the 80% target"
        await wait_until(lambda: any(isinstance(e, AlertRaised) for e in heard), 5)

        for i in range(4):  # four fast answers: 80 %, at the target
            at = t + 71 + i
            await driver.emit(CallQueued(at, f"fast{i}", queue="billing"))
            await driver.emit(CallConnected(at + 1, f"fast{i}", "agent01", "billing"))
            await driver.emit(CallEnded(at + 2, f"fast{i}"))
        await wait_until(lambda: all(not h.board.alert_book.up for h in hubs), 10)
        assert len(await _logged(a, AlertRaised)) == 1
        [cleared] = await _logged(a, AlertCleared)
        assert (cleared.queue, cleared.alert) == ("billing", "service_level") and cleared.at >= raised.at
        await wait_until(lambda: any(isinstance(e, AlertCleared) for e in heard), 5)
        assert [type(e).__name__ for e in heard] == ["AlertRaised", "AlertCleared"]

        # the history page and API read them back from the log
        await login(b, "sup")
        r = await b.get("/api/v1/alerts/history")
        [row] = (await r.json())["alerts"]
        assert (row["queue"], row["alert"], row["raised_at"], row["cleared_at"]) == (
            "billing",
            "service_level",
            raised.at,
            cleared.at,
        )
        page = await (await b.get("/wallboard/alerts?queue=billing")).text()
        assert 'data-alert="service_level"' in page and raised.text in page
        assert (await b.get("/api/v1/alerts/history?from=2026-13-01")).status == 400
        b.session.cookie_jar.clear()
        await login(b, "agent01")
        assert (await b.get("/api/v1/alerts/history")).status == 403
    finally:
        listener.cancel()
        await a.close()
        await b.close()
