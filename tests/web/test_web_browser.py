"""Browser tests: Debian's Chromium driven by Playwright against a running server.

The agent desktop runs against `hotline serve` with its real live loop on the PBX
emulator (`center`): callers ring the emulator, the router offers the call, every
button's command goes through the web API to the loop, which acts on the PBX. The
wallboard, admin and access tests play events on the bus (web_helpers.BusCallDriver).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from agents.commands import BY_ACTION, CALL_ACTIONS
from cti.server import BUS, STORE
from events import AgentLoggedOut, CallEnded
from reports.web import WALLBOARD
from tests.live.test_live_commands import Center
from tests.web.conftest import started, web_config
from tests.web.web_helpers import CUSTOMER, PASSWORD, BusCallDriver, busy_hour_events, wait_until

CHROMIUM = Path("/usr/bin/chromium")
# (shown on every connected call, as resume is: the loop refuses what the call's policy does not allow)
RECORDING = ["pause_recording", "record", "resume_recording"]
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


async def sign_in(browser, server: TestClient, user: str, viewport=(1280, 900)):
    page = await browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.set_default_timeout(8000)
    await page.goto(str(server.make_url("/login")))
    await page.fill("#login", user)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    return page


async def desktop(browser, center: Center, user: str):
    """The agent's desktop in the browser, its websocket live."""
    from playwright.async_api import expect

    page = await sign_in(browser, center.client, user)
    await expect(page).to_have_url(str(center.client.make_url("/agent")))
    await expect(page.locator("#conn")).to_have_text("live")
    return page


async def click(page, button: str, done: str) -> None:
    """Click a desktop button and wait for the live loop's answer in the status line."""
    from playwright.async_api import expect

    await page.click(button)
    await expect(page.locator("#reply")).to_have_text(done, timeout=15000)


async def visible_actions(page) -> list[str]:
    """The call-control buttons the agent can see now."""
    return await page.evaluate(
        "[...document.querySelectorAll('#call button[data-action]')]"
        ".filter((b) => b.offsetParent !== null).map((b) => b.dataset.action).sort()"
    )


async def shows(page, actions: list[str]) -> None:
    """Wait until exactly these call controls show (the page follows the loop's events)."""

    async def poll() -> None:
        while await visible_actions(page) != sorted(actions):
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), 10)
    except TimeoutError:
        raise AssertionError(f"shows {await visible_actions(page)}, not {sorted(actions)}") from None


async def send_from_page(page, action: str, **fields: str) -> tuple[int, str]:
    """A command sent from the desktop's page (the agent's session and CSRF token),
    whether or not a button shows it; returns the status and the error."""
    return tuple(
        await page.evaluate(
            "async (body) => { const r = await Hotline.api('POST', '/api/v1/agents/agent01/commands', body);"
            " return [r.status, (r.data && r.data.error) || ''] }",
            {"action": action, **fields},
        )
    )


async def hidden_are_refused(page, call_id: str, shown: list[str]) -> None:
    """What the desktop hides, the live loop refuses: each call control not shown, sent
    anyway, gets a 409 (and does nothing). (wrap_up_done: the loop accepts it for any
    call, see test_web_commands.test_wrap_up_done_for_a_call_the_agent_never_had_is_refused.)"""
    for action in sorted(CALL_ACTIONS - set(shown) - {"wrap_up_done"}):
        target = {"target": "agent03"} if "target" in BY_ACTION[action].model_fields else {}
        status, error = await send_from_page(page, action, call_id=call_id, **target)
        assert status == 409 and error, (action, status, error)


def offered_to(center: Center, agent_id: str) -> str:
    """The call the live loop offers the agent now (ringing, or a preview), or ""."""
    return next((cid for cid, s in center.live.calls.items() if s.offered_to == agent_id and not s.agent), "")


async def test_agent_gets_the_screen_pop_and_saves_the_wrap_up(browser, center: Center) -> None:
    """A caller rings the PBX emulator; the live loop routes the call to the agent, whose
    desktop pops the customer; the agent holds, resumes and hangs up with the buttons
    (the PBX does each) and saves the wrap-up."""
    from playwright.async_api import expect

    page = await desktop(browser, center, "agent01")
    await click(page, "#btn-available", "available: done")
    await expect(page.locator("#state")).to_have_text("available")
    assert center.state("agent01") == "available"

    await center.caller()  # Grace (+1 415 555 0142) rings the inbound number
    await expect(page.locator("#customer-name")).to_have_text("Grace Hopper", timeout=15000)
    await expect(page.locator("#customer-company")).to_have_text("Navy Computing")
    await expect(page.locator("#customer-account")).to_have_text(CUSTOMER.account_number)
    await expect(page.locator("#call-queue")).to_have_text("billing")
    await expect(page.locator("#history .disposition")).to_have_text(["resolved"])
    call_id = await center.connected("agent01")
    await expect(page.locator("#call-status")).to_have_text("talking")
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "agent-desktop-call.png"), full_page=True)

    await click(page, "#btn-hold", "hold: done")
    await center.until(lambda: center.caller_channel(call_id).moh and not center.talking_to(call_id))
    await expect(page.locator("#call-status")).to_have_text("on hold")
    await click(page, "#btn-resume", "resume: done")
    await center.until(lambda: center.talking_to(call_id) and not center.caller_channel(call_id).moh)
    await expect(page.locator("#call-status")).to_have_text("talking")
    channel = center.caller_channel(call_id).name
    await click(page, "#btn-hangup", "hangup: done")
    await expect(page.locator("#call-status")).to_have_text("ended — wrap-up")
    await center.until(lambda: center.channel(channel) is None)  # the PBX hung the caller up
    await center.logged(call_id, CallEnded)
    assert await visible_actions(page) == []
    await page.select_option("#disposition", "resolved")
    await page.fill("#notes", "explained the invoice")
    await page.click("#btn-wrapup")
    await expect(page.locator("#wrapup-result")).to_have_text("Saved: resolved")
    saved = await center.store.get_interaction(call_id)
    assert (saved.disposition, saved.notes, saved.agent_id) == ("resolved", "explained the invoice", "agent01")
    await center.until(lambda: center.state("agent01") == "available")  # the wrap-up ended early
    # phone-sized screen: the desktop still fits without horizontal scrolling
    await page.set_viewport_size({"width": 390, "height": 844})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


async def test_the_state_buttons_follow_the_agents_state_and_a_new_call_clears_old_news(
    browser, center: Center
) -> None:
    """Available, Pause and Log out are enabled only in the states the command contract
    names for them (agents/commands.py `agent_states`)."""
    from playwright.async_api import expect

    async def enabled(available: bool, pause: bool, logout: bool) -> None:
        for button, on in (("#btn-available", available), ("#btn-pause", pause), ("#btn-logout", logout)):
            await (
                expect(page.locator(button)).to_be_enabled() if on else expect(page.locator(button)).to_be_disabled()
            )

    page = await desktop(browser, center, "agent01")
    await expect(page.locator("#state")).to_have_text("logged out")
    await enabled(available=True, pause=True, logout=False)
    await click(page, "#btn-available", "available: done")
    await expect(page.locator("#state")).to_have_text("available")
    await enabled(available=False, pause=True, logout=True)
    await center.caller()
    call_id = await center.connected("agent01")
    await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
    await enabled(available=False, pause=False, logout=False)
    await page.select_option("#transfer-kind", "agent")
    await page.fill("#transfer-target", "zz")
    await click(page, "#btn-blind", "blind transfer failed: blind_transfer: unknown agent 'zz'")
    await click(page, "#btn-hangup", "hangup: done")
    await expect(page.locator("#call-status")).to_have_text("ended — wrap-up")
    await center.logged(call_id, CallEnded)
    await expect(page.locator("#btn-pause")).to_be_enabled()
    await expect(page.locator("#btn-logout")).to_be_enabled()
    await page.select_option("#disposition", "resolved")
    await page.click("#btn-wrapup")
    await center.until(lambda: center.state("agent01") == "available")
    await expect(page.locator("#state")).to_have_text("available")
    await enabled(available=False, pause=True, logout=True)
    await click(page, "#btn-pause", "pause: done")
    await expect(page.locator("#state")).to_contain_text("paused")
    await enabled(available=True, pause=True, logout=True)
    await click(page, "#btn-available", "available: done")
    await center.caller()  # the next call: the last call's messages go
    await center.connected("agent01")
    await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
    await expect(page.locator("#reply")).to_have_text("")


async def test_the_desktop_shows_my_day_and_rings_when_asked(browser, center: Center) -> None:
    """My queues, my numbers and calls today refresh as calls come and go; with the ring
    alert ticked, a ringing call sounds (and notifies when the tab is hidden)."""
    from playwright.async_api import expect

    page = await desktop(browser, center, "agent01")
    await expect(page.locator('#queue-stats tr[data-queue="billing"] .waiting')).to_have_text("0")
    await expect(page.locator("#my-handled")).to_have_text("0")
    await page.check("#ring-alert")
    await click(page, "#btn-available", "available: done")
    await center.caller()
    call_id = await center.connected("agent01")
    await expect(page.locator("#desktop")).to_have_attribute("data-rang", "1")
    await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
    await click(page, "#btn-hangup", "hangup: done")
    await center.logged(call_id, CallEnded)
    await page.select_option("#disposition", "resolved")
    await page.click("#btn-wrapup")
    await expect(page.locator("#my-handled")).to_have_text("1", timeout=10000)
    await expect(page.locator(f'#my-calls tr[data-call="{call_id}"]')).to_have_count(1, timeout=10000)
    await page.reload()  # the choice is kept in this browser
    await expect(page.locator("#ring-alert")).to_be_checked()


@pytest.mark.parametrize("center", [{"campaign": "preview"}], indirect=True)
async def test_preview_shows_the_record_before_the_agent_dials(browser, center: Center) -> None:
    """A preview campaign: the lead's record pops with nothing dialled; the agent skips
    one (the next lead pops), dials the next (the PBX rings the lead) and talks."""
    from playwright.async_api import expect

    page = await desktop(browser, center, "agent01")  # (support skill: the campaign's)
    # (going available pops the lead at once: its pop may clear "available: done" before it is seen)
    await page.click("#btn-available")
    await expect(page.locator("#call-status")).to_have_text("preview — not dialled yet", timeout=15000)
    await expect(page.locator("#reply")).not_to_have_class("error")
    first = offered_to(center, "agent01")
    await expect(page.locator("#customer-name")).to_have_text("Lena Lead")
    await expect(page.locator("#call-caller")).to_have_text("+12127360001")
    await expect(page.locator("#preview-controls")).to_be_visible()
    await shows(page, ["preview_dial", "preview_skip"])
    await hidden_are_refused(page, first, ["preview_dial", "preview_skip"])
    assert not any("12127360001" in name for name in center.emulator.pbx.channels)  # nothing dialled

    await click(page, "#btn-preview-skip", "preview skip: done")
    [skipped] = await center.logged(first, CallEnded)
    assert skipped.cause_text == "preview skipped"
    await expect(page.locator("#customer-name")).to_have_text("Leo Lead", timeout=30000)  # the next lead
    second = offered_to(center, "agent01")
    assert second and second != first
    await click(page, "#btn-preview-dial", "preview dial: done")
    await expect(page.locator("#call-status")).to_have_text("dialling…")
    await expect(page.locator("#preview-controls")).to_be_hidden()
    await expect(page.locator("#talk-controls")).to_be_hidden()
    assert await center.connected("agent01") == second
    await expect(page.locator("#call-status")).to_have_text("talking")
    await shows(page, ["attended_transfer", "blind_transfer", "hangup", "hold", "resume", *RECORDING])
    await click(page, "#btn-hangup", "hangup: done")
    await expect(page.locator("#call-status")).to_have_text("ended — wrap-up")
    await center.logged(second, CallEnded)


async def test_desktop_shows_only_the_controls_that_apply(browser, center: Center) -> None:
    """Phase decides which call controls show (agents/commands.py), and what is hidden
    the live loop refuses: ringing, talking, an attended transfer cancelled then
    completed (the PBX moves the caller); the next call starts with an empty wrap-up form."""
    from playwright.async_api import expect

    talking = ["attended_transfer", "blind_transfer", "hangup", "hold", "resume", *RECORDING]
    page = await desktop(browser, center, "agent01")
    bob = await center.desk("agent03")
    await bob.ok("available")
    await click(page, "#btn-available", "available: done")

    await center.caller(__AGENT_RING="3")  # agent01's phone rings for 3 s
    await center.until(lambda: offered_to(center, "agent01"))
    call_id = offered_to(center, "agent01")
    await expect(page.locator("#call")).to_be_visible()
    await expect(page.locator("#call-status")).to_have_text("ringing")
    assert await visible_actions(page) == []
    await expect(page.locator("#btn-wrapup")).to_be_disabled()
    await hidden_are_refused(page, call_id, [])
    assert await center.connected("agent01") == call_id
    await expect(page.locator("#call-status")).to_have_text("talking")
    await shows(page, talking)
    await expect(page.locator("#transfer-target")).to_be_visible()
    await hidden_are_refused(page, call_id, talking)
    await page.select_option("#disposition", "resolved")  # typed, never saved
    await page.fill("#notes", "not for the next call")

    # an attended transfer: consulting shows complete and cancel only
    await page.select_option("#transfer-kind", "agent")
    await page.fill("#transfer-target", "agent03")
    await click(page, "#btn-attended", "attended transfer: done")
    await shows(page, ["cancel_transfer", "complete_transfer"])
    await expect(page.locator("#transfer-target")).to_be_hidden()
    await center.until(lambda: center.caller_channel(call_id).moh)  # the caller waits on music
    await center.until(lambda: center.live.calls[call_id].consult_channel)  # agent03's phone took it
    # (hangup is hidden while consulting, yet the loop would hang the caller up: stricter, not refused)
    await hidden_are_refused(page, call_id, ["cancel_transfer", "complete_transfer", "hangup"])
    await click(page, "#btn-cancel-transfer", "cancel transfer: done")
    await shows(page, talking)
    await center.until(lambda: center.talking_to(call_id) and not center.caller_channel(call_id).moh)
    await center.until(lambda: center.state("agent03") == "available")

    await click(page, "#btn-attended", "attended transfer: done")
    await center.until(lambda: center.live.calls[call_id].consult_channel)
    await click(page, "#btn-complete", "complete transfer: done")
    await center.until(lambda: center.call_of("agent03") == call_id and center.talking_to(call_id))
    # the agent's part is over: no call controls (and no wrap-up in the router: the call
    # went on with agent03; whether the form still offers one is the wrap-up form's own test)
    await shows(page, [])
    await center.until(lambda: center.state("agent01") == "available")

    # the next call starts with a clean wrap-up form
    await center.caller("4155550199")
    second = await center.connected("agent01")
    await expect(page.locator("#call-caller")).to_contain_text("4155550199")
    await expect(page.locator("#disposition")).to_have_value("")
    await expect(page.locator("#notes")).to_have_value("")
    await shows(page, talking)
    await click(page, "#btn-hangup", "hangup: done")
    await expect(page.locator("#call-status")).to_have_text("ended — wrap-up")
    await shows(page, [])
    await expect(page.locator("#btn-wrapup")).to_be_enabled()
    await center.logged(second, CallEnded)


@pytest.mark.parametrize("center", [{"standing_lines": "all"}], indirect=True)
async def test_on_a_standing_line_the_desktop_hides_attended_transfer(browser, center: Center) -> None:
    """The live loop cannot consult from a standing line: the desktop shows no Attended
    button there (nor the consultation's), and the loop refuses one sent anyway. A
    refused blind transfer shows the loop's reason; a good one moves the call."""
    from playwright.async_api import expect

    page = await desktop(browser, center, "agent01")
    bob = await center.desk("agent03")
    await click(page, "#btn-available", "available: done")
    await expect(page.locator("#line")).to_have_text("line connected", timeout=15000)
    await bob.ok("available")
    await center.until(lambda: center.live.on_line("agent01") and center.live.on_line("agent03"))
    await center.caller()
    call_id = await center.connected("agent01")
    await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
    on_line = ["blind_transfer", "hangup", "hold", "resume", *RECORDING]
    await shows(page, on_line)
    await hidden_are_refused(page, call_id, on_line)
    status, error = await send_from_page(page, "attended_transfer", call_id=call_id, target="agent03")
    assert status == 409 and "standing line" in error

    await page.select_option("#transfer-kind", "agent")
    await page.fill("#transfer-target", "zz")
    await click(page, "#btn-blind", "blind transfer failed: blind_transfer: unknown agent 'zz'")
    await expect(page.locator("#reply")).to_have_class("error")
    assert center.talking_to(call_id) and center.call_of("agent01") == call_id
    await page.fill("#transfer-target", "agent03")
    await click(page, "#btn-blind", "blind transfer: done")
    assert await center.connected("agent03") == call_id
    await shows(page, [])
    await center.until(lambda: center.state("agent01") == "available")


async def test_attended_is_hidden_when_the_target_is_a_queue(browser, center: Center) -> None:
    from playwright.async_api import expect

    page = await desktop(browser, center, "agent01")
    await click(page, "#btn-available", "available: done")
    await center.caller()
    call_id = await center.connected("agent01")
    await expect(page.locator("#call-status")).to_have_text("talking", timeout=15000)
    await page.select_option("#transfer-kind", "queue")
    await page.fill("#transfer-target", "support")
    status, error = await send_from_page(page, "attended_transfer", call_id=call_id, target_kind="queue", target="x")
    assert status == 400 and "target_kind" in error  # the contract: a queue cannot be consulted
    await expect(page.locator("#btn-attended")).to_be_hidden(timeout=2000)
    await expect(page.locator("#btn-blind")).to_be_visible()
    await page.select_option("#transfer-kind", "agent")
    await expect(page.locator("#btn-attended")).to_be_visible(timeout=2000)


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


async def test_the_wallboards_agent_cells_follow_the_pushed_deltas(browser, server: TestClient) -> None:
    """After the whole board the page is pushed only the cells that changed
    (reports/board_delta.py): an agent logging in appears, a call shows on its cell,
    a logout takes the cell off, the others stay."""
    from playwright.async_api import expect

    app = server.server.app
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 5)
    driver = BusCallDriver(app[STORE], app[BUS])
    await driver.agent_ready("agent02")
    await wait_until(lambda: app[WALLBOARD].board.engine.agent_state("agent02") is not None)
    page = await sign_in(browser, server, "admin")
    await page.goto(str(server.make_url("/wallboard")))
    await expect(page.locator("#conn")).to_have_text("live")
    cell = page.locator('.agent-cell[data-agent="agent01"]')
    await expect(page.locator('.agent-cell[data-agent="agent02"] .badge')).to_have_text("available")
    await expect(cell).to_have_count(0)
    await driver.agent_ready("agent01")  # logged in after the whole board: comes in a delta
    await expect(cell.locator(".badge")).to_have_text("available")
    await driver.offer("call-d1", "+14155550142", "billing", "agent01")
    await driver.connect("call-d1", "agent01", "billing")
    await expect(cell.locator(".badge")).to_have_text("on call")
    await expect(cell.locator(".call")).to_contain_text("billing")
    await driver.emit(AgentLoggedOut(time.time(), "agent01"))
    await expect(cell).to_have_count(0)
    await expect(page.locator('.agent-cell[data-agent="agent02"] .badge')).to_have_text("available")
    assert await page.evaluate("document.querySelectorAll('.agent-cell').length") == 1


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
    await expect(page.locator("#confirm-diff")).to_contain_text("+[queues.billing]")
    await page.click("#btn-confirm")
    await expect(page.locator("#result")).to_have_text("Applied as version 1")
    await expect(page.locator("#history tbody tr")).to_have_count(1)
    assert (await server.server.app[STORE].get_settings_version("routing")).body == RULES_V1


async def test_routing_editor_shows_the_file_rules_confirms_apply_and_restores(browser, tmp_path: Path) -> None:
    """No version applied: the editor opens on hotline.toml's rules; emptying them needs
    an explicit confirmation; the file's rules come back in one restore."""
    from playwright.async_api import expect

    from tests.web.test_web_routing_file import FILE_ROUTING
    from web.settings import routing_available

    if not routing_available():
        pytest.skip("routing rules package not importable")
    server = await started(web_config(f"sqlite:///{tmp_path}/file-rules.sqlite3", routing=FILE_ROUTING))
    try:
        page = await sign_in(browser, server, "admin")
        await page.goto(str(server.make_url("/admin/routing")))
        await expect(page.locator("#live-version")).to_have_text("(live: version 0, from hotline.toml)")
        file_text = await page.input_value("#rules")
        assert "[queues.billing]" in file_text and 'pause_reason = "no_answer"' in file_text
        await page.click("#btn-diff")
        await expect(page.locator("#diff")).to_contain_text("(no change)")
        await page.fill("#rules", "")
        await page.click("#btn-apply")
        await expect(page.locator("#confirm-diff")).to_contain_text("-[queues.billing]")
        await expect(page.locator("#empty-warning")).to_contain_text("name no queue")
        await expect(page.locator("#confirm-impact")).to_contain_text("Impact not simulated:")  # no history yet
        await page.click("#btn-confirm")  # the box unticked: nothing applied
        await expect(page.locator("#result")).to_have_text("Tick the box to apply rules that name no queue.")
        await page.click("#btn-cancel")
        await expect(page.locator("#confirm")).to_be_hidden()
        assert await server.server.app[STORE].get_settings_version("routing") is None
        await page.click("#btn-apply")
        await page.check("#confirm-empty")
        await page.click("#btn-confirm")
        await expect(page.locator("#result")).to_have_text("Applied as version 1")
        await expect(page.locator("#live-version")).to_contain_text("(live: version 1 by admin)")
        await expect(page.locator("#history tbody tr")).to_have_count(2)
        await page.click('#history tr[data-version="0"] button.restore')
        await expect(page.locator("#confirm-diff")).to_contain_text("+[queues.billing]")
        await page.click("#btn-confirm")
        await expect(page.locator("#result")).to_have_text("Applied as version 2")
        assert await page.input_value("#rules") == file_text
        assert (await server.server.app[STORE].get_settings_version("routing")).body == file_text
    finally:
        await asyncio.wait_for(server.close(), 20)


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


async def test_admin_disables_a_user_and_renames_a_team(browser, server: TestClient) -> None:
    """A disabled user cannot sign in until enabled again; a team renamed on the Teams
    page moves every user who had it."""
    from playwright.async_api import expect

    page = await sign_in(browser, server, "admin")
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(str(server.make_url("/admin/agents")))
    row = page.locator('#users tr[data-login="agent03"]')
    await expect(row.locator(".status")).to_have_text("active")
    await row.locator("button.disable").click()
    await expect(page.locator("#result")).to_have_text("Disabled agent03")
    await expect(row.locator(".status")).to_have_text("disabled")
    assert (await server.server.app[STORE].get_user("agent03")).disabled
    other = await sign_in(browser, server, "agent03")
    await expect(other).to_have_url(re.compile(r"/login"))
    await other.close()
    await row.locator("button.enable").click()
    await expect(row.locator(".status")).to_have_text("active")

    await page.goto(str(server.make_url("/admin/teams")))
    team = page.locator('#teams tr[data-team="team-b"]')
    await expect(team.locator("td").first).to_have_text("agent02")
    await team.locator("input").fill("Night shift")
    await team.locator("button").click()
    await expect(page.locator("#result")).to_have_text("Renamed team-b to Night shift (1 users)")
    await expect(page.locator('#teams tr[data-team="Night shift"]')).to_have_count(1)
    assert (await server.server.app[STORE].get_user("agent02")).team == "Night shift"


async def test_admin_edits_walks_and_applies_the_ivr_flow(browser, tmp_path: Path) -> None:
    """The IVR page opens on hotline.toml's flow; a wrong target is marked at its line;
    a walk with sample digits shows the path; the fix is applied and v0 restored."""
    from playwright.async_api import expect

    from tests.web.test_web_ivr_admin import FLOW

    server = await started(web_config(f"sqlite:///{tmp_path}/ivr.sqlite3", ivr=FLOW))
    try:
        page = await sign_in(browser, server, "admin")
        await page.goto(str(server.make_url("/admin/ivr")))
        await expect(page.locator("#live-version")).to_have_text("(live: version 0, from hotline.toml)")
        text = await page.input_value("#rules")
        line = text.splitlines().index('4 = "sales"') + 1
        await page.fill("#rules", text.replace('4 = "sales"', '4 = "nowhere"'))
        await page.click("#btn-validate")
        await expect(page.locator("#problem-list li").first).to_contain_text(f"line {line}")
        await expect(page.locator("#gutter .bad-line")).to_have_text([str(line)])
        edited = text.replace('4 = "sales"', '4 = "support"')
        await page.fill("#rules", edited)
        await page.click("#btn-validate")
        await expect(page.locator("#valid")).to_have_text("Valid.")
        await page.fill("#sim-digits", "4")
        await page.fill("#sim-at", "2026-12-07T10:00")
        await page.click("#btn-simulate")
        await expect(page.locator("#sim-outcome")).to_contain_text("queue support")
        await expect(page.locator("#sim-steps li").first).to_have_text("main → 4")
        await page.click("#btn-apply")
        await expect(page.locator("#confirm-diff")).to_contain_text('+4 = "support"')
        await page.click("#btn-confirm")
        await expect(page.locator("#result")).to_have_text("Applied as version 1")
        assert (await server.server.app[STORE].get_settings_version("ivr")).body == edited
        await page.click('#history tr[data-version="0"] button.restore')
        await page.click("#btn-confirm")
        await expect(page.locator("#result")).to_have_text("Applied as version 2")
        assert await page.input_value("#rules") == text
    finally:
        await asyncio.wait_for(server.close(), 20)


async def test_admin_pauses_a_campaign_and_manages_do_not_call(browser, tmp_path: Path) -> None:
    from playwright.async_api import expect

    from tests.dialer.test_dialer_live import campaign_table, write_leads

    campaigns = campaign_table(write_leads(tmp_path / "leads.csv", ["human"]))
    server = await started(web_config(f"sqlite:///{tmp_path}/campaigns.sqlite3", campaigns=campaigns))
    try:
        page = await sign_in(browser, server, "admin")
        await page.goto(str(server.make_url("/admin/campaigns")))
        row = page.locator('#campaigns tr[data-campaign="spring"]')
        await expect(row.locator(".state")).to_have_text("running")
        await row.locator("button.pause").click()
        await expect(page.locator("#result")).to_have_text("Paused spring")
        await expect(row.locator(".state")).to_have_text("paused")
        await row.locator("button.start").click()
        await expect(row.locator(".state")).to_have_text("running")

        await page.select_option("#dnc-campaign", "spring")
        await page.fill("#dnc-numbers", "4155550100, +14155550101")
        await page.click("#dnc-form button")
        await expect(page.locator("#result")).to_have_text("Added 2 number(s)")
        await expect(page.locator("#dnc tbody tr")).to_have_count(2)
        await page.locator('#dnc tr[data-number="+14155550100"] button.remove').click()
        await expect(page.locator("#dnc tbody tr")).to_have_count(1)
        entries = (
            await server.server.app[STORE].list_dnc("spring") if hasattr(server.server.app[STORE], "list_dnc") else None
        )
        assert entries is None or [e.number for e in entries] == ["+14155550101"]
    finally:
        await asyncio.wait_for(server.close(), 20)


async def test_the_apply_confirmation_shows_the_simulated_impact(browser, server: TestClient) -> None:
    from playwright.async_api import expect

    from tests.web.test_web_admin import RULES_V1
    from web.admin import simulator

    if simulator() is None:
        pytest.skip("the simulator's what-if API is not installed")
    app = server.server.app
    driver = BusCallDriver(app[STORE], app[BUS])
    for event in busy_hour_events(time.time(), agents=3, calls=30, waiting=0):
        await driver.emit(event)
    page = await sign_in(browser, server, "admin")
    await page.goto(str(server.make_url("/admin/routing")))
    await page.fill("#rules", RULES_V1)
    await page.click("#btn-apply")
    await expect(page.locator("#confirm-impact")).to_contain_text(
        "Simulated on the last 7 days (30 calls): service level", timeout=60000
    )
    await page.click("#btn-cancel")
    assert await app[STORE].get_settings_version("routing") is None
