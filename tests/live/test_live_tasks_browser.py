"""Written contacts on the desktop in a real browser (issue 18): an agent on a call (the
PBX emulator, the live loop) is given a chat by the router (capacity allowing), sees it
in a tab with the customer and their history across channels, replies and closes it
with a wrap-up; the call goes on meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from cti.live_app import LIVE
from cti.server import STORE
from tasks.web import TASK_DESK
from tests.live.test_live_browser import grace_calls, live_server  # noqa: F401  (fixture)
from tests.web.test_web_browser import CHROMIUM, browser, sign_in  # noqa: F401  (fixture)
from tests.web.web_helpers import CUSTOMER

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]

ROUTING = {
    "defaults": {"wrap_up_s": 30},
    "rona": {"ring_timeout_s": 15},
    "capacity": {"default": {"combos": [{"voice": 1, "chat": 1}, {"chat": 3}]}},
}


@pytest.mark.parametrize("live_server", [{"routing": ROUTING}], indirect=True)
async def test_an_agent_on_a_call_answers_a_chat_in_a_tab_and_closes_it(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    server, emulator = live_server
    app = server.server.app
    page = await sign_in(browser, server, "agent01")
    await expect(page.locator("#conn")).to_have_text("live")
    await page.click("#btn-available")
    await expect(page.locator("#reply")).to_have_text("available: done")
    callers = await grace_calls(emulator, {"PATIENCE": "60", "__AGENT_TALK": "120"})
    try:
        await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
        await expect(page.locator("#no-tasks")).to_be_visible()

        desk = app[TASK_DESK]
        chat = await desk.open(channel="chat", queue="support", customer_id=CUSTOMER.id, subject="Where is my parcel?")
        await desk.add_message(chat.task_id, direction="in", author="Grace", text="Hi, <b>where</b> is my parcel?")

        tab = page.locator(f'.task-tab[data-task="{chat.task_id}"]')
        await expect(tab).to_have_text("chat: Where is my parcel?", timeout=10000)
        panel = page.locator(f'.task-panel[data-task="{chat.task_id}"]')
        await expect(panel.locator(".customer-name")).to_have_text("Grace Hopper")
        await expect(panel.locator(".msg-in .msg-text")).to_have_text("Hi, <b>where</b> is my parcel?")  # as text
        await expect(panel.locator('.history-row[data-channel="voice"]').first).to_be_visible()
        await expect(page.locator("#call-status")).to_have_text("talking")  # the call goes on beside it
        assert app[LIVE].router.agent_load("agent01") == {"voice": 1, "chat": 1}

        await panel.locator(".task-reply-text").fill("It left the depot this morning.")
        await panel.locator(".task-send").click()
        await expect(panel.locator(".msg-out .msg-text")).to_have_text("It left the depot this morning.")
        await page.locator("#tasks-card").screenshot(path="/tmp/chan-desktop-tasks.png")
        [reply] = [m for m in await desk.messages(chat.task_id) if m.direction == "out"]
        assert (reply.author, reply.text) == ("agent01", "It left the depot this morning.")

        await panel.locator(".task-disposition").select_option("resolved")
        await panel.locator(".task-notes").fill("tracking number given")
        await panel.locator(".task-close").click()
        await expect(tab).to_have_count(0)
        await expect(page.locator("#no-tasks")).to_be_visible()
        closed = await app[STORE].get_task(chat.task_id)
        assert (closed.state, closed.disposition, closed.notes) == ("closed", "resolved", "tracking number given")
        assert closed.first_response_at is not None

        async def chat_slot_freed() -> None:
            while app[LIVE].router.agent_load("agent01") != {"voice": 1}:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(chat_slot_freed(), 10)
        await expect(page.locator("#call-status")).to_have_text("talking")
    finally:
        await callers.close()
