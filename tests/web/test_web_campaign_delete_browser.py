"""Deleting a campaign from /admin/campaigns in a real browser, on the live loop and
the PBX emulator: refused while it runs (the reason shown), deleted once stopped: gone
from the list, its dialer retired, its lead rows kept (tests/live/test_live_campaign_delete.py:
calls in progress, the reports and a restart)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cti.server import BUS
from store.topics import CAMPAIGN_TILES
from tests.live.test_live_commands import Center, center  # noqa: F401  (fixture)
from tests.web.test_web_browser import browser, pytestmark, sign_in  # noqa: F401  (fixture, marks)
from tests.web.test_web_campaign_editor_browser import runner


@pytest.mark.parametrize("center", [{"campaign": "progressive"}], indirect=True)  # (hotline.toml's "spring")
async def test_an_admin_deletes_a_stopped_campaign_from_the_page(browser: Any, center: Center) -> None:  # noqa: F811
    from playwright.async_api import expect

    await center.until(lambda: runner(center, "spring") is not None)
    spring = runner(center, "spring")
    assert spring is not None
    page = await sign_in(browser, center.client, "admin")
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # (the confirmations)
    await page.goto(str(center.client.make_url("/admin/campaigns")))
    row = page.locator('#campaigns tr[data-campaign="spring"]')
    await expect(row.locator(".state")).to_have_text("running")

    await row.locator("button.delete").click()
    await expect(page.locator("#result")).to_have_text("campaign: spring is running; stop it first, then delete it")
    await expect(row).to_have_count(1)

    await row.locator("button.stop").click()
    await expect(row.locator(".state")).to_have_text("stopped")

    async def stopped() -> bool:  # (its dialer took the stop: its tile says so)
        tile = await CAMPAIGN_TILES.get(center.client.server.app[BUS], "spring")
        return tile is not None and tile.state == "stopped"

    await center.until(stopped)
    await row.locator("button.delete").click()
    await expect(page.locator("#result")).to_have_text("Deleted spring (version 2)")
    await expect(row).to_have_count(0)
    await expect(page.locator('#history tr[data-version="2"]')).to_contain_text("delete spring")
    await expect(page.locator('#leads-campaign option[value="spring"]')).to_have_count(0)
    await center.until(lambda: spring.deleted and not spring.campaign.live.enabled)
    assert sorted(r.lead_id for r in await center.store.lead_states("spring")) == ["L1", "L2"]
