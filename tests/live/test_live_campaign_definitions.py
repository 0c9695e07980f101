"""Campaigns created from the admin API outlive a restart of the server: the new live
loop starts their dialers from the store, paused as an admin left them; a campaign of
hotline.toml edited by an admin runs with the admin's settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cti.live_root import LIVE
from cti.server import CONFIG, create_app
from tests.live.test_live_commands import Center, center  # noqa: F401  (fixture)
from tests.web.test_web_campaign_editor_browser import runner


@pytest.mark.parametrize("center", [{"campaign": "progressive"}], indirect=True)  # (hotline.toml's "spring")
async def test_admin_campaigns_survive_a_restart_paused_as_left(center: Center) -> None:  # noqa: F811
    desk = await center.desk("admin")
    h = {"X-CSRF-Token": desk.csrf}
    body = {"id": "autumn", "mode": "progressive", "skill": "support", "queue": "support", "base_version": 0}
    async with desk.session.post(f"{desk.base}/api/v1/campaigns", json=body, headers=h) as r:
        assert r.status == 201, await r.text()
    async with desk.session.post(f"{desk.base}/api/v1/campaigns/autumn/start", headers=h) as r:
        assert r.status == 200
    await center.until(lambda: runner(center, "autumn") is not None)
    async with desk.session.post(f"{desk.base}/api/v1/campaigns/autumn/pause", headers=h) as r:
        assert r.status == 200
    spring = runner(center, "spring")
    assert spring is not None and spring.campaign.config.caller_id == '"ACME" <8005550100>'
    edit = {"caller_id": '"ACME" <8005550111>', "base_version": 2}
    async with desk.session.put(f"{desk.base}/api/v1/campaigns/spring", json=edit, headers=h) as r:
        assert r.status == 200, await r.text()
    await center.until(lambda: spring.campaign.config.caller_id == '"ACME" <8005550111>')  # live, same dialer
    assert runner(center, "spring") is spring
    async with restarted(center) as again:
        await again.until(lambda: runner(again, "autumn") is not None)
        dialer = runner(again, "autumn")
        assert dialer is not None and dialer.paused and dialer.campaign.live.skill == "support"
        spring = runner(again, "spring")
        assert spring is not None and spring.campaign.config.caller_id == '"ACME" <8005550111>'
        assert not spring.paused and spring.campaign.live.leads.endswith("leads.csv")  # the file's keys kept
        # version 0 restored: the file's spring again, autumn (not in the file) stops dialling
        admin = await again.desk("admin")
        restore = {"version": 0, "base_version": 3}
        async with admin.session.post(
            f"{admin.base}/api/v1/campaigns/restore", json=restore, headers={"X-CSRF-Token": admin.csrf}
        ) as r:
            assert r.status == 200, await r.text()
        await again.until(lambda: spring.campaign.config.caller_id == '"ACME" <8005550100>')
        await again.until(lambda: not dialer.campaign.live.enabled and dialer.paused)


@asynccontextmanager
async def restarted(before: Center) -> AsyncIterator[Center]:
    """The server stopped and started again (its live loop running) on the same
    configuration, store and PBX."""
    config = before.client.server.app[CONFIG]
    await before.close()
    await asyncio.wait_for(before.client.close(), 20)
    again = TestClient(TestServer(create_app(config)))
    await asyncio.wait_for(again.start_server(), 20)
    try:
        c = Center(again, before.emulator)
        await c.until(lambda: LIVE in again.server.app and again.server.app[LIVE] is not None)
        yield c
        await c.close()
    finally:
        await asyncio.wait_for(again.close(), 20)


async def test_standing_lines_go_to_the_agents_of_the_admins_campaigns_too(tmp_path: Path) -> None:
    from config.schema import HotlineConfig, StoreConfig
    from cti.live_root import campaign_skills
    from dialer.definitions import save
    from store import open_store
    from tests.dialer.test_dialer_live import campaign_table, write_leads

    config = HotlineConfig(campaigns=campaign_table(write_leads(tmp_path / "leads.csv", ["human"]), skill="sales"))
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/lines.sqlite3"))
    try:
        await store.migrate()
        assert await campaign_skills(config, store) == {"sales"}
        for version, (cid, skill, enabled) in enumerate((("renewals", "billing", True), ("later", "spanish", False))):
            table = {"id": cid, "leads": "", "skill": skill, "enabled": enabled}
            await save(store, cid, table, author="admin", comment="", base_version=version, at=1.0)
        assert await campaign_skills(config, store) == {"sales", "billing"}  # (a stopped one has no lines)
    finally:
        await store.close()
