"""Issue 17 item 1 in a real browser: a supervisor listens to, whispers to and barges
into an agent's call from the wallboard and from the agent's page, then stops; each
mode is checked on the PBX emulator's ChanSpy channel, over the real live loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cti.ami import AmiClient
from cti.live_app import LIVE
from cti.server import STORE
from sim.pbx_emulator.server import PbxEmulator
from tests.live.test_live_browser import grace_calls, live_server  # noqa: F401  (fixture)
from tests.web.test_web_browser import CHROMIUM, DOCS, browser, sign_in  # noqa: F401  (fixture)

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


async def agent01_talks_to_grace(browser, server: TestClient, emulator: PbxEmulator) -> tuple[Any, AmiClient]:  # noqa: F811
    """agent01 signed in and available, talking to Grace (a known customer) on the
    emulator; returns agent01's page and the callers' AMI client (to close)."""
    from playwright.async_api import expect

    agent = await sign_in(browser, server, "agent01")
    await expect(agent.locator("#conn")).to_have_text("live")
    await agent.click("#btn-available")
    await expect(agent.locator("#reply")).to_have_text("available: done")
    callers = await grace_calls(emulator, {"PATIENCE": "120", "__AGENT_TALK": "120"})
    try:
        await expect(agent.locator("#call-status")).to_have_text("talking", timeout=15000)
    except BaseException:
        await callers.close()
        raise
    return agent, callers


async def test_supervisor_monitors_from_the_wallboard_and_the_agent_page(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    server, emulator = live_server
    app = server.server.app
    store = app[STORE]
    await store.put_user(replace(await store.get_user("sup"), phone_endpoint="Local/2090@agents"))
    agent, callers = await agent01_talks_to_grace(browser, server, emulator)
    try:
        call_id = next(cid for cid, s in app[LIVE].calls.items() if s.agent == "agent01")
        leg = app[LIVE].calls[call_id].agent_channels["agent01"]

        board = await sign_in(browser, server, "sup")
        await board.goto(str(server.make_url("/wallboard")))
        cell = board.locator('.agent-cell[data-agent="agent01"]')
        await expect(cell.locator(".badge")).to_have_text("on call", timeout=15000)
        # the agent is told of whisper and barge, not of listening (config/monitor.py defaults)
        told = {
            "listen": None,
            "whisper": "Supervisor sup is coaching you (only you hear them)",
            "barge": "Supervisor sup has joined your call",
        }
        for mode in ("listen", "whisper", "barge"):
            await cell.locator(f'button[data-monitor="{mode}"]').click()
            await expect(board.locator("#monitor-status")).to_have_text(f"{mode} on agent01: your phone rings")
            await until(lambda mode=mode: spies(emulator) == [(leg, mode)])
            if mode == "whisper":
                await board.locator("#monitor-status").scroll_into_view_if_needed()
                status, grid = (
                    await board.locator("#monitor-status").bounding_box(),
                    await board.locator("#agents").bounding_box(),
                )
                top = max(0, status["y"] - 50)
                height = grid["y"] + grid["height"] - top + 10
                await board.screenshot(
                    path=str(DOCS / "supervisor-monitor.png"), clip={"x": 0, "y": top, "width": 640, "height": height}
                )
            text = told[mode]
            if text is None:
                await expect(agent.locator("#monitored")).to_be_hidden()
            else:
                await expect(agent.locator("#monitored")).to_have_text(text)
        await cell.locator('button[data-monitor="stop"]').click()
        await expect(board.locator("#monitor-status")).to_have_text("stopped monitoring agent01")
        await until(lambda: spies(emulator) == [])
        await expect(agent.locator("#monitored")).to_be_hidden()

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


async def test_a_supervisor_sees_the_agents_desktop_read_only(browser, live_server) -> None:  # noqa: F811
    """Issue 17 item 2: the supervisor's view of an agent's desktop shows the call and
    the customer but no call controls, availability buttons or forms, and the API refuses
    the agent's own commands from them; the wallboard names the call's customer."""
    from playwright.async_api import expect

    server, emulator = live_server
    app = server.server.app
    agent, callers = await agent01_talks_to_grace(browser, server, emulator)
    try:
        await expect(agent.locator("#btn-hold")).to_be_visible()  # the agent's own page has the controls
        call_id = next(cid for cid, s in app[LIVE].calls.items() if s.agent == "agent01")

        sup = await sign_in(browser, server, "sup")
        await sup.goto(str(server.make_url("/agent?agent=agent01")))
        await expect(sup.locator("#conn")).to_have_text("live")
        await expect(sup.locator("#watching")).to_have_text("watching agent01 (read-only)")
        await expect(sup.locator("#customer-name")).to_have_text("Grace Hopper", timeout=15000)
        await expect(sup.locator("#call")).to_be_visible()
        for hidden in ("#talk-controls", "#transfer-controls", "#state-controls", "#wrapup-card", "#btn-hold"):
            await expect(sup.locator(hidden)).to_be_hidden()
        reply = await sup.evaluate(
            """async (callId) => { const r = await Hotline.api("POST", "/api/v1/agents/agent01/commands",
                 { action: "hold", call_id: callId }); return [r.status, r.data.error]; }""",
            call_id,
        )
        assert reply[0] == 403 and "read-only" in reply[1], reply
        assert not emulator.pbx.channels[app[LIVE].calls[call_id].channel].moh  # nothing happened

        await sup.goto(str(server.make_url("/wallboard")))
        cell = sup.locator('.agent-cell[data-agent="agent01"]')
        await expect(cell.locator(".call")).to_contain_text("Grace Hopper", timeout=15000)
        await expect(cell.locator(".call")).not_to_contain_text(call_id)
    finally:
        await callers.close()


async def test_a_supervisor_forces_a_pause_then_a_logout_from_the_agents_page(browser, live_server) -> None:  # noqa: F811
    """Issue 17 item 4: force pause (with a pause code) and force logout from the watched
    desktop; the agent's own desktop follows and says who did it."""
    from playwright.async_api import expect

    server, _ = live_server
    agent = await sign_in(browser, server, "agent01")
    await expect(agent.locator("#conn")).to_have_text("live")
    await agent.click("#btn-available")
    await expect(agent.locator("#state")).to_have_text("available")

    sup = await sign_in(browser, server, "sup")
    await sup.goto(str(server.make_url("/agent?agent=agent01")))
    await expect(sup.locator("#conn")).to_have_text("live")
    await sup.select_option("#force-reason", "lunch")
    await sup.locator('button[data-force="force_pause"]').click()
    await expect(sup.locator("#monitor-status")).to_have_text("paused agent01")
    await expect(agent.locator("#state")).to_have_text("paused · lunch")
    await expect(agent.locator("#forced")).to_contain_text("Paused by sup · lunch")
    await expect(sup.locator("#state")).to_have_text("paused · lunch")  # the watching view follows too
    await sup.locator('button[data-force="force_logout"]').click()
    await expect(sup.locator("#monitor-status")).to_have_text("logged out agent01")
    await expect(agent.locator("#state")).to_have_text("logged out")
    await expect(agent.locator("#forced")).to_contain_text("Logged out by sup")
    await sup.locator('button[data-force="force_logout"]').click()  # refused, said why
    await expect(sup.locator("#monitor-status")).to_have_text("agent 'agent01' is not logged in")
    assert await agent.locator("#supervise").count() == 0  # the agent's own page has no such buttons
