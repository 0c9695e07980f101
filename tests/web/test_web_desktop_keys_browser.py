"""Keyboard shortcuts on the agent desktop, in a real browser through the live loop on
the PBX emulator: "?" shows them; each key does what its button does, only when the
button could be clicked (pause on a call does nothing); typing in a field never fires
one; hold/resume, hang-up and wrap-up done from the keyboard reach the PBX and the store."""

from __future__ import annotations

from typing import Any

from tests.live.test_live_commands import Center
from tests.web.test_web_browser import browser, desktop, pytestmark  # noqa: F401  (fixture, marks)


async def test_the_main_actions_have_keys_that_follow_the_buttons(browser: Any, center: Center) -> None:  # noqa: F811
    from playwright.async_api import expect

    page = await desktop(browser, center, "agent01")
    help_box = page.locator("#shortcuts-help")
    await expect(help_box).to_be_hidden()
    await page.keyboard.press("?")
    await expect(help_box).to_be_visible()
    keys = await help_box.locator("tr[data-key]").evaluate_all("(rows) => rows.map((r) => r.dataset.key)")
    assert keys == ["a", "p", "d", "s", "h", "x", "t", "w"]
    await expect(help_box.locator('tr[data-key="x"]')).to_contain_text("Hang up")
    await page.keyboard.press("Escape")
    await expect(help_box).to_be_hidden()
    await expect(page.locator("#btn-hangup")).to_have_attribute("aria-keyshortcuts", "X")

    await page.keyboard.press("a")
    await expect(page.locator("#reply")).to_have_text("available: done")
    await center.until(lambda: center.state("agent01") == "available")
    await page.fill("#search-q", "pa")  # typed in a field: "p" does not pause
    await page.fill("#dial-number", "p")
    await page.locator("#search-q").press("p")
    assert center.state("agent01") == "available"
    await page.locator("h2").first.click()  # (out of the fields)
    # a key works once its button does: the desktop enables it when the state reaches it
    await expect(page.locator("#btn-pause")).to_be_enabled()
    await page.keyboard.press("p")
    await expect(page.locator("#reply")).to_have_text("pause: done")
    await center.until(lambda: center.state("agent01") == "paused")
    await expect(page.locator("#btn-available")).to_be_enabled()
    await page.keyboard.press("a")
    await center.until(lambda: center.state("agent01") == "available")

    await center.caller()
    call_id = await center.connected("agent01")
    await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
    await expect(page.locator("#btn-pause")).to_be_disabled()
    await page.keyboard.press("p")  # as its disabled button: nothing
    await page.keyboard.press("h")
    await expect(page.locator("#reply")).to_have_text("hold: done")
    await center.until(lambda: center.caller_channel(call_id).moh and not center.talking_to(call_id))
    await expect(page.locator("#call-status")).to_have_text("on hold")
    await page.keyboard.press("h")  # the same key resumes
    await expect(page.locator("#reply")).to_have_text("resume: done")
    await center.until(lambda: center.talking_to(call_id) and not center.caller_channel(call_id).moh)
    assert center.state("agent01") == "on_call"  # the "p" on the call did nothing
    await page.keyboard.press("t")  # no target typed: to the target field
    await expect(page.locator("#transfer-target")).to_be_focused()
    await page.keyboard.press("x")  # typed into the field, not a hang-up
    await expect(page.locator("#transfer-target")).to_have_value("x")
    assert center.state("agent01") == "on_call"
    await page.fill("#transfer-target", "")
    await page.locator("h2").first.click()
    await page.keyboard.press("w")  # wrap-up done is disabled while talking: nothing
    await page.keyboard.press("x")
    await expect(page.locator("#reply")).to_have_text("hangup: done")
    await expect(page.locator("#call-status")).to_have_text("ended — wrap-up")
    await page.select_option("#disposition", "resolved")
    await page.locator("h2").first.click()
    await page.keyboard.press("w")
    await expect(page.locator("#wrapup-result")).to_have_text("Saved: resolved")
    saved = await center.store.get_interaction(call_id)
    assert (saved.disposition, saved.agent_id) == ("resolved", "agent01")
