"""The whole chain in a real browser: a caller rings the PBX emulator, the live loop
routes the call over AMI to the agent signed in on the desktop, the screen-pop shows
the caller's customer record, the agent wraps up, the interaction keeps it all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.schema import BusConfig, HotlineConfig, PbxConfig, ServerConfig, StoreConfig
from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.live_app import LIVE
from cti.pbx import AmiPbx
from cti.server import STORE, create_app
from sim.pbx_emulator.server import PbxEmulator
from sim.rig import LINE_VARIABLES
from store import open_store
from tests.web.test_web_browser import CHROMIUM, browser, sign_in  # noqa: F401  (fixture)
from tests.web.web_helpers import CUSTOMER, seed_customer, seed_users

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]

SECRET = "browser-secret"


@pytest.fixture
async def live_server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[TestClient, PbxEmulator]]:
    """`hotline serve` on the emulator; parametrize indirectly with a `standing_lines` mode,
    or a dict of `standing_lines` and `routing` (the `[routing]` table)."""
    param = getattr(request, "param", "off")
    lines, routing = (param, None) if isinstance(param, str) else (param.get("standing_lines", "off"), param["routing"])
    emulator = PbxEmulator("hotline", SECRET)
    await emulator.start()
    config = HotlineConfig(
        store=StoreConfig(url=f"sqlite:///{tmp_path}/live.sqlite3"),
        bus=BusConfig(url="memory://"),
        server=ServerConfig(session_secret="test-secret"),
        pbx=PbxConfig(
            enabled=True,
            ami_port=emulator.port,
            ami_secret=SECRET,
            agi_bind="127.0.0.1:0",
            standing_lines=lines,
            line_variables=LINE_VARIABLES,
        ),
        routing=routing or {"defaults": {"wrap_up_s": 30}, "rona": {"ring_timeout_s": 15}},
    )
    store = await open_store(config.store)
    await store.migrate()
    await seed_users(store)  # agents exist before the live loop reads them
    await seed_customer(store, time.time())
    await store.close()
    client = TestClient(TestServer(create_app(config)))
    await asyncio.wait_for(client.start_server(), 20)
    try:
        yield client, emulator
    finally:
        await asyncio.wait_for(client.close(), 20)
        await emulator.stop()


async def grace_calls(emulator: PbxEmulator, variables: dict[str, str]) -> AmiClient:
    """Grace (a known customer) rings the inbound number; returns the AMI client to close."""
    callers = AmiClient(AmiSettings("127.0.0.1", emulator.port, "hotline", SECRET), CallModel())
    await callers.start()
    await callers.wait_ready(10)
    await AmiPbx(callers).originate(
        "Local/1000@inbound",
        context="caller-phone",
        exten="wait",
        caller_id='"Grace" <4155550142>',
        variables=variables,
    )
    return callers


async def test_call_through_emulator_and_router_pops_the_customer(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    server, emulator = live_server
    app = server.server.app
    page = await sign_in(browser, server, "agent01")
    await expect(page.locator("#conn")).to_have_text("live")
    await page.click("#btn-available")
    await expect(page.locator("#reply")).to_have_text("available: done")
    assert app[LIVE].router.agent_state("agent01") == "available"

    callers = await grace_calls(emulator, {"PATIENCE": "60", "__AGENT_TALK": "4"})
    try:
        await expect(page.locator("#customer-name")).to_have_text("Grace Hopper", timeout=15000)
        await expect(page.locator("#customer-account")).to_have_text(CUSTOMER.account_number)
        await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
        await expect(page.locator("#call-status")).to_have_text("ended — wrap-up", timeout=20000)
        await page.select_option("#disposition", "resolved")
        await page.fill("#notes", "checked the balance")
        await page.click("#btn-wrapup")
        await expect(page.locator("#wrapup-result")).to_have_text("Saved: resolved")
    finally:
        await callers.close()

    store = app[STORE]
    [row] = [i for i in await store.interactions_between(0, 1e12) if i.customer_id == CUSTOMER.id and i.id != "H-old-1"]

    async def settled() -> None:
        while (await store.get_interaction(row.id)).outcome != "answered":
            await asyncio.sleep(0.05)

    await asyncio.wait_for(settled(), 10)
    final = await store.get_interaction(row.id)
    assert (final.agent_id, final.disposition, final.notes, final.outcome) == (
        "agent01",
        "resolved",
        "checked the balance",
        "answered",
    )
    assert app[LIVE].stats.calls_answered == 1

    # the web logged WrapUpEnded; the router took the agent out of wrap-up early
    async def available_again() -> None:
        while app[LIVE].router.agent_state("agent01") != "available":
            await asyncio.sleep(0.05)

    await asyncio.wait_for(available_again(), 10)


@pytest.mark.parametrize("live_server", ["all"], indirect=True)
async def test_desktop_shows_the_standing_line_and_the_call_joins_it(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    server, emulator = live_server
    page = await sign_in(browser, server, "agent01")
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#line")).to_be_hidden()  # logged out: no line yet
    await page.click("#btn-available")
    await expect(page.locator("#line")).to_have_text("line connected", timeout=15000)
    callers = await grace_calls(emulator, {"PATIENCE": "6"})  # she hangs up 6 s after the PBX answers
    try:
        await expect(page.locator("#customer-name")).to_have_text("Grace Hopper", timeout=15000)
        await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
        await expect(page.locator("#line")).to_have_text("line connected")
        await expect(page.locator("#call-status")).to_have_text("ended — wrap-up", timeout=20000)
    finally:
        await callers.close()
    line = [c for c in emulator.pbx.channels if c.startswith("Local/2001@agents")]
    assert line, "the agent's line outlives the call"
    await page.click("#btn-logout")
    await expect(page.locator("#line")).to_have_text("line down: calls ring your phone", timeout=10000)
    await asyncio.wait_for(_gone(emulator, line), 10)


async def _gone(emulator: PbxEmulator, channels: list[str]) -> None:
    while any(c in emulator.pbx.channels for c in channels):
        await asyncio.sleep(0.05)
