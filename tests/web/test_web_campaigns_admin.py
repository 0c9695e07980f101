"""Campaign admin API: the configured campaigns with their state and live numbers,
paused and started (kept in the store, announced to the live loop, audited)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from dialer.control import paused_campaigns
from store.topics import CAMPAIGN_TILES, CampaignTile
from tests.dialer.test_dialer_live import campaign_table, write_leads
from tests.web.conftest import serving, web_config
from tests.web.web_helpers import login


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    campaigns = campaign_table(write_leads(tmp_path / "leads.csv", ["human", "busy"]))
    async with serving(web_config(f"sqlite:///{tmp_path}/campaigns.sqlite3", campaigns=campaigns)) as c:
        yield c


async def test_campaigns_are_listed_paused_and_started(client: TestClient) -> None:
    app = client.server.app
    await CAMPAIGN_TILES.set(
        app[BUS],
        "spring",
        CampaignTile(
            name="Spring promo",
            mode="progressive",
            dials=7,
            answered=3,
            dropped=1,
            drop_rate=0.02,
            drop_cap=0.03,
            leads_left=40,
            decision="progressive: 1 idle",
        ),
    )
    h = {"X-CSRF-Token": await login(client, "admin")}
    [row] = (await (await client.get("/api/v1/campaigns")).json())["campaigns"]
    assert (row["id"], row["name"], row["mode"], row["state"], row["skill"]) == (
        "spring",
        "Spring promo",
        "progressive",
        "running",
        "outbound",
    )
    assert row["live"]["dials"] == 7 and row["live"]["leads_left"] == 40
    r = await client.post("/api/v1/campaigns/spring/pause", headers=h)
    assert r.status == 200 and (await r.json()) == {"campaign": "spring", "paused": True, "enabled": True}
    assert await paused_campaigns(app[STORE]) == {"spring"}
    [row] = (await (await client.get("/api/v1/campaigns")).json())["campaigns"]
    assert row["state"] == "paused"
    r = await client.post("/api/v1/campaigns/spring/start", headers=h)
    assert r.status == 200 and not (await r.json())["paused"] and await paused_campaigns(app[STORE]) == set()
    r = await client.post("/api/v1/campaigns/autumn/pause", headers=h)
    assert r.status == 404 and (await r.json())["error"].startswith("campaign:")
    audit = await (await client.get("/api/v1/audit")).json()
    assert [e["action"] for e in audit["entries"] if e["target"] == "spring"] == ["campaign.started", "campaign.paused"]
    client.session.cookie_jar.clear()
    sup = await login(client, "sup")
    assert (await client.get("/api/v1/campaigns")).status == 200
    assert (await client.post("/api/v1/campaigns/spring/pause", headers={"X-CSRF-Token": sup})).status == 403


async def test_campaigns_are_created_and_edited_with_each_bad_field_named(client: TestClient) -> None:
    app = client.server.app
    h = {"X-CSRF-Token": await login(client, "admin")}
    listed = await (await client.get("/api/v1/campaigns")).json()
    assert listed["version"] == 0 and listed["history"] == []
    [spring] = listed["campaigns"]  # hotline.toml's, shown as the starting version
    assert spring["origin"] == "hotline.toml" and spring["settings"]["max_attempts"] == 3
    assert spring["settings"]["calling_window"]["start"] == "00:00:00"

    bad = {"id": "summer", "mode": "fast", "drop_cap": 1.5, "calling_window": {"start": "21:00", "end": "09:00"}}
    r = await client.post("/api/v1/campaigns", json={**bad, "base_version": 0}, headers=h)
    assert r.status == 400
    answer = await r.json()
    assert set(answer["fields"]) == {"mode", "drop_cap", "calling_window"}
    assert any(p.startswith("drop_cap: ") for p in answer["problems"])
    assert any(p.startswith("calling_window: ") and "end must be after start" in p for p in answer["problems"])
    r = await client.post(
        "/api/v1/campaigns", json={"id": "summer", "leads": "/etc/passwd", "base_version": 0}, headers=h
    )
    assert r.status == 400 and (await r.json())["fields"] == ["leads"]  # not an admin's to set
    r = await client.post("/api/v1/campaigns", json={"id": "summer", "skill": "knitting", "base_version": 0}, headers=h)
    assert r.status == 400 and (await r.json())["error"].startswith("skill: unknown skill 'knitting'")
    r = await client.post("/api/v1/campaigns", json={"id": "bad id", "base_version": 0}, headers=h)
    assert r.status == 400 and (await r.json())["fields"] == ["id"]
    r = await client.post("/api/v1/campaigns", json={"id": "spring", "base_version": 0}, headers=h)
    assert r.status == 409  # the file's campaign is edited, not created again
    r = await client.post("/api/v1/campaigns", json={"id": "summer", "mode": "predictive"}, headers=h)
    assert r.status == 400 and (await r.json())["error"].startswith("base_version:")

    good = {"id": "summer", "name": "Summer", "mode": "predictive", "skill": "support", "drop_cap": 0.02}
    r = await client.post("/api/v1/campaigns", json={**good, "base_version": 0, "comment": "new"}, headers=h)
    assert r.status == 201, await r.text()
    assert (await r.json())["version"] == 1
    listed = await (await client.get("/api/v1/campaigns")).json()
    rows = {c["id"]: c for c in listed["campaigns"]}
    assert set(rows) == {"spring", "summer"}  # the file's campaign is never wiped by an admin's save
    assert (rows["summer"]["origin"], rows["summer"]["state"], rows["summer"]["mode"]) == (
        "admin",
        "stopped",
        "predictive",
    )
    assert rows["summer"]["settings"]["drop_cap"] == 0.02 and rows["spring"]["origin"] == "hotline.toml"

    r = await client.put("/api/v1/campaigns/spring", json={"max_attempts": 0, "base_version": 1}, headers=h)
    assert r.status == 400 and (await r.json())["fields"] == ["max_attempts"]
    r = await client.put("/api/v1/campaigns/spring", json={"caller_id": "x", "base_version": 0}, headers=h)
    assert r.status == 409  # edited from an old version
    r = await client.put("/api/v1/campaigns/autumn", json={"caller_id": "x", "base_version": 1}, headers=h)
    assert r.status == 404
    r = await client.put("/api/v1/campaigns/spring", json={"max_attempts": 7, "base_version": 1}, headers=h)
    assert r.status == 200, await r.text()
    rows = {c["id"]: c for c in (await (await client.get("/api/v1/campaigns")).json())["campaigns"]}
    assert rows["spring"]["origin"] == "admin" and rows["spring"]["settings"]["max_attempts"] == 7
    assert rows["spring"]["settings"]["calling_window"]["start"] == "00:00:00"  # the rest kept

    r = await client.post("/api/v1/campaigns/summer/start", headers=h)
    assert r.status == 200 and (await r.json())["enabled"] is True
    r = await client.post("/api/v1/campaigns/spring/stop", headers=h)
    assert r.status == 200 and (await r.json())["enabled"] is False
    listed = await (await client.get("/api/v1/campaigns")).json()
    states = {c["id"]: c["state"] for c in listed["campaigns"]}
    assert states == {"spring": "stopped", "summer": "running"}
    assert [v["comment"] for v in listed["history"]] == ["stop spring", "start summer", "edit spring", "new"]
    assert [v["version"] for v in listed["history"]] == [4, 3, 2, 1]
    audit = await (await client.get("/api/v1/audit")).json()
    actions = [(e["action"], e["target"]) for e in audit["entries"] if e["action"].startswith("campaign.")]
    assert actions == [
        ("campaign.stopped", "spring"),
        ("campaign.started", "summer"),
        ("campaign.edited", "spring"),
        ("campaign.created", "summer"),
    ]
    assert await paused_campaigns(app[STORE]) == set()

    r = await client.post("/api/v1/campaigns/restore", json={"version": 0, "base_version": 4}, headers=h)
    assert r.status == 200 and (await r.json())["version"] == 5
    rows = {c["id"]: c for c in (await (await client.get("/api/v1/campaigns")).json())["campaigns"]}
    assert list(rows) == ["spring"] and rows["spring"]["origin"] == "hotline.toml"  # the file's alone, as it has it
    assert (rows["spring"]["state"], rows["spring"]["settings"]["max_attempts"]) == ("running", 3)
    r = await client.post("/api/v1/campaigns/restore", json={"version": 2, "base_version": 5}, headers=h)
    assert r.status == 200
    rows = {c["id"]: c for c in (await (await client.get("/api/v1/campaigns")).json())["campaigns"]}
    assert (rows["spring"]["settings"]["max_attempts"], rows["summer"]["state"]) == (7, "stopped")
    r = await client.post("/api/v1/campaigns/restore", json={"version": 99, "base_version": 6}, headers=h)
    assert r.status == 404 and (await r.json())["error"].startswith("version:")
    r = await client.post("/api/v1/campaigns/restore", json={"version": 1, "base_version": 5}, headers=h)
    assert r.status == 409
    audit = await (await client.get("/api/v1/audit")).json()
    assert [e["detail"]["restored"] for e in audit["entries"] if e["action"] == "campaign.restored"] == [2, 0]
    client.session.cookie_jar.clear()
    sup = {"X-CSRF-Token": await login(client, "sup")}
    r = await client.put("/api/v1/campaigns/spring", json={"max_attempts": 2, "base_version": 4}, headers=sup)
    assert r.status == 403


async def test_a_campaign_is_deleted_once_stopped_with_nothing_in_progress(client: TestClient) -> None:
    app = client.server.app
    h = {"X-CSRF-Token": await login(client, "admin")}
    r = await client.delete("/api/v1/campaigns/spring", headers=h)  # hotline.toml's, running
    assert r.status == 409 and (await r.json())["error"] == "campaign: spring is running; stop it first, then delete it"
    assert (await client.post("/api/v1/campaigns/spring/pause", headers=h)).status == 200
    r = await client.delete("/api/v1/campaigns/spring", headers=h)
    assert r.status == 409 and "spring is paused; stop it first" in (await r.json())["error"]
    assert (await client.post("/api/v1/campaigns/spring/stop", headers=h)).status == 200  # version 1

    async def tile(state: str, in_flight: int) -> None:  # what the live loop's dialer says of it
        spring = CampaignTile(name="Spring", at=time.time(), state=state, in_flight=in_flight)
        await CAMPAIGN_TILES.set(app[BUS], "spring", spring)

    await tile(state="paused", in_flight=0)  # the stop not applied by the dialer yet
    r = await client.delete("/api/v1/campaigns/spring", headers=h)
    assert r.status == 409 and (await r.json())["error"] == "campaign: spring is still stopping; try again in a moment"
    await tile(state="stopped", in_flight=2)  # stopped, its last calls still up
    r = await client.delete("/api/v1/campaigns/spring", headers=h)
    assert r.status == 409 and "spring has 2 call(s) in progress" in (await r.json())["error"]
    await tile(state="stopped", in_flight=0)
    r = await client.delete("/api/v1/campaigns/spring", headers=h)
    assert r.status == 200, await r.text()
    assert await r.json() == {"campaign": "spring", "deleted": True, "version": 2}
    assert await CAMPAIGN_TILES.get(app[BUS], "spring") is None  # off the wallboard

    listed = await (await client.get("/api/v1/campaigns")).json()
    assert (listed["campaigns"], listed["deleted"], listed["history"][0]["comment"]) == (
        [],
        ["spring"],
        "delete spring",
    )
    assert (await client.delete("/api/v1/campaigns/spring", headers=h)).status == 404
    assert (await client.post("/api/v1/campaigns/spring/start", headers=h)).status == 404
    assert (await client.post("/api/v1/campaigns/spring/leads", json={"csv": "x"}, headers=h)).status == 404
    r = await client.put("/api/v1/campaigns/spring", json={"max_attempts": 2, "base_version": 2}, headers=h)
    assert r.status == 404
    r = await client.post("/api/v1/campaigns", json={"id": "spring", "base_version": 2}, headers=h)
    assert r.status == 409 and (await r.json())["fields"] == ["id"]  # its leads and history keep the id
    audit = await (await client.get("/api/v1/audit")).json()
    assert [e["action"] for e in audit["entries"] if e["target"] == "spring"][:2] == [
        "campaign.deleted",
        "campaign.stopped",
    ]
    # an earlier version restored brings it back, stopped
    r = await client.post("/api/v1/campaigns/restore", json={"version": 1, "base_version": 2}, headers=h)
    assert r.status == 200
    listed = await (await client.get("/api/v1/campaigns")).json()
    assert [(c["id"], c["state"]) for c in listed["campaigns"]] == [("spring", "stopped")] and listed["deleted"] == []

    client.session.cookie_jar.clear()
    sup = {"X-CSRF-Token": await login(client, "sup")}
    assert (await client.delete("/api/v1/campaigns/spring", headers=sup)).status == 403
