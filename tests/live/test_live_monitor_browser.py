"""Issue 17 item 1 in a real browser: a supervisor listens to, whispers to and barges
into an agent's call from the wallboard and from the agent's page, then stops; each
mode is checked on the PBX emulator's ChanSpy channel, over the real live loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from cti.live_app import LIVE
from cti.server import STORE
from sim.pbx_emulator.server import PbxEmulator
from tests.live.test_live_browser import grace_calls, live_server  # noqa: F401  (fixture)
from tests.web.test_web_browser import CHROMIUM, browser, sign_in  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]


def spies(emulator: PbxEmulator) -> list[tuple[str, str]]:
    return [(c.spying.name, c.spy_mode) for c in emulator.pbx.channels.values() if c.spying]


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def test_supervisor_monitors_from_the_wallboard_and_the_agent_page(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    server, emulator = live_server
    app = server.server.app
    store = app[STORE]
    await store.put_user(replace(await store.get_user("sup"), phone_endpoint="Local/2090@agents"))
    agent = await sign_in(browser, server, "agent01")
    await expect(agent.locator("#conn")).to_have_text("live")
    await agent.click("#btn-available")
    await expect(agent.locator("#reply")).to_have_text("available: done")
    callers = await grace_calls(emulator, {"PATIENCE": "120", "__AGENT_TALK": "120"})
    try:
        await expect(agent.locator("#call-status")).to_have_text("talking", timeout=15000)
        call_id = next(cid for cid, s in app[LIVE].calls.items() if s.agent == "agent01")
        leg = app[LIVE].calls[call_id].agent_channels["agent01"]

        board = await sign_in(browser, server, "sup")
        await board.goto(str(server.make_url("/wallboard")))
        cell = board.locator('.agent-cell[data-agent="agent01"]')
        await expect(cell.locator(".badge")).to_have_text("on call", timeout=15000)
        for mode in ("listen", "whisper", "barge"):
            await cell.locator(f'button[data-monitor="{mode}"]').click()
            await expect(board.locator("#monitor-status")).to_have_text(f"{mode} on agent01: your phone rings")
            await until(lambda mode=mode: spies(emulator) == [(leg, mode)])
        await cell.locator('button[data-monitor="stop"]').click()
        await expect(board.locator("#monitor-status")).to_have_text("stopped monitoring agent01")
        await until(lambda: spies(emulator) == [])

        # the agent's page, watched by the supervisor: the same buttons
        await board.goto(str(server.make_url("/agent?agent=agent01")))
        await board.locator('#monitor button[data-monitor="whisper"]').click()
        await expect(board.locator("#monitor-status")).to_have_text("whisper on agent01: your phone rings")
        await until(lambda: spies(emulator) == [(leg, "whisper")])
        await board.locator('#monitor button[data-monitor="stop"]').click()
        await until(lambda: spies(emulator) == [])

        # the agent's own page has no monitor buttons
        assert await agent.locator("#monitor").count() == 0
    finally:
        await callers.close()
