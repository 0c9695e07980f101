"""Manual dial from the agent desktop in a real browser, through the live loop on the
PBX emulator: the agent finds a customer and calls them; the call pops and connects;
a number on the do-not-call list is refused with the reason; the buttons follow the
agent's state."""

from __future__ import annotations

import time

from store.models import DncEntry
from tests.live.test_live_commands import Center
from tests.web.test_web_browser import browser, click, desktop, pytestmark  # noqa: F401  (fixture, marks)


async def test_an_agent_finds_a_customer_and_calls_them(browser, center: Center) -> None:  # noqa: F811
    from playwright.async_api import expect

    await center.store.add_dnc([DncEntry("+14155550199", source="api", added_at=time.time(), added_by="admin")])
    page = await desktop(browser, center, "agent01")
    await expect(page.locator("#btn-manual-dial")).to_be_disabled()  # logged out
    await click(page, "#btn-available", "available: done")
    await expect(page.locator("#btn-manual-dial")).to_be_enabled()

    await page.fill("#dial-number", "415 555 0199")
    await click(page, "#btn-manual-dial", "manual dial failed: number: +14155550199 is on the do-not-call list")
    assert center.state("agent01") == "available"

    await page.fill("#search-q", "grace")
    await page.click("#btn-search")
    call = page.locator('#search-results tr[data-customer="C0000042"] button.dial')
    await expect(call).to_have_text("Call +14155550142")
    await click(page, '#search-results tr[data-customer="C0000042"] button.dial', "manual dial: done")
    call_id = await center.connected("agent01")
    assert call_id.startswith("manual-")
    await expect(page.locator("#call-caller")).to_contain_text("4155550142", timeout=15000)
    await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
    await expect(page.locator("#btn-manual-dial")).to_be_disabled()  # on a call
    await expect(call).to_be_disabled()
    await click(page, "#btn-hangup", "hangup: done")
    await expect(page.locator("#call-status")).to_have_text("ended — wrap-up")
