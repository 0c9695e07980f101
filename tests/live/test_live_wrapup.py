"""A wrap-up belongs to its interaction (issue 14, item 4), in a real browser against
the real live loop on the PBX emulator: the form starts empty for each call and goes
when the wrap-up ends, the API takes a wrap-up only for the call the agent is wrapping
up now, and a reload shows where the agent and their call really are."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from agents.desktop import HUB
from cti.live_app import LIVE
from cti.server import BUS, STORE
from store.topics import AGENT_VIEWS
from tests.live.test_live_browser import grace_calls, live_server  # noqa: F401  (fixture)
from tests.web.test_web_browser import CHROMIUM, browser, sign_in  # noqa: F401  (fixture)
from tests.web.web_helpers import CUSTOMER

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]

# Grace stays on the line; the agent's phone would talk for a minute: the desktop's
# Hang up ends each call when the test says so.
LONG_CALL = {"PATIENCE": "120", "__AGENT_TALK": "60"}


class Desk:
    """agent01's desktop in the browser, available, and Grace ringing in as told."""

    def __init__(self, page: Any, server: Any, emulator: Any) -> None:
        self.page, self.app, self.emulator = page, server.server.app, emulator
        self.calls: list[str] = []
        self._callers: list[Any] = []

    async def call(self) -> str:
        """Grace calls; waits for her call to reach the desktop and connect; its id."""
        from playwright.async_api import expect

        self._callers.append(await grace_calls(self.emulator, LONG_CALL))
        await expect(self.page.locator("#customer-name")).to_have_text("Grace Hopper", timeout=15000)
        await expect(self.page.locator("#call-status")).to_have_text("talking", timeout=15000)
        pop = self.app[HUB].last_pop("agent01")
        assert pop is not None and pop["call_id"] not in self.calls
        self.calls.append(str(pop["call_id"]))
        return self.calls[-1]

    async def close(self) -> None:
        for callers in self._callers:
            await callers.close()


@asynccontextmanager
async def desk(chromium: Any, server_and_pbx: Any) -> AsyncIterator[Desk]:
    from playwright.async_api import expect

    server, emulator = server_and_pbx
    page = await sign_in(chromium, server, "agent01")
    await expect(page.locator("#conn")).to_have_text("live")
    await page.click("#btn-available")
    await expect(page.locator("#state")).to_have_text("available", timeout=10000)
    d = Desk(page, server, emulator)
    try:
        yield d
    finally:
        await d.close()


async def hang_up(page: Any) -> None:
    from playwright.async_api import expect

    await page.click("#btn-hangup")
    await expect(page.locator("#call-status")).to_have_text("ended — wrap-up", timeout=15000)
    await expect(page.locator("#state")).to_have_text("wrap up", timeout=10000)


async def api_wrap_up(page: Any, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST the wrap-up from the signed-in page (its session and CSRF token)."""
    return await page.evaluate(
        "([id, body]) => Hotline.api('POST', '/api/v1/interactions/' + encodeURIComponent(id) + '/wrap-up', body)",
        [call_id, body],
    )


async def test_each_call_gets_an_empty_wrap_up_form(browser, live_server) -> None:  # noqa: F811
    """Call 1's wrap-up, typed but never saved, ends when the agent goes available: its
    form goes with it; call 2's starts empty and saves only what was chosen for it."""
    from playwright.async_api import expect

    async with desk(browser, live_server) as d:
        page = d.page
        first = await d.call()
        await hang_up(page)
        await page.select_option("#disposition", "callback")
        await page.fill("#notes", "call 1: wants a call back")
        await page.fill("#callback-at", "2031-01-02T10:30")
        await page.click("#btn-available")  # ends the wrap-up without saving it
        await expect(page.locator("#state")).to_have_text("available", timeout=10000)
        await expect(page.locator("#disposition")).to_have_value("")
        await expect(page.locator("#notes")).to_have_value("")
        await expect(page.locator("#callback-at")).to_have_value("")
        await expect(page.locator("#btn-wrapup")).to_be_disabled()

        second = await d.call()
        await expect(page.locator("#disposition")).to_have_value("")
        await hang_up(page)
        await expect(page.locator("#disposition")).to_have_value("")
        await expect(page.locator("#notes")).to_have_value("")
        await expect(page.locator("#callback-at")).to_have_value("")
        await page.select_option("#disposition", "resolved")
        await page.fill("#notes", "call 2: sorted")
        await page.click("#btn-wrapup")
        await expect(page.locator("#wrapup-result")).to_have_text("Saved: resolved")

    store = d.app[STORE]
    saved = await store.get_interaction(second)
    assert (saved.disposition, saved.notes) == ("resolved", "call 2: sorted")
    assert await store.callbacks_between(0, 1e12) == []

    async def first_logged() -> None:  # the live loop writes call 1's row when it ends
        while not [i for i in await store.interactions_between(0, 1e12) if i.id == first]:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(first_logged(), 10)
    assert (await store.get_interaction(first)).disposition == ""
    wrapped = [s.event for s in await store.events_for_call(first) if type(s.event).__name__ == "WrapUpEnded"]
    assert wrapped == []


async def test_the_api_takes_a_wrap_up_only_for_the_call_being_wrapped_up(browser, live_server) -> None:  # noqa: F811
    async with desk(browser, live_server) as d:
        page, app = d.page, d.app
        first = await d.call()
        r = await api_wrap_up(page, first, {"disposition": "resolved", "notes": "too early"})
        assert r["status"] == 409, r
        now_talking = f"agent01 is not in wrap-up (now on call (call {first!r})): call {first!r} cannot be wrapped up"
        assert r["data"]["error"] == now_talking
        assert (r["data"]["state"], r["data"]["wrapping_up"]) == ("on_call", None)
        await hang_up(page)

        r = await api_wrap_up(page, first, {"disposition": "teleport"})
        assert r["status"] == 400 and r["data"]["error"].startswith("disposition: must be one of"), r
        r = await api_wrap_up(page, first, {"disposition": "callback", "notes": "x"})
        assert r["status"] == 400 and r["data"]["error"].startswith("callback_at: required"), r
        due = time.time() + 86400
        body = {"disposition": "callback", "notes": "call back tomorrow", "callback_at": due}
        r = await api_wrap_up(page, first, body)
        assert r["status"] == 200 and r["data"]["callback_id"], r
        callback_id = r["data"]["callback_id"]
        assert app[LIVE].router.agent_state("agent01") in ("wrap_up", "available")
        again = await api_wrap_up(page, first, body)  # a retry: the same answer, nothing new
        assert again["status"] == 200 and again["data"]["callback_id"] == callback_id, again
        assert again["data"]["repeated"] is True

        async def available_again() -> None:  # the live loop took WrapUpEnded: the agent's view says so
            while (view := await AGENT_VIEWS.get(app[BUS], "agent01")) is None or view.state != "available":
                await asyncio.sleep(0.05)

        await asyncio.wait_for(available_again(), 10)
        once_more = await api_wrap_up(page, first, body)
        assert once_more["status"] == 200 and once_more["data"]["callback_id"] == callback_id, once_more
        r = await api_wrap_up(page, first, {"disposition": "resolved", "notes": "changed my mind"})
        assert r["status"] == 409 and r["data"]["error"].startswith("agent01 is not in wrap-up (now available)"), r

        second = await d.call()
        await hang_up(page)
        r = await api_wrap_up(page, first, {"disposition": "resolved", "notes": "meant for call 1"})
        assert r["status"] == 409, r
        assert r["data"]["error"] == f"agent01 is wrapping up call {second!r}, not {first!r}"
        assert (r["data"]["state"], r["data"]["wrapping_up"]) == ("wrap_up", second)
        r = await api_wrap_up(page, second, {"disposition": "resolved", "notes": "call 2"})
        assert r["status"] == 200, r

    store = app[STORE]
    logged = [s.event for s in await store.events_for_call(first) if type(s.event).__name__ == "WrapUpEnded"]
    assert [(e.disposition, e.notes) for e in logged] == [("callback", "call back tomorrow")]
    [promise] = await store.callbacks_between(0, 1e12)
    assert (promise.call_id, promise.id, promise.kind, promise.state) == (first, callback_id, "scheduled", "pending")
    assert promise.queue == (await store.get_interaction(first)).queue != ""  # the scheduler queues it there
    assert (await store.get_interaction(first)).disposition == "callback"
    assert (await store.get_interaction(second)).notes == "call 2"


async def test_a_reload_mid_call_shows_the_call_talking(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    async with desk(browser, live_server) as d:
        page = d.page
        await d.call()
        await page.reload()
        await expect(page.locator("#conn")).to_have_text("live")
        await expect(page.locator("#state")).to_have_text("on call")
        await expect(page.locator("#call-status")).to_have_text("talking")
        await expect(page.locator("#call-caller")).to_contain_text("4155550142")
        await expect(page.locator("#customer-name")).to_have_text("Grace Hopper")
        await expect(page.locator("#customer-account")).to_have_text(CUSTOMER.account_number)
        await expect(page.locator("#btn-hangup")).to_be_visible()
        await expect(page.locator("#btn-wrapup")).to_be_disabled()
        await hang_up(page)  # the controls work on the reloaded page


async def test_a_reload_in_wrap_up_shows_the_wrap_up_and_its_countdown(browser, live_server) -> None:  # noqa: F811
    from playwright.async_api import expect

    async with desk(browser, live_server) as d:
        page = d.page
        call_id = await d.call()
        await expect(page.locator("#wrapup-left")).to_be_hidden()
        await hang_up(page)
        # the routing rules give 30 s of wrap-up (tests/live/test_live_browser.py)
        countdown = re.compile(r"^ends in 0:(30|[12]\d)$")
        await expect(page.locator("#wrapup-left")).to_have_text(countdown)
        await page.reload()
        await expect(page.locator("#conn")).to_have_text("live")
        await expect(page.locator("#state")).to_have_text("wrap up")
        await expect(page.locator("#call-status")).to_have_text("ended — wrap-up")
        await expect(page.locator("#call-caller")).to_contain_text("4155550142")
        await expect(page.locator("#wrapup-left")).to_have_text(countdown)
        await expect(page.locator("#wrapup-call")).to_contain_text("4155550142")
        await expect(page.locator("#btn-wrapup")).to_be_enabled()
        await page.select_option("#disposition", "resolved")
        await page.click("#btn-wrapup")
        await expect(page.locator("#wrapup-result")).to_have_text("Saved: resolved")
        await expect(page.locator("#state")).to_have_text("available", timeout=10000)
        await expect(page.locator("#wrapup-left")).to_be_hidden()
    assert (await d.app[STORE].get_interaction(call_id)).disposition == "resolved"
