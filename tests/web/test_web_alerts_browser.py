"""Issue 17 item 4 in a real browser: the wallboard shows a queue's service-level alert
as a banner within 5 s of the condition, and takes it away when it clears."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from events import CallConnected, CallEnded, CallQueued
from reports.web import WALLBOARD
from tests.web.test_web_browser import CHROMIUM, DOCS, browser, server, sign_in  # noqa: F401  (fixtures)
from tests.web.web_helpers import BusCallDriver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]


async def test_the_wallboard_banner_shows_and_clears_a_service_level_alert(browser, server: TestClient) -> None:  # noqa: F811
    from playwright.async_api import expect

    app = server.server.app
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 5)
    driver = BusCallDriver(app[STORE], app[BUS])
    await driver.agent_ready("agent01")
    page = await sign_in(browser, server, "sup")
    await page.goto(str(server.make_url("/wallboard")))
    await expect(page.locator("#conn")).to_have_text("live")
    banner = page.locator('#alerts .alert[data-queue="billing"][data-kind="service_level"]')
    await expect(banner).to_have_count(0)

    t = time.time() + 1
    await driver.emit(CallQueued(t, "slow", queue="billing"))
    await driver.emit(CallConnected(t + 60, "slow", "agent01", "billing"))
    await driver.emit(CallEnded(t + 70, "slow"))
    await expect(banner).to_contain_text("service level 0% over the last 30 min", timeout=5000)
    await page.screenshot(path=str(DOCS / "wallboard-alert.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 560})

    for i in range(4):
        at = t + 71 + i
        await driver.emit(CallQueued(at, f"fast{i}", queue="billing"))
        await driver.emit(CallConnected(at + 1, f"fast{i}", "agent01", "billing"))
        await driver.emit(CallEnded(at + 2, f"fast{i}"))
    await expect(banner).to_have_count(0, timeout=5000)
