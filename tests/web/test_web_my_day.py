"""The desktop's "my day": the agent's queues now, today's numbers, open call-backs and
today's calls, for the agent (and their supervisor), not for another agent."""

from __future__ import annotations

import time

import pytest
from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from events import AgentLoggedIn, AgentStateChanged, CallConnected, CallEnded, CallQueued, WrapUpEnded
from reports.web import WALLBOARD
from reports.web_live import View, day_start
from store.models import Callback, Interaction
from tests.web.web_helpers import BusCallDriver, login, wait_until


async def test_my_day_shows_my_queues_numbers_callbacks_and_calls(client: TestClient) -> None:
    app = client.server.app
    store = app[STORE]
    driver = BusCallDriver(store, app[BUS])
    now = time.time()
    if now - day_start(now) < 1000:
        pytest.skip("less than 1000 s since local midnight: no room today for the scripted calls")
    e = driver.emit
    await e(AgentLoggedIn(now - 900, "agent01"))
    await e(CallQueued(now - 800, "d1", queue="billing"))
    await e(CallConnected(now - 790, "d1", "agent01", "billing"))
    await e(CallEnded(now - 700, "d1"))
    await e(WrapUpEnded(now - 690, "d1", "agent01", "resolved"))
    await e(AgentStateChanged(now - 600, "agent01", "paused", "break"))
    await e(CallQueued(now - 30, "w1", queue="support"))  # waiting now
    await e(CallQueued(now - 20, "w2", queue="sales"))  # not agent01's skill
    await store.put_interaction(
        Interaction(
            "d1",
            queue="billing",
            agent_id="agent01",
            caller="+14155550142",
            started_at=now - 800,
            outcome="answered",
            disposition="resolved",
        )
    )
    await store.put_callback(
        Callback("cb1", due_at=now + 3600, agent_id="agent01", number="+14155550142", created_at=now)
    )
    await store.put_callback(
        Callback("cb2", due_at=now + 3600, agent_id="agent02", number="+14155550143", created_at=now)
    )
    await wait_until(
        lambda: app[WALLBOARD].board.snapshot(time.time(), View(None))["totals"]["waiting"] == 2, timeout=5
    )

    await login(client, "agent01")  # skills billing, support
    r = await client.get("/api/v1/agents/agent01/today")
    assert r.status == 200, await r.text()
    day = await r.json()
    assert {q["name"]: q["waiting"] for q in day["queues"]} == {"billing": 0, "support": 1}
    assert day["me"]["handled"] == 1 and day["me"]["aht"] == pytest.approx(100, abs=1)
    assert day["me"]["paused_s"] == pytest.approx(600, abs=30)
    assert [c["id"] for c in day["callbacks"]] == ["cb1"]
    assert [c["id"] for c in day["calls"]] == ["d1"] and day["calls"][0]["disposition"] == "resolved"
    assert (await client.get("/api/v1/agents/agent02/today")).status == 403
    client.session.cookie_jar.clear()
    await login(client, "sup")  # team-a
    assert (await client.get("/api/v1/agents/agent01/today")).status == 200
    assert (await client.get("/api/v1/agents/agent02/today")).status == 403
