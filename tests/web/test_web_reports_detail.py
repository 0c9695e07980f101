"""Pause-reason, disposition and campaign reports, and one agent's drill-down (day by
day, then their calls), from the event log through the per-day cache."""

from __future__ import annotations

import time
from datetime import date

import pytest
from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from events import (
    AgentLoggedIn,
    AgentStateChanged,
    CallConnected,
    CallEnded,
    CallQueued,
    DialerAttempted,
    DialerDropped,
    DialerResulted,
    WrapUpEnded,
)
from reports.day_extras import summary
from reports.day_fold import day_start as report_day_start
from reports.day_fold import rebuild
from reports.kpi import KpiConfig
from reports.web_live import day_start
from store.models import Interaction
from tests.web.web_helpers import BusCallDriver, login


def test_pauses_are_clipped_to_the_day_and_campaign_drop_rate_counts_contacts() -> None:
    day = date(2026, 3, 18)
    d0 = report_day_start(day) - 100  # the day starts at d0 + 100; counted up to d0 + 300

    def at(t: float) -> float:
        return d0 + t

    events = [
        AgentLoggedIn(at(0), "a1"),
        AgentStateChanged(at(50), "a1", "paused", "lunch"),  # before the day: counts from its start
        AgentStateChanged(at(160), "a1", "available"),
        AgentStateChanged(at(200), "a1", "paused", "break"),  # open at the end: counts up to it
        WrapUpEnded(at(150), "c1", "a1", "sale"),
        WrapUpEnded(at(170), "c2", "a1", ""),
        DialerAttempted(at(110), "d1", "spring", "L1"),
        DialerAttempted(at(111), "d2", "spring", "L2"),
        DialerResulted(at(120), "d1", "spring", "L1", "human"),
        DialerResulted(at(121), "d2", "spring", "L2", "machine"),
        DialerDropped(at(125), "d1", "spring", "L1"),
    ]
    events.sort(key=lambda e: e.at)
    found = summary(rebuild(events, KpiConfig(), (), day, at(300))[""].extras)
    assert found["pauses"] == {
        "break": {"total_s": 100.0, "by_agent": {"a1": 100.0}},
        "lunch": {"total_s": 60.0, "by_agent": {"a1": 60.0}},
    }
    assert found["dispositions"] == {
        "(none)": {"total": 1.0, "by_agent": {"a1": 1.0}},
        "sale": {"total": 1.0, "by_agent": {"a1": 1.0}},
    }
    spring = found["campaigns"]["spring"]
    assert (spring["dials"], spring["contacts"], spring["machine"], spring["drops"], spring["drop_rate"]) == (
        2,
        1,
        1,
        1,
        1.0,
    )


async def test_the_report_shows_pauses_dispositions_campaigns_and_an_agents_days(client: TestClient) -> None:
    app = client.server.app
    driver = BusCallDriver(app[STORE], app[BUS])
    now = time.time()
    if now - day_start(now) < 1000:
        pytest.skip("less than 1000 s since local midnight: no room today for the scripted calls")
    e = driver.emit
    await e(AgentLoggedIn(now - 900, "agent01"))
    await e(AgentLoggedIn(now - 900, "agent02"))
    await e(AgentStateChanged(now - 800, "agent01", "paused", "training"))
    await e(AgentStateChanged(now - 500, "agent01", "available"))
    await e(CallQueued(now - 400, "r1", queue="billing"))
    await e(CallConnected(now - 390, "r1", "agent01", "billing"))
    await e(CallEnded(now - 300, "r1"))
    await e(WrapUpEnded(now - 290, "r1", "agent01", "resolved"))
    await e(DialerAttempted(now - 200, "o1", "spring", "L1"))
    await e(DialerResulted(now - 190, "o1", "spring", "L1", "human"))
    await app[STORE].put_interaction(
        Interaction(
            "r1", queue="billing", agent_id="agent01", started_at=now - 400, outcome="answered", disposition="resolved"
        )
    )
    await login(client, "sup")  # team-a: agent01, agent03
    data = await (await client.get("/api/v1/reports")).json()
    assert data["extras"]["pauses"]["training"]["by_agent"] == {"agent01": 300.0}
    assert data["extras"]["dispositions"]["resolved"]["total"] == 1
    assert data["extras"]["campaigns"]["spring"]["contacts"] == 1
    page = await (await client.get("/reports")).text()
    assert (
        'data-reason="training"' in page and 'data-disposition="resolved"' in page and 'data-campaign="spring"' in page
    )
    assert 'href="/reports/agent/agent01?from=' in page
    csv_pauses = (await (await client.get("/reports/export.csv?section=pauses")).text()).splitlines()
    assert csv_pauses == ["reason,agent,seconds", "training,agent01,300.0"]
    csv_campaigns = (await (await client.get("/reports/export.csv?section=campaigns")).text()).splitlines()
    assert (
        csv_campaigns[0].startswith("campaign,dials,contacts")
        and csv_campaigns[1] == "spring,1,1,1,0,0,0,0,0,0,0,0,0,0.0"
    )
    csv_dispositions = (await (await client.get("/reports/export.csv?section=dispositions")).text()).splitlines()
    assert csv_dispositions == ["disposition,agent,calls", "resolved,agent01,1"]

    today = date.fromtimestamp(now).isoformat()
    r = await client.get(f"/reports/agent/agent01?from={today}&to={today}")
    page = await r.text()
    assert r.status == 200 and 'id="agent-days"' in page and 'data-call="r1"' in page
    agent = await (await client.get(f"/api/v1/reports/agents/agent01?from={today}")).json()
    assert [d["handled"] for d in agent["days"]] == [1] and agent["total"]["handled"] == 1
    assert [c["id"] for c in agent["calls"]] == ["r1"] and agent["calls"][0]["disposition"] == "resolved"
    r = await client.get("/api/v1/reports/agents/agent02")  # team-b
    assert r.status == 403 and (await r.json())["error"].startswith("login:")
    r = await client.get("/api/v1/reports/agents/nobody")
    assert r.status == 404 and (await r.json())["error"].startswith("login:")
    r = await client.get("/api/v1/reports/agents/agent01?from=soon")
    assert r.status == 400 and (await r.json())["error"].startswith("from:")
