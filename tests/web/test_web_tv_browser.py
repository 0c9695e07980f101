"""The wallboard's TV mode (issue 17 item 5) in a real browser: a wall display opens
its start URL with a read-only token, keeps it in a cookie (the URL loses it), shows
the live numbers and alerts in large type with no navigation or controls, and goes
dark at once when an admin revokes the token."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from events import CallConnected, CallEnded, CallQueued
from reports.tv import COOKIE
from reports.web import WALLBOARD
from store.models import ApiToken
from tests.web.test_web_browser import CHROMIUM, browser, server  # noqa: F401  (fixtures)
from tests.web.web_helpers import BusCallDriver
from web.app import SOCKET_RECHECK
from web.security import hash_token

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]


async def _token(server: TestClient, login: str, scopes: tuple[str, ...]) -> tuple[str, str]:  # noqa: F811
    token_id = f"tv-{login}-{'-'.join(scopes)}"
    secret = f"hl_{token_id}_secret"
    token = ApiToken(token_id, login, "wall", time.time(), expires_at=time.time() + 86400, scopes=scopes)
    await server.server.app[STORE].put_api_token(token, hash_token(secret))
    return token_id, secret


async def test_a_wall_display_shows_the_board_with_a_read_only_token_until_revoked(browser, server: TestClient) -> None:  # noqa: F811
    from playwright.async_api import expect

    app = server.server.app
    app[SOCKET_RECHECK] = 0.3
    await asyncio.wait_for(app[WALLBOARD].ready.wait(), 5)
    token_id, secret = await _token(server, "sup", ("read",))
    tv = await browser.new_page(viewport={"width": 1920, "height": 1080})
    tv.set_default_timeout(8000)
    answer = await tv.goto(str(server.make_url(f"/wallboard/tv?token={secret}&rotate=0")))
    assert answer is not None and answer.status == 200
    assert tv.url.endswith("/wallboard/tv?rotate=0")  # the token left the URL (and the history)
    [kept] = [c for c in await tv.context.cookies() if c["name"] == COOKIE]
    assert kept["httpOnly"] and kept["sameSite"] == "Strict" and kept["path"] == "/wallboard/tv"
    await expect(tv.locator("#conn")).to_have_text("live")
    # no navigation, no controls: nothing to click on a wall
    assert await tv.locator("header.top, nav, a, button, input, select, form").count() == 0

    driver = BusCallDriver(app[STORE], app[BUS])
    await driver.agent_ready("agent01")
    t = time.time() + 1
    await driver.emit(CallQueued(t, "slow", queue="billing"))
    await driver.emit(CallConnected(t + 60, "slow", "agent01", "billing"))
    await driver.emit(CallEnded(t + 70, "slow"))
    banner = tv.locator('#alerts .tv-alert[data-queue="billing"]')
    await expect(banner).to_contain_text("service level 0% over the last 30 min", timeout=5000)
    await expect(tv.locator('#queues [data-queue="billing"] .tv-big')).to_have_text("0")
    await expect(tv.locator('#agents [data-agent="agent01"]')).to_contain_text("Ada Agent")
    # (read in one go in the page: a push may replace the tile between finding it and reading it)
    size = await tv.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('#tv-waiting .tv-big')).fontSize)"
    )
    assert size >= 80, size  # readable across a room (1080p)

    # an admin revokes the token: the screen's socket closes and the page is refused
    await app[STORE].revoke_api_token(token_id)
    await expect(tv.locator("#conn")).to_have_text("reconnecting…", timeout=5000)
    answer = await tv.reload()
    assert answer is not None and answer.status == 401


async def test_a_tv_takes_only_a_read_only_token_of_a_supervisor(browser, server: TestClient) -> None:  # noqa: F811
    page = await browser.new_page()
    for login, scopes, why in (
        ("sup", ("admin",), "read-only token"),
        ("sup", ("read", "agent"), "read-only token"),
        ("agent01", ("read",), "not a supervisor"),
    ):
        _, secret = await _token(server, login, scopes)
        answer = await page.goto(str(server.make_url(f"/wallboard/tv?token={secret}")))
        assert answer is not None and answer.status == 401 and why in await page.content(), (login, scopes)
    answer = await page.goto(str(server.make_url("/wallboard/tv?token=hl_nope")))
    assert answer is not None and answer.status == 401
    answer = await page.goto(str(server.make_url("/wallboard/tv")))  # no token, not signed in
    assert answer is not None and answer.status == 401 and "read-only API token" in await page.content()


async def test_a_signed_in_supervisor_picks_the_tiles_and_they_take_turns(browser, server: TestClient) -> None:  # noqa: F811
    from playwright.async_api import expect

    from tests.web.test_web_browser import sign_in

    page = await sign_in(browser, server, "sup")
    await page.goto(str(server.make_url("/wallboard/tv?tiles=queues,agents&rotate=1")))
    await expect(page.locator("#conn")).to_have_text("live")
    assert await page.locator("#totals, #alerts").count() == 0  # only the tiles asked for
    queues, agents = page.locator("#queues"), page.locator("#agents")
    await expect(queues).to_be_visible()
    await expect(agents).to_be_hidden()
    await expect(agents).to_be_visible(timeout=3000)  # its turn
    await expect(queues).to_be_hidden()
