"""Written contacts on the desktop in a real browser (issue 18): an agent on a call (the
PBX emulator, the live loop) is given a chat by the router (capacity allowing), sees it
in a tab with the customer and their history across channels, replies and closes it
with a wrap-up; the call goes on meanwhile."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from cti.live_app import LIVE
from cti.server import STORE
from tasks.web import TASK_DESK
from tests.live.test_live_browser import grace_calls, live_server  # noqa: F401  (fixture)
from tests.live.test_live_task_overdue import ROUTING as OVERDUE_ROUTING
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


def accept_routing(accept_s: float) -> dict[str, object]:
    """Chats wait `accept_s` for the agent's Accept; one miss pauses the agent."""
    return {
        "defaults": {"wrap_up_s": 30},
        "rona": {"ring_timeout_s": 15, "accept_s": {"chat": accept_s}, "max_misses": 1},
    }


async def available(browser: Any, server: Any, login: str) -> Any:  # noqa: F811
    """`login`'s desktop, live and available."""
    from playwright.async_api import expect

    page = await sign_in(browser, server, login)
    await expect(page.locator("#conn")).to_have_text("live")
    await page.click("#btn-available")
    await expect(page.locator("#reply")).to_have_text("available: done")
    return page


@pytest.mark.parametrize("live_server", [{"routing": accept_routing(30)}], indirect=True)
async def test_an_offered_chat_shows_its_offer_and_opens_in_a_tab_on_accept(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    server, _ = live_server
    app = server.server.app
    page = await available(browser, server, "agent01")
    desk = app[TASK_DESK]
    chat = await desk.open(channel="chat", queue="support", customer_id=CUSTOMER.id, subject="Where is my parcel?")
    offer = page.locator(f'.task-offer[data-task="{chat.task_id}"]')
    await expect(offer).to_be_visible(timeout=10000)
    await expect(offer.locator(".offer-channel")).to_have_text("chat")
    await expect(offer.locator(".offer-customer")).to_have_text("Grace Hopper")
    await expect(offer.locator(".offer-queue")).to_have_text("support")
    await expect(offer.locator(".offer-countdown")).to_have_text(re.compile(r"^(2\d|30) s to accept$"))
    await expect(page.locator(f'.task-tab[data-task="{chat.task_id}"]')).to_have_count(0)  # not a tab yet
    await page.locator("#tasks-card").screenshot(path="/tmp/tasks-offer.png")

    await offer.locator(".task-accept").click()
    await expect(page.locator(f'.task-tab[data-task="{chat.task_id}"]')).to_have_text("chat: Where is my parcel?")
    await expect(offer).to_have_count(0)
    row = await app[STORE].get_task(chat.task_id)
    assert (row.state, row.agent_id) == ("assigned", "agent01")
    assert app[LIVE].router.agent_load("agent01") == {"chat": 1}


@pytest.mark.parametrize("live_server", [{"routing": accept_routing(6)}], indirect=True)
async def test_an_offer_not_accepted_goes_and_the_chat_is_offered_to_the_next_agent(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    server, _ = live_server
    app = server.server.app
    ada = await available(browser, server, "agent01")

    desk = app[TASK_DESK]
    chat = await desk.open(channel="chat", queue="support", customer_id=CUSTOMER.id, subject="Hello?")
    offer = ada.locator(f'.task-offer[data-task="{chat.task_id}"]')
    await expect(offer).to_be_visible(timeout=10000)
    cy = await available(browser, server, "agent03")

    # ring-no-answer: the offer goes from agent01's desktop, who is paused as after a missed call
    await expect(offer).to_have_count(0, timeout=15000)
    await expect(ada.locator("#state")).to_have_text("paused · rona")
    await expect(ada.locator(f'.task-tab[data-task="{chat.task_id}"]')).to_have_count(0)
    theirs = cy.locator(f'.task-offer[data-task="{chat.task_id}"]')
    await expect(theirs).to_be_visible(timeout=10000)
    await theirs.locator(".task-accept").click()
    await expect(cy.locator(f'.task-tab[data-task="{chat.task_id}"]')).to_be_visible()
    row = await app[STORE].get_task(chat.task_id)
    assert (row.state, row.agent_id) == ("assigned", "agent03")


@pytest.mark.parametrize("live_server", [{"routing": OVERDUE_ROUTING}], indirect=True)
async def test_an_overdue_email_shows_on_the_wallboard_and_the_channel_report(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    server, _ = live_server
    desk = server.server.app[TASK_DESK]
    await desk.open(channel="email", queue="email", customer_id=CUSTOMER.id, subject="Invoice?", due_s=0.5)
    await desk.open(channel="email", queue="email", subject="Later", due_s=3600)
    await asyncio.sleep(1)  # (no agent: both wait; the first is past its due time)
    page = await sign_in(browser, server, "sup")
    await page.goto(str(server.make_url("/wallboard")))
    tile = page.locator('#channels-board .tile[data-channel="email"]')
    await expect(tile.locator(".overdue")).to_have_text("overdue 1")
    await expect(tile).to_have_class(re.compile(r"\bbad\b"))
    await page.goto(str(server.make_url("/reports")))
    await expect(page.locator('#channels-table tr[data-channel="email"] .overdue')).to_have_text("1")
