"""Issue 18's "done when" for chat, in a real browser: a customer chats from the widget
on a company's site with an agent who is on a call at the same time (capacity: one
call and two chats), through `hotline serve`'s live loop on the PBX emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chat.config import ChatConfig
from chat.web import CHAT, STATUS_EVERY_S
from config.schema import BusConfig, HotlineConfig, PbxConfig, ServerConfig, StoreConfig
from cti.live_app import LIVE
from cti.server import create_app
from sim.pbx_emulator.server import PbxEmulator
from sim.rig import LINE_VARIABLES
from store import open_store
from tests.chat.test_chat_browser import PAYLOAD, company_site, start_chat, the_task
from tests.live.test_live_browser import SECRET
from tests.live.test_live_monitor_browser import agent01_talks_to_grace
from tests.web.test_web_browser import CHROMIUM, browser, sign_in  # noqa: F401  (fixture)
from tests.web.web_helpers import seed_customer, seed_users

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]

ROUTING = {
    "defaults": {"wrap_up_s": 30},
    "rona": {"ring_timeout_s": 15},
    "capacity": {"default": {"combos": [{"voice": 1, "chat": 2}]}},
    "queues": {q: {"targets": [{"expression": f"skills.{q} > 0"}]} for q in ("billing", "support", "sales")},
    "default_queue": "billing",
}


def live_config(tmp_path: Path, emulator: PbxEmulator, **sections: Any) -> HotlineConfig:
    """`hotline serve` on the emulator (as tests/live/test_live_browser.py's live_server,
    which takes no [chat] section: the company site's origin is known only at run time)."""
    return HotlineConfig(
        store=StoreConfig(url=f"sqlite:///{tmp_path}/live.sqlite3"),
        bus=BusConfig(url="memory://"),
        server=ServerConfig(session_secret="test-secret"),
        pbx=PbxConfig(
            enabled=True,
            ami_port=emulator.port,
            ami_secret=SECRET,
            agi_bind="127.0.0.1:0",
            line_variables=LINE_VARIABLES,
        ),
        **sections,
    )


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[tuple[TestClient, PbxEmulator, TestServer]]:
    """`hotline serve` on the emulator, and a company site that embeds its widget."""
    emulator = PbxEmulator("hotline", SECRET)
    await emulator.start()
    site = TestServer(company_site("http://placeholder"))
    await site.start_server()
    port = site.port
    await site.close()
    config = live_config(
        tmp_path,
        emulator,
        routing=ROUTING,
        chat=ChatConfig(queues=["support"], allowed_origins=[f"http://127.0.0.1:{port}"]),
    )
    store = await open_store(config.store)
    await store.migrate()
    await seed_users(store)
    await seed_customer(store, time.time())
    await store.close()
    client = TestClient(TestServer(create_app(config)))
    await asyncio.wait_for(client.start_server(), 20)
    site = TestServer(company_site(str(client.make_url("/")).rstrip("/")), port=port)
    await site.start_server()
    try:
        yield client, emulator, site
    finally:
        await site.close()
        await asyncio.wait_for(client.close(), 20)
        await emulator.stop()


async def test_a_customer_chats_from_the_widget_with_an_agent_on_a_call(browser, center) -> None:  # noqa: F811
    from playwright.async_api import expect

    server, emulator, site = center
    app = server.server.app
    agent, callers = await agent01_talks_to_grace(browser, server, emulator)
    try:
        customer = await browser.new_page()
        customer.set_default_timeout(10000)
        chat = await start_chat(customer, site, "Grace", "grace@example.com")
        # one call and one chat fit agent01's capacity: the chat goes to them at once
        await expect(chat.locator("#chat-status")).to_have_text("You are chatting with Ada Agent.", timeout=15000)
        task_id = await the_task(server, customer)
        assert app[LIVE].router.agent_load("agent01") == {"voice": 1, "chat": 1}
        await expect(agent.locator("#call-status")).to_have_text("talking")  # still on the call

        # the agent's desktop: a chat tab beside the call
        panel = agent.locator(f'.task-panel[data-task="{task_id}"]')
        await expect(agent.locator(f'.task-tab[data-task="{task_id}"]')).to_be_visible()
        await chat.locator("#chat-text").press_sequentially("typing")  # typing hints: customer -> agent
        await expect(panel.locator(".task-typing")).to_be_visible()
        await chat.locator("#chat-text").fill(PAYLOAD)
        await chat.locator("#chat-say button").click()
        await expect(panel.locator(".msg-in .msg-text")).to_have_text(PAYLOAD)  # as text
        await expect(panel.locator(".task-typing")).to_be_hidden()
        await panel.locator(".task-reply-text").press_sequentially("Hello ")  # agent -> customer
        await expect(chat.locator("#chat-typing")).to_be_visible()
        await panel.locator(".task-reply-text").fill("Hello Grace <b>" + PAYLOAD)
        await panel.locator(".task-send").click()
        await expect(chat.locator("#chat-log li.out .text")).to_have_text("Hello Grace <b>" + PAYLOAD)
        await expect(chat.locator("#chat-log li.out .author")).to_have_text("Ada Agent")  # not the login
        await expect(chat.locator("#chat-typing")).to_be_hidden()
        for page in (customer, agent):
            for frame in page.frames:
                assert await frame.evaluate("window.__pwned === undefined")
        assert await panel.locator(".transcript img, .transcript script, .transcript b").count() == 0

        await customer.reload()  # the widget reopens on the conversation
        await expect(chat.locator("#chat-log li")).to_have_count(2)
        await expect(chat.locator("#chat-log li.out .author")).to_have_text("Ada Agent")
        await expect(chat.locator("#chat-status")).to_have_text("You are chatting with Ada Agent.")

        # agent01 hands the chat to agent03 (signed in meanwhile): the customer follows
        colleague = await sign_in(browser, server, "agent03")
        await expect(colleague.locator("#conn")).to_have_text("live")
        await colleague.click("#btn-available")
        await expect(colleague.locator("#reply")).to_have_text("available: done")
        await panel.locator(".task-transfer-kind").select_option("agent")
        await panel.locator(".task-transfer-target").fill("agent03")
        await panel.locator(".task-transfer").click()
        await expect(chat.locator("#chat-status")).to_have_text("You are chatting with Cy Agent.", timeout=15000)
        await expect(agent.locator("#no-tasks")).to_be_visible()
        theirs = colleague.locator(f'.task-panel[data-task="{task_id}"]')
        await expect(theirs.locator(".msg-in .msg-text")).to_have_text(PAYLOAD)  # the transcript goes along

        await chat.locator("#chat-leave").click()
        await expect(chat.locator("#chat-status")).to_have_text("You ended the chat.")
        await expect(colleague.locator("#no-tasks")).to_be_visible()
        task = await app[CHAT].desk.get(task_id)
        assert (task.state, task.agent_id, task.outcome) == ("closed", "agent03", "closed by customer")
        texts = [(m.direction, m.text) for m in await app[CHAT].desk.messages(task_id)]
        assert texts == [("in", PAYLOAD), ("out", "Hello Grace <b>" + PAYLOAD)]
        await expect(agent.locator("#call-status")).to_have_text("talking")
    finally:
        await callers.close()


async def test_a_waiting_customer_moves_up_when_the_one_ahead_leaves(center) -> None:
    """The leader tells the new place at once (its position note, not the page's poll)."""
    from tests.chat.test_chat_ws import frame, started

    server, _, _ = center
    first, _ = await started(server, "Ann", "ann@example.com")
    second, _ = await started(server, "Bo", "bo@example.com")
    assert (await frame(second, "status"))["position"] == 2
    await first.send_json({"type": "leave"})
    t0 = time.monotonic()
    moved = await asyncio.wait_for(frame(second, "status"), 5)
    assert moved["position"] == 1 and time.monotonic() - t0 < STATUS_EVERY_S
    for ws in (first, second):
        await ws.close()
