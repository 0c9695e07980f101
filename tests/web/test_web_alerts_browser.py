"""Issue 17 item 4 in a real browser: the wallboard shows a queue's service-level alert
as a banner within 5 s of the condition, and takes it away when it clears."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from events import AgentStateChanged, CallConnected, CallEnded, CallQueued
from reports.web import WALLBOARD
from tests.web.test_web_browser import CHROMIUM, DOCS, browser, server, sign_in  # noqa: F401  (fixtures)
from tests.web.web_helpers import BusCallDriver
from web.app import SETTINGS

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


async def test_an_agent_paused_too_long_is_named_on_the_wallboard_then_cleared(browser, server: TestClient) -> None:  # noqa: F811
    """The admin adds the rule on the admin page; the supervisor's wallboard (sound
    chosen) shows the paused agent within 5 s of their pause running over, with a tone,
    and takes the banner away when they are available again."""
    from playwright.async_api import expect

    app = server.server.app
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 5)
    admin = await sign_in(browser, server, "admin")
    await admin.goto(str(server.make_url("/admin/alert-rules")))
    await expect(admin.locator("#section-title")).to_contain_text("version 0")
    await admin.click("#btn-add-row")
    row = admin.locator("#section-table tbody tr").last
    for field, value in {"__name": "long-pause", "kind": "agent_state", "state": "paused", "threshold": "2"}.items():
        await row.locator(f'input[data-field="{field}"]').fill(value)
    await admin.click("#btn-save")
    await expect(admin.locator("#result")).to_have_text("Saved as version 1")

    driver = BusCallDriver(app[STORE], app[BUS])
    await driver.agent_ready("agent01")
    page = await sign_in(browser, server, "sup")
    await page.goto(str(server.make_url("/wallboard")))
    await expect(page.locator("#conn")).to_have_text("live")
    await page.check("#alert-sound")  # per browser, off by default; checking it plays the tone once
    banner = page.locator('#alerts .alert[data-kind="agent_state"][data-agent="agent01"]')
    await expect(banner).to_have_count(0)

    paused_at = time.time()
    await driver.emit(AgentStateChanged(paused_at, "agent01", "paused", reason="break"))
    await expect(banner).to_contain_text("Ada Agent has been paused for", timeout=8000)
    assert time.time() - (paused_at + 2) < 5  # within 5 s of the condition
    await page.wait_for_function("window.hotlineAlertTones >= 2", timeout=3000)  # a tone for the new alert

    await driver.emit(AgentStateChanged(time.time(), "agent01", "available"))
    await expect(banner).to_have_count(0, timeout=5000)


async def test_tv_mode_sounds_an_alert_only_when_chosen(browser, server: TestClient) -> None:  # noqa: F811
    from playwright.async_api import expect

    app = server.server.app
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 5)
    rule = {"kind": "agent_state", "state": "paused", "threshold": 1}
    await app[SETTINGS].apply("alert_rules", {"long-pause": rule}, "admin", 0)
    driver = BusCallDriver(app[STORE], app[BUS])
    await driver.agent_ready("agent01")
    loud = await sign_in(browser, server, "sup")
    await loud.goto(str(server.make_url("/wallboard/tv?sound=1")))
    quiet = await sign_in(browser, server, "sup")
    await quiet.goto(str(server.make_url("/wallboard/tv")))
    for page in (loud, quiet):
        await expect(page.locator("#conn")).to_have_text("live")

    await driver.emit(AgentStateChanged(time.time(), "agent01", "paused", reason="break"))
    for page in (loud, quiet):
        await expect(page.locator('.tv-alert[data-agent="agent01"]')).to_contain_text("Ada Agent has been paused")
    assert await loud.evaluate("window.hotlineAlertTones || 0") == 1
    assert await quiet.evaluate("window.hotlineAlertTones || 0") == 0
