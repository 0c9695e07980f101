"""Browser tests: Debian's Chromium driven by Playwright against a running server.

The call is offered the way the live loop will offer it (domain events appended to
the log and published on the bus, tests/web/web_helpers.BusCallDriver); the live-loop
issue swaps in an emulator + router driven call with the same page assertions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from reports.web import WALLBOARD
from tests.web.conftest import started, web_config
from tests.web.web_helpers import CUSTOMER, PASSWORD, BusCallDriver, CommandResponder, busy_hour_events, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await asyncio.wait_for(
            pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True), 30
        )
        try:
            yield b
        finally:
            await asyncio.wait_for(b.close(), 20)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestClient]:
    c = await started(web_config(f"sqlite:///{tmp_path}/browser.sqlite3"))
    try:
        yield c
    finally:
        await asyncio.wait_for(c.close(), 20)


@pytest.fixture
async def responder(server: TestClient) -> AsyncIterator[CommandResponder]:
    """Answers the desktop's commands as the live loop would (no PBX in these tests)."""
    app = server.server.app
    answering = CommandResponder(app[STORE], app[BUS])
    task = asyncio.create_task(answering.run())
    try:
        await asyncio.wait_for(answering.ready.wait(), 5)
        yield answering
    finally:
        task.cancel()


async def sign_in(browser, server: TestClient, user: str, viewport=(1280, 900)):
    page = await browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.set_default_timeout(8000)
    await page.goto(str(server.make_url("/login")))
    await page.fill("#login", user)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    return page


async def test_agent_gets_the_screen_pop_and_saves_the_wrap_up(browser, server: TestClient, responder) -> None:
    from playwright.async_api import expect

    app = server.server.app
    page = await sign_in(browser, server, "agent01")
    await expect(page).to_have_url(str(server.make_url("/agent")))
    await expect(page.locator("#conn")).to_have_text("live")
    await page.click("#btn-available")
    await expect(page.locator("#reply")).to_have_text("available: done")
    await expect(page.locator("#state")).to_have_text("available")
    assert responder.received[-1]["action"] == "available"

    driver = BusCallDriver(app[STORE], app[BUS])
    await driver.offer("call-b1", "+1 415 555 0142", "billing", "agent01", ivr_path=["billing", "invoice"])
    await expect(page.locator("#customer-name")).to_have_text("Grace Hopper")
    await expect(page.locator("#customer-company")).to_have_text("Navy Computing")
    await expect(page.locator("#customer-account")).to_have_text(CUSTOMER.account_number)
    await expect(page.locator("#call-queue")).to_have_text("billing")
    await expect(page.locator("#call-ivr")).to_have_text("billing \u203a invoice")
    await expect(page.locator("#history .disposition")).to_have_text(["resolved"])
    await driver.connect("call-b1", "agent01", "billing")
    await expect(page.locator("#call-status")).to_have_text("talking")
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "agent-desktop-call.png"), full_page=True)

    await page.click("#btn-hold")
    await expect(page.locator("#reply")).to_have_text("hold: done")
    assert {k: responder.received[-1][k] for k in ("action", "call_id")} == {"action": "hold", "call_id": "call-b1"}
    await driver.end("call-b1")
    await expect(page.locator("#call-status")).to_have_text("ended — wrap-up")
    await page.select_option("#disposition", "resolved")
    await page.fill("#notes", "explained the invoice")
    await page.click("#btn-wrapup")
    await expect(page.locator("#wrapup-result")).to_have_text("Saved: resolved")
    saved = await app[STORE].get_interaction("call-b1")
    assert (saved.disposition, saved.notes, saved.agent_id) == ("resolved", "explained the invoice", "agent01")
    # phone-sized screen: the desktop still fits without horizontal scrolling
    await page.set_viewport_size({"width": 390, "height": 844})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


async def test_preview_shows_the_record_before_the_agent_dials(browser, server: TestClient, responder) -> None:
    from playwright.async_api import expect

    from events import CallOffered, CallQueued

    app = server.server.app
    page = await sign_in(browser, server, "agent01")
    await expect(page.locator("#conn")).to_have_text("live")
    driver = BusCallDriver(app[STORE], app[BUS])
    now = time.time()
    # a preview: queued and offered, never arrived (nothing is dialled yet)
    await driver.emit(
        CallQueued(
            now,
            "pv-1",
            queue="campaign-spring",
            skills={"outbound": 1},
            priority=9,
            customer_id=CUSTOMER.id,
            attributes={"preview": True, "phone": "+14155550142", "lead_id": "L1"},
        )
    )
    await driver.emit(CallOffered(now, "pv-1", "agent01", "campaign-spring", reason="preview"))
    await expect(page.locator("#customer-name")).to_have_text("Grace Hopper")
    await expect(page.locator("#call-caller")).to_have_text("+14155550142")
    await expect(page.locator("#call-status")).to_have_text("preview — not dialled yet")
    await expect(page.locator("#preview-controls")).to_be_visible()
    await page.click("#btn-preview-dial")
    await expect(page.locator("#reply")).to_have_text("preview dial: done")
    assert {k: responder.received[-1][k] for k in ("action", "call_id")} == {
        "action": "preview_dial",
        "call_id": "pv-1",
    }
    await expect(page.locator("#preview-controls")).to_be_hidden()
    await expect(page.locator("#talk-controls")).to_be_hidden()
    await driver.connect("pv-1", "agent01", "campaign-spring")
    await expect(page.locator("#call-status")).to_have_text("talking")
    await expect(page.locator("#btn-hangup")).to_be_visible()
    await expect(page.locator("#preview-controls")).to_be_hidden()


async def visible_actions(page) -> list[str]:
    """The call-control buttons the agent can see now."""
    return await page.evaluate(
        "[...document.querySelectorAll('#call button[data-action]')]"
        ".filter((b) => b.offsetParent !== null).map((b) => b.dataset.action).sort()"
    )


async def test_desktop_shows_only_the_controls_that_apply(browser, server: TestClient, responder) -> None:
    """Kind, phase and standing line decide which call controls show (agents/commands.py);
    a new call starts with an empty wrap-up form."""
    from playwright.async_api import expect

    from events import AgentLineChanged, CallOffered, CallQueued, CallTransferred

    app = server.server.app
    page = await sign_in(browser, server, "agent01")
    await expect(page.locator("#conn")).to_have_text("live")
    driver = BusCallDriver(app[STORE], app[BUS])
    talking = ["attended_transfer", "blind_transfer", "hangup", "hold", "resume"]

    await driver.offer("k-1", "+14155550142", "billing", "agent01")
    await expect(page.locator("#call-status")).to_have_text("ringing")
    assert await visible_actions(page) == []
    await expect(page.locator("#btn-wrapup")).to_be_disabled()
    await driver.connect("k-1", "agent01", "billing")
    await expect(page.locator("#call-status")).to_have_text("talking")
    assert await visible_actions(page) == talking
    await expect(page.locator("#transfer-target")).to_be_visible()

    # an attended transfer: consulting shows complete and cancel only
    await page.select_option("#transfer-kind", "agent")
    await page.fill("#transfer-target", "agent03")
    await page.click("#btn-attended")
    await expect(page.locator("#btn-complete")).to_be_visible()
    sent = responder.received[-1]
    assert {k: sent[k] for k in ("action", "call_id", "target_kind", "target")} == {
        "action": "attended_transfer",
        "call_id": "k-1",
        "target_kind": "agent",
        "target": "agent03",
    }
    assert await visible_actions(page) == ["cancel_transfer", "complete_transfer"]
    await expect(page.locator("#transfer-target")).to_be_hidden()
    await page.click("#btn-cancel-transfer")
    await expect(page.locator("#btn-hold")).to_be_visible()
    assert responder.received[-1]["action"] == "cancel_transfer"
    assert await visible_actions(page) == talking

    # on a standing line there is no attended transfer
    await driver.emit(AgentLineChanged(time.time(), "agent01", "up"))
    await expect(page.locator("#line")).to_have_text("line connected")
    assert await visible_actions(page) == ["blind_transfer", "hangup", "hold", "resume"]

    # a completed transfer ends the agent's part: nothing but the wrap-up form
    await driver.emit(CallTransferred(time.time(), "k-1", mode="blind", from_agent="agent01", target="queue:sales"))
    await expect(page.locator("#btn-wrapup")).to_be_enabled()
    assert await visible_actions(page) == []
    await page.select_option("#disposition", "resolved")
    await page.fill("#notes", "sent to sales")

    # the next call starts with a clean wrap-up form
    await driver.offer("k-2", "+14155550142", "support", "agent01")
    await expect(page.locator("#call-queue")).to_have_text("support")
    await expect(page.locator("#disposition")).to_have_value("")
    await expect(page.locator("#notes")).to_have_value("")
    await expect(page.locator("#btn-wrapup")).to_be_disabled()
    await driver.connect("k-2", "agent01", "support")
    await expect(page.locator("#btn-hold")).to_be_visible()
    assert "attended_transfer" not in await visible_actions(page)  # still on the line
    await driver.emit(AgentLineChanged(time.time(), "agent01", "down"))
    await expect(page.locator("#btn-attended")).to_be_visible()
    await driver.end("k-2")
    await expect(page.locator("#call-status")).to_have_text("ended — wrap-up")
    assert await visible_actions(page) == []

    # a preview: dial or skip, nothing else
    now = time.time()
    await driver.emit(
        CallQueued(now, "k-3", queue="campaign", skills={"outbound": 1}, attributes={"preview": True, "phone": "+1"})
    )
    await driver.emit(CallOffered(now, "k-3", "agent01", "campaign", reason="preview"))
    await expect(page.locator("#btn-preview-dial")).to_be_visible()
    assert await visible_actions(page) == ["preview_dial", "preview_skip"]
    await page.click("#btn-preview-skip")
    await expect(page.locator("#no-call")).to_be_visible()


async def test_agent_cannot_read_another_agents_screen_pop(browser, server: TestClient) -> None:
    app = server.server.app
    driver = BusCallDriver(app[STORE], app[BUS])
    from agents.desktop import HUB

    await asyncio.wait_for(app[HUB].ready.wait(), 5)
    await driver.offer("call-b2", "+14155550142", "billing", "agent02")
    await wait_until(lambda: app[HUB].last_pop("agent02") is not None)
    page = await sign_in(browser, server, "agent01")
    await page.wait_for_url(str(server.make_url("/agent")))
    status = await page.evaluate("fetch('/api/v1/agents/agent02/screen-pop').then(r => r.status)")
    own = await page.evaluate("fetch('/api/v1/agents/agent01/screen-pop').then(r => r.status)")
    assert (status, own) == (403, 404)
    response = await page.goto(str(server.make_url("/agent?agent=agent02")))
    assert response.status == 403
    assert "Grace Hopper" not in await page.content()


async def test_wallboard_changes_when_a_call_arrives(browser, server: TestClient) -> None:
    from playwright.async_api import expect

    app = server.server.app
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 5)
    driver = BusCallDriver(app[STORE], app[BUS])
    page = await sign_in(browser, server, "admin")
    await page.goto(str(server.make_url("/wallboard")))
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#total-waiting .big")).to_have_text("0")
    await driver.arrive("call-w1", "+14155550142", "support")
    await expect(page.locator("#total-waiting .big")).to_have_text("1")
    await expect(page.locator("#queue-support .big")).to_have_text("1")


async def test_wallboard_under_load_screenshot(browser, server: TestClient) -> None:
    """Forty agents and a busy hour, for the docs screenshot; the page must keep up."""
    from playwright.async_api import expect

    from store.models import User
    from tests.web.web_helpers import password_hash

    app = server.server.app
    store = app[STORE]
    for i in range(4, 41):
        await store.put_user(
            User(f"agent{i:02d}", f"Agent {i:02d}", "agent", password_hash(), ("team-a", "team-b", "team-c")[i % 3])
        )
    hub = app[WALLBOARD]
    hub.board = await hub.bootstrap(time.time())  # pick up the new agents' names and teams
    driver = BusCallDriver(store, app[BUS])
    for event in busy_hour_events(time.time()):
        await driver.emit(event)
    await wait_until(lambda: hub.board.applied >= len(driver.published), timeout=10)
    page = await sign_in(browser, server, "admin", viewport=(1600, 1000))
    await page.goto(str(server.make_url("/wallboard")))
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#total-waiting .big")).to_have_text("10")
    await expect(page.locator(".agent-cell")).to_have_count(40)
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "wallboard-under-load.png"), full_page=True)


async def test_admin_edits_routing_rules_with_inline_errors_diff_and_apply(browser, server: TestClient) -> None:
    from playwright.async_api import expect

    from tests.web.test_web_admin import RULES_BAD, RULES_V1
    from web.settings import routing_available

    if not routing_available():
        pytest.skip("routing rules package not importable")
    page = await sign_in(browser, server, "admin")
    await page.goto(str(server.make_url("/admin/routing")))
    await expect(page.locator("#live-version")).to_contain_text("version 0")
    await page.fill("#rules", RULES_BAD)
    await page.click("#btn-validate")
    await expect(page.locator("#problem-list li").first).to_contain_text("line 3")
    await expect(page.locator("#gutter .bad-line")).to_have_text(["3", "4"])
    await page.click("#btn-apply")
    await expect(page.locator("#result")).to_have_text("Fix the problems first.")
    await page.fill("#rules", RULES_V1)
    await page.click("#btn-validate")
    await expect(page.locator("#valid")).to_have_text("Valid.")
    await page.click("#btn-diff")
    await expect(page.locator("#diff")).to_contain_text("+[queues.billing]")
    await page.click("#btn-simulate")
    await expect(page.locator("#simulate-error")).to_contain_text("simulat")  # no history yet, or no simulator
    await page.fill("#comment", "first rules")
    await page.click("#btn-apply")
    await expect(page.locator("#result")).to_have_text("Applied as version 1")
    await expect(page.locator("#history tbody tr")).to_have_count(1)
    assert (await server.server.app[STORE].get_settings_version("routing")).body == RULES_V1


async def test_admin_section_table_saves_a_new_version(browser, server: TestClient) -> None:
    from playwright.async_api import expect

    page = await sign_in(browser, server, "admin")
    await page.goto(str(server.make_url("/admin/pause-codes")))
    await expect(page.locator("#section-title")).to_have_text("pause codes (version 0)")
    await page.click("#btn-add-row")
    row = page.locator("#section-table tbody tr").last
    await row.locator('input[data-field="__name"]').fill("coaching")
    await row.locator('input[data-field="label"]').fill("Coaching")
    await page.click("#btn-save")
    await expect(page.locator("#result")).to_have_text("Saved as version 1")
    live = await server.server.app[STORE].get_settings_version("pause_codes")
    assert '"coaching"' in live.body
