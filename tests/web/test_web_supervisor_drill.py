"""Issue 17 item 4-5 over the real server's API: the wallboard's drill-downs (a queue's
calls waiting and agents; an agent's calls today with their recordings), saved boards
(and the TV mode showing them), outbound apart from the inbound totals, and moving an
agent to another team for the day (who may, what follows, and that it ends at midnight)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient

from agents.team_moves import moves_today, users_today
from cti.server import BUS, STORE
from events import CallConnected, CallEnded, CallQueued
from reports.web import WALLBOARD
from reports.web_live import day_start
from store.models import Interaction, Recording
from tests.web.web_helpers import CUSTOMER, BusCallDriver, login, wait_until


def headers(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


async def snapshot(client: TestClient) -> dict:
    r = await asyncio.wait_for(client.get("/api/v1/wallboard"), 10)
    assert r.status == 200
    return await r.json()


async def test_a_queue_tile_drills_down_to_its_calls_waiting_and_its_agents(client: TestClient) -> None:
    app = client.server.app
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 10)
    driver = BusCallDriver(app[STORE], app[BUS])
    await driver.agent_ready("agent01")
    await driver.agent_ready("agent02")  # team-b: not sup's
    await driver.arrive("w1", "+14155550142", "billing", customer_id=CUSTOMER.id)
    await driver.arrive("w2", "+14155550999", "billing")
    await login(client, "sup")

    async def drilled() -> dict | None:
        r = await client.get("/api/v1/wallboard/queues/billing")
        body = await r.json()
        return body if r.status == 200 and len(body["waiting"]) == 2 and body["waiting"][0]["customer"] else None

    await wait_until(drilled, timeout=10)
    body = await drilled()
    assert body is not None
    first, second = body["waiting"]
    assert first["customer"] == "Grace Hopper" and first["number"] == "+14155550142" and first["waited_s"] >= 0
    assert second["customer"] == "" and second["caller"] == "+14155550999"
    agents = {a["id"]: a for a in body["agents"]}
    assert set(agents) == {"agent01"}  # billing's agents of sup's teams (agent02 is team-b's, and has no billing)
    assert agents["agent01"]["state"] == "available" and agents["agent01"]["in_state_s"] >= 0

    r = await client.get("/api/v1/wallboard/queues/nosuch")
    assert r.status == 404 and "queue" in (await r.json())["error"]


async def test_an_agent_drills_down_to_their_calls_today_with_the_recording(client: TestClient) -> None:
    app = client.server.app
    store = app[STORE]
    now = time.time()
    if now - day_start(now) < 700:
        pytest.skip("too close to midnight for calls earlier today")
    await store.put_interaction(
        Interaction(
            "t1", queue="billing", agent_id="agent01", customer_id=CUSTOMER.id, caller="+14155550142",
            started_at=now - 600, answered_at=now - 590, ended_at=now - 470, outcome="answered", disposition="resolved",
        )
    )  # fmt: skip
    await store.put_interaction(
        Interaction("t2", queue="support", agent_id="agent01", caller="+14155550777", started_at=now - 300,
                    answered_at=now - 295, ended_at=now - 200, outcome="answered")
    )  # fmt: skip
    await store.put_interaction(Interaction("y1", agent_id="agent01", started_at=now - 86400 * 2, outcome="answered"))
    await store.put_recording(Recording("t1", "/tmp/none.wav", "agent01", "billing", now - 590, now - 470))
    await login(client, "sup")
    r = await client.get("/api/v1/agents/agent01/calls")
    assert r.status == 200
    body = await r.json()
    assert body["team"] == "team-a" and body["name"] == "Ada Agent"
    calls = {c["call_id"]: c for c in body["calls"]}
    assert set(calls) == {"t1", "t2"}  # today's only
    assert calls["t1"]["customer"] == "Grace Hopper" and calls["t1"]["duration_s"] == 130
    assert calls["t1"]["disposition"] == "resolved" and calls["t1"]["recording"] == "/recordings/t1"
    assert calls["t2"]["recording"] is None and calls["t2"]["caller"] == "+14155550777"
    assert [c["call_id"] for c in body["calls"]] == ["t2", "t1"]  # latest first
    assert (await client.get("/api/v1/agents/agent02/calls")).status == 403  # team-b


async def test_boards_are_saved_and_the_tv_shows_their_tiles(client: TestClient) -> None:
    csrf = await login(client, "sup")
    h = headers(csrf)
    r = await client.put("/api/v1/wallboard/boards/floor", json={"tiles": ["alerts", "queues"]}, headers=h)
    assert r.status == 200, await r.text()
    r = await client.put("/api/v1/wallboard/boards/people", json={"tiles": ["teams", "agents"]}, headers=h)
    assert r.status == 200
    for bad, field in (
        ({"tiles": ["alerts", "clock"]}, "clock"),
        ({"tiles": []}, "tiles"),
        ({"tiles": ["agents", "agents"]}, "at most once"),
    ):
        r = await client.put("/api/v1/wallboard/boards/x", json=bad, headers=h)
        assert r.status == 400 and field in (await r.json())["error"], bad
    assert (await client.put("/api/v1/wallboard/boards/%20x", json={"tiles": ["alerts"]}, headers=h)).status == 400
    body = await (await client.get("/api/v1/wallboard/boards")).json()
    assert body["boards"] == [
        {"name": "floor", "tiles": ["alerts", "queues"]},
        {"name": "people", "tiles": ["teams", "agents"]},
    ]
    assert "outbound" in body["tiles"]

    page = await (await client.get("/wallboard/tv?board=floor")).text()
    assert 'data-tile="queues"' in page and 'data-tile="alerts"' in page and 'data-tile="agents"' not in page
    page = await (await client.get("/wallboard/tv?boards=*")).text()
    assert 'data-rotate="15"' in page and 'data-tile="agents"' in page and 'data-tile="totals"' not in page
    r = await client.get("/wallboard/tv?board=nosuch")
    assert r.status == 404 and "nosuch" in await r.text()

    r = await client.delete("/api/v1/wallboard/boards/people", headers=h)
    assert r.status == 200 and [b["name"] for b in (await r.json())["boards"]] == ["floor"]
    assert (await client.delete("/api/v1/wallboard/boards/people", headers=h)).status == 404
    admin = headers(await login(client, "admin"))
    audit = await (await client.get("/api/v1/audit?action=wallboard", headers=admin)).json()
    assert {e["action"] for e in audit["entries"]} == {"wallboard.board_saved", "wallboard.board_removed"}


async def test_outbound_calls_are_apart_from_the_inbound_totals(client: TestClient) -> None:
    app = client.server.app
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 10)
    driver = BusCallDriver(app[STORE], app[BUS])
    await driver.agent_ready("agent01")
    t = time.time()
    await driver.emit(CallQueued(t, "in1", queue="billing"))
    await driver.emit(CallConnected(t + 1, "in1", "agent01", "billing"))
    await driver.emit(CallEnded(t + 30, "in1"))
    await driver.emit(
        CallQueued(t + 31, "out1", queue="billing", attributes={"direction": "outbound", "campaign": "c1"})
    )
    await driver.emit(CallConnected(t + 32, "out1", "agent01", "billing"))
    await driver.emit(CallEnded(t + 60, "out1"))
    await login(client, "sup")

    async def both() -> bool:
        s = await snapshot(client)
        return s["outbound"]["offered"] == 1 and s["totals"]["offered"] == 1

    await wait_until(both, timeout=10)
    s = await snapshot(client)
    assert s["totals"]["answered"] == 1 and s["outbound"]["answered"] == 1


async def test_a_supervisor_of_both_teams_moves_an_agent_for_the_day(client: TestClient) -> None:
    app = client.server.app
    store = app[STORE]
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 10)
    await store.put_user(replace(await store.get_user("sup"), team="team-a,team-b"))
    await store.put_user(replace(await store.get_user("sup"), login="sue2", team="team-b", display_name="Sue Two"))
    driver = BusCallDriver(store, app[BUS])
    await driver.agent_ready("agent01")

    only_b = headers(await login(client, "sue2"))  # supervises team-b only: agent01 is team-a's
    r = await client.put("/api/v1/agents/agent01/team-move", json={"team": "team-b"}, headers=only_b)
    assert r.status == 403 and "team-a" in (await r.json())["error"]

    h = headers(await login(client, "sup"))
    for body, status, field in (({"team": "nosuch"}, 400, "team"), ({}, 400, "team"), ({"team": 3}, 400, "team")):
        r = await client.put("/api/v1/agents/agent01/team-move", json=body, headers=h)
        assert r.status == status and field in (await r.json())["error"], body
    assert (await client.put("/api/v1/agents/nobody/team-move", json={"team": "team-b"}, headers=h)).status == 404
    r = await client.put("/api/v1/agents/agent01/team-move", json={"team": "team-b"}, headers=h)
    assert r.status == 200, await r.text()
    moved = await r.json()
    assert moved["team"] == "team-b" and moved["home"] == "team-a" and moved["until"] > time.time()

    async def on_the_board_in(team: str) -> bool:
        s = await snapshot(client)
        return any(a["id"] == "agent01" and a["team"] == team for a in s["agents"])

    await wait_until(lambda: on_the_board_in("team-b"), timeout=10)  # the wallboard groups them with team-b now
    listed = await (await client.get("/api/v1/team-moves")).json()
    assert [(m["agent"], m["team"], m["by"]) for m in listed["moves"]] == [("agent01", "team-b", "sup")]
    # team-b's supervisor sees and may watch them today; team-a's own agent list no longer has them
    b_only = headers(await login(client, "sue2"))
    assert (await client.get("/api/v1/agents/agent01/calls", headers=b_only)).status == 200
    s = await snapshot(client)
    assert any(a["id"] == "agent01" for a in s["agents"])

    admin = headers(await login(client, "admin"))
    audit = await (await client.get("/api/v1/audit?action=agent.team_moved", headers=admin)).json()
    [entry] = audit["entries"]
    assert entry["actor"] == "sup" and entry["target"] == "agent01" and entry["detail"]["team"] == "team-b"

    # the next day: back in their own team, with nobody doing anything
    tomorrow = time.time() + 86400
    assert {u.login: u.team for u in await users_today(store, tomorrow, "agent")}["agent01"] == "team-a"
    assert await moves_today(store, tomorrow) == {}

    # ended early by a supervisor of both teams
    h = headers(await login(client, "sup"))
    r = await client.delete("/api/v1/agents/agent01/team-move", headers=h)
    assert r.status == 200 and (await r.json())["team"] == "team-a"
    await wait_until(lambda: on_the_board_in("team-a"), timeout=10)
    assert (await (await client.get("/api/v1/team-moves")).json())["moves"] == []
