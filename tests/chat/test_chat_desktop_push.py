"""The desktop's written tasks are pushed, not polled (issue 18), across server
processes: the leader's live loop (on the PBX emulator) routes a chat opened on another
server process (the web process the customer's widget and the agent's desktop talk to,
sharing PostgreSQL and Redis); the assignment and each message reach the agent's tab
over the desktop's websocket, the desktop asks for nothing while nothing happens, and a
dropped websocket catches up on what it missed when it reconnects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import WSCloseCode, web
from aiohttp.test_utils import TestClient, TestServer

import cti.server as server_mod
from agents.desktop import HUB
from chat.config import ChatConfig
from config.schema import StoreConfig
from sim.rig import Rig, live_rig
from store import RedisBus, open_bus, open_store
from tasks.web import TASK_DESK
from tests.chat.test_chat_browser import company_site, start_chat, the_task
from tests.web.conftest import started, web_config
from tests.web.test_web_browser import CHROMIUM, browser, sign_in  # noqa: F401  (fixture)
from tests.web.web_helpers import seed_users

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]

ROUTING = {
    "defaults": {"wrap_up_s": 1},
    "capacity": {"default": {"combos": [{"voice": 1}, {"chat": 3}]}},
    "queues": {"sales": {"targets": [{"expression": "skills.support > 0"}]}},
    "default_queue": "sales",
}
OLD_POLL_S = 1.5  # what the desktop polled at before the pushes
PUSHED_S = 0.6  # a push and the reload it starts, measured from the customer's click


@dataclass
class Center:
    rig: Rig  # the leader: the live loop routing the tasks
    web: TestClient  # another server process: the widget's and the desktop's
    site: TestServer  # the company's site embedding the widget


@pytest.fixture
async def center(
    fresh_pg_url: str, redis_url: str, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Center]:
    monkeypatch.setattr(server_mod, "open_bus", lambda config: open_bus(config, redis_namespace))
    store = await open_store(StoreConfig(url=fresh_pg_url))
    await store.migrate()
    await seed_users(store)
    agents = [u for u in await store.list_users("agent") if u.login == "agent01"]
    site = TestServer(web.Application())  # (its port first: the web process's [chat] names it)
    await site.start_server()
    port = site.port
    await site.close()
    bus = RedisBus.from_url(redis_url, redis_namespace)
    chat = ChatConfig(queues=["sales"], allowed_origins=[f"http://127.0.0.1:{port}"])
    try:
        async with live_rig(store, agents, bus=bus, routing=ROUTING) as rig:
            other = await started(web_config(fresh_pg_url, redis_url, chat=chat))
            site = TestServer(company_site(str(other.make_url("/")).rstrip("/")), port=port)
            await site.start_server()
            try:
                yield Center(rig, other, site)
            finally:
                await site.close()
                await asyncio.wait_for(other.close(), 20)
    finally:
        await bus.close()
        await store.close()


async def shown_after(page: Any, selector: str, count: int, t0: float, timeout_s: float = 10.0) -> float:
    """Seconds from `t0` until `count` elements match `selector` (checked every frame)."""
    await page.wait_for_function(
        "([s, n]) => document.querySelectorAll(s).length >= n",
        arg=[selector, count],
        polling="raf",
        timeout=timeout_s * 1000,
    )
    return time.monotonic() - t0


async def test_a_chat_reaches_the_agents_tab_by_push_and_a_dropped_socket_catches_up(browser, center) -> None:  # noqa: F811
    from playwright.async_api import expect

    agent = await sign_in(browser, center.web, "agent01")
    await expect(agent.locator("#conn")).to_have_text("live")
    await agent.click("#btn-available")  # (to the leader, over Redis)
    await expect(agent.locator("#reply")).to_have_text("available: done", timeout=10000)
    reads: list[float] = []  # when the desktop asked for its tasks
    agent.on("request", lambda r: r.url.endswith("/api/v1/agents/agent01/tasks") and reads.append(time.monotonic()))

    customer = await browser.new_page()
    customer.set_default_timeout(10000)
    chat = await start_chat(customer, center.site, "Grace", "grace@example.com")
    await expect(chat.locator("#chat-status")).to_have_text("You are chatting with Ada Agent.")
    t_assigned = time.monotonic()
    task_id = await the_task(center.web, customer)
    tab_s = await shown_after(agent, f'.task-tab[data-task="{task_id}"]', 1, t_assigned)
    panel = f'.task-panel[data-task="{task_id}"]'

    latencies = []
    for n, text in enumerate(("Hello?", "Is anyone there?"), start=1):
        await chat.locator("#chat-text").fill(text)
        t0 = time.monotonic()
        await chat.locator("#chat-say button").click()
        latencies.append(await shown_after(agent, f"{panel} .msg-in", n, t0))
    print(f"tab shown {tab_s:.3f} s after the widget heard the assignment; messages {latencies}")
    assert tab_s < PUSHED_S and max(latencies) < PUSHED_S, (tab_s, latencies)
    await expect(agent.locator(f"{panel} .msg-in .msg-text").last).to_have_text("Is anyone there?")

    # nothing happens for longer than the old poll: the desktop asks for nothing
    quiet_from = time.monotonic()
    await asyncio.sleep(OLD_POLL_S + 0.7)  # (the measurement itself: a time in which nothing is read)
    assert [t for t in reads if t > quiet_from] == []

    # the desktop's websocket drops (its server closes it); a message meanwhile is not
    # pushed to it, and is shown once the desktop is back, long before the slow fallback
    hub = center.web.server.app[HUB]
    desk = center.web.server.app[TASK_DESK]
    dropped = [s for s in hub.sockets() if isinstance(s, web.WebSocketResponse)]
    assert dropped
    for ws in dropped:
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"test drop")
    t_drop = time.monotonic()
    await desk.add_message(task_id, direction="in", author="Grace", text="Missed while you were away")
    await expect(agent.locator("#conn")).to_have_text("live", timeout=5000)
    caught_s = await shown_after(agent, f"{panel} .msg-in", 3, t_drop, timeout_s=5)
    await expect(agent.locator(f"{panel} .msg-in .msg-text").last).to_have_text("Missed while you were away")
    print(f"caught up {caught_s:.3f} s after the drop")
    assert caught_s < 5  # (the reconnect's hello, not the 30 s fallback)
