"""Issue 17 items 4-5 in a real browser: a supervisor clicks a wallboard queue tile for
its calls waiting and agents, an agent's name for their calls today (with the
recording's link) and moves them to another team for the day there; saves boards whose
tiles the TV mode shows, taking turns. Writes the docs' screenshots."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from reports.web import WALLBOARD
from reports.web_live import day_start
from store.models import Interaction, Recording
from tests.web.test_web_browser import CHROMIUM, DOCS, browser, server, sign_in  # noqa: F401  (fixtures)
from tests.web.web_helpers import CUSTOMER, BusCallDriver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]


async def test_the_wallboard_drills_down_and_moves_an_agent_for_the_day(browser, server: TestClient) -> None:  # noqa: F811
    from playwright.async_api import expect

    app = server.server.app
    store = app[STORE]
    now = time.time()
    if now - day_start(now) < 700:
        pytest.skip("too close to midnight for calls earlier today")
    await store.put_user(replace(await store.get_user("sup"), team="team-a,team-b"))
    await store.put_interaction(
        Interaction(
            "t1", queue="billing", agent_id="agent01", customer_id=CUSTOMER.id, caller="+14155550142",
            started_at=now - 600, answered_at=now - 590, ended_at=now - 470, outcome="answered", disposition="resolved",
        )
    )  # fmt: skip
    await store.put_recording(Recording("t1", "/tmp/none.wav", "agent01", "billing", now - 590, now - 470))
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 10)
    driver = BusCallDriver(store, app[BUS])
    for agent in ("agent01", "agent02", "agent03"):
        await driver.agent_ready(agent)
    await driver.offer("c1", "+14155550142", "support", "agent03", customer_id=CUSTOMER.id)
    await driver.connect("c1", "agent03", "support")
    await driver.arrive("w1", "+14155550142", "billing", customer_id=CUSTOMER.id)
    await driver.arrive("w2", "+14155550199", "billing")

    page = await sign_in(browser, server, "sup", viewport=(1280, 1000))
    await page.goto(str(server.make_url("/wallboard")))
    await expect(page.locator("#conn")).to_have_text("live")
    await page.locator('#queues .tile[data-queue="billing"]').click()
    drill = page.locator("#drill")
    await expect(drill.locator("#drill-title")).to_have_text("Billing · 2 waiting")
    rows = drill.locator("#drill-waiting tbody tr")
    await expect(rows.nth(0)).to_contain_text("Grace Hopper")
    await expect(rows.nth(1)).to_contain_text("+14155550199")
    await expect(drill.locator('#drill-agents tr[data-agent="agent01"]')).to_contain_text("available")
    await drill.screenshot(path=str(DOCS / "wallboard-drill-down.png"))

    # an agent's name: their calls today, the recording's link
    await page.locator('#drill-agents button[data-drill-agent="agent01"]').click()
    await expect(drill.locator("#drill-title")).to_have_text("Ada Agent · calls today")
    call = drill.locator('#drill-calls tr[data-call="t1"]')
    await expect(call).to_contain_text("Grace Hopper")
    await expect(call).to_contain_text("resolved")
    await expect(call.locator("a.recording")).to_have_attribute("href", "/recordings/t1")
    await expect(drill.locator("#drill-team")).to_have_text("team-a")

    # moved to team-b for the day: the wallboard's team tile counts them there
    await page.select_option("#team-move-to", "team-b")
    await page.click("#team-move-go")
    await expect(drill.locator("#team-move-status")).to_have_text("moved to team-b until midnight")
    await expect(drill.locator("#drill-team")).to_have_text("team-b")
    await expect(drill.locator("#drill-home")).to_have_text("(moved for today; own team team-a)")
    await expect(page.locator('#teams [data-team="team-b"] .big')).to_have_text("2", timeout=10000)
    await drill.screenshot(path=str(DOCS / "wallboard-team-move.png"))
    await page.click("#team-move-back")
    await expect(drill.locator("#drill-team")).to_have_text("team-a")
    await expect(page.locator('#teams [data-team="team-b"] .big')).to_have_text("1", timeout=10000)

    # the agent on a call: their cell names the customer and the time in state
    cell = page.locator('.agent-cell[data-agent="agent03"]')
    await expect(cell.locator(".call")).to_have_text("support · Grace Hopper")
    await expect(cell.locator(".badge")).to_have_text("on call")

    # boards saved from the page, shown by the TV mode, taking turns
    await page.fill("#board-name", "floor")
    for tile in ("alerts", "totals", "queues"):
        await page.check(f'#board-tiles input[value="{tile}"]')
    await page.click("#board-save")
    await expect(page.locator("#board-status")).to_have_text("saved floor")
    await page.fill("#board-name", "people")
    for tile in ("alerts", "totals", "queues"):
        await page.uncheck(f'#board-tiles input[value="{tile}"]')
    for tile in ("outbound", "agents"):
        await page.check(f'#board-tiles input[value="{tile}"]')
    await page.click("#board-save")
    await expect(page.locator("#boards li[data-board]")).to_have_count(2)

    tv = await sign_in(browser, server, "sup", viewport=(1920, 1080))
    await tv.goto(str(server.make_url("/wallboard/tv?board=floor")))
    await expect(tv.locator("#conn")).to_have_text("live")
    await expect(tv.locator('#queues [data-queue="billing"] .tv-big')).to_have_text("2")
    assert await tv.locator("#agents").count() == 0  # not on this board
    await tv.screenshot(path=str(DOCS / "wallboard-tv.png"))
    await tv.goto(str(server.make_url("/wallboard/tv?boards=floor,people&rotate=1")))
    await expect(tv.locator("#tv")).to_have_attribute("data-showing", "people", timeout=5000)
    await expect(tv.locator("#agents")).to_be_visible()
    await expect(tv.locator("#queues")).to_be_hidden()
    await expect(tv.locator('#agents [data-agent="agent03"]')).to_contain_text("Grace Hopper")
    await expect(tv.locator("#tv-outbound")).to_be_visible()
    await expect(tv.locator("#tv")).to_have_attribute("data-showing", "floor", timeout=5000)
    await expect(tv.locator("#queues")).to_be_visible()
    await expect(tv.locator("#agents")).to_be_hidden()
