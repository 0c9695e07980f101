"""Campaign admin API: the configured campaigns with their state and live numbers,
paused and started (kept in the store, announced to the live loop, audited)."""

from __future__ import annotations

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
    assert r.status == 200 and (await r.json()) == {"campaign": "spring", "paused": True}
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
