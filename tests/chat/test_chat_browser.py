"""The chat widget in a real browser (Debian chromium): a company's page on another
origin embeds it with one script tag; the customer chats, reloads, and HTML/script in
messages stays text on both sides."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from chat.config import ChatConfig
from chat.service import token_hash
from chat.web import CHAT
from cti.server import STORE
from tests.web.conftest import serving, web_config
from tests.web.test_web_browser import CHROMIUM, browser  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]

RESUME_S = 4.0  # a reload comes back well within; a closed page is an abandon after it
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def company_site(hotline: str) -> web.Application:
    """A company's own site (another origin) with the widget's one line."""

    async def home(request: web.Request) -> web.Response:
        return web.Response(
            text=f'<!doctype html><title>Acme</title><h1>Acme</h1><script src="{hotline}/chat/widget.js" '
            'data-queue="sales" async></script>',
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_get("/", home)
    return app


@pytest.fixture
async def sites(tmp_path: Path) -> AsyncIterator[tuple[TestClient, TestServer, TestServer]]:
    """Hotline, a company site it allows, and one it does not."""
    allowed = TestServer(web.Application())  # (its port first: Hotline's config names it)
    await allowed.start_server()
    origin = str(allowed.make_url("/")).rstrip("/")
    chat = ChatConfig(queues=["support", "sales"], allowed_origins=[origin], resume_s=RESUME_S)
    async with serving(web_config(f"sqlite:///{tmp_path}/chat.sqlite3", chat=chat)) as hotline:
        base = str(hotline.make_url("/")).rstrip("/")
        port = allowed.port
        await allowed.close()
        allowed = TestServer(company_site(base), port=port)
        await allowed.start_server()
        other = TestServer(company_site(base))
        await other.start_server()
        try:
            yield hotline, allowed, other
        finally:
            await allowed.close()
            await other.close()


async def open_widget(page: Any, site: TestServer) -> Any:
    await page.goto(str(site.make_url("/")))
    await page.click("#hotline-chat-button")
    return page.frame_locator("#hotline-chat-frame")


async def start_chat(page: Any, site: TestServer, name: str, email: str) -> Any:
    """The customer opens the widget on the site and gives their name and address."""
    chat = await open_widget(page, site)
    await chat.locator("#chat-name").fill(name)
    await chat.locator("#chat-email").fill(email)
    await chat.locator("#chat-start button").click()
    return chat


async def the_task(hotline: TestClient, page: Any) -> str:
    for f in page.frames:
        if f.url.startswith(str(hotline.make_url("/chat/"))):
            token = await f.evaluate("sessionStorage.getItem('hotline-chat-token')")
            session = await hotline.server.app[STORE].get_chat_session(token_hash(token))
            return session.task_id
    raise AssertionError("no chat frame")


async def test_a_customer_chats_from_the_widget_on_a_company_site(browser, sites) -> None:  # noqa: F811
    from playwright.async_api import expect

    hotline, allowed, other = sites
    desk = hotline.server.app[CHAT].desk
    page = await browser.new_page()
    page.set_default_timeout(8000)
    chat = await start_chat(page, allowed, "Grace <b>Hopper</b>", "grace@example.com")
    await expect(chat.locator("#chat-status")).to_contain_text("You are number 1 in the queue")
    task_id = await the_task(hotline, page)
    task = await desk.get(task_id)
    assert (task.queue, task.customer_id) == ("sales", "C0000042")  # the site's queue; matched by e-mail

    await chat.locator("#chat-text").fill(PAYLOAD)
    await chat.locator("#chat-say button").click()
    await expect(chat.locator("#chat-log li.in .text")).to_have_text(PAYLOAD)
    await desk.add_message(task_id, direction="out", author="Ada Agent", text=PAYLOAD + " & <b>hi</b>")
    await expect(chat.locator("#chat-log li.out .text")).to_have_text(PAYLOAD + " & <b>hi</b>")
    await expect(chat.locator("#chat-log li.out .author")).to_have_text("Ada Agent")
    await desk.typing(task_id, "agent01")
    await expect(chat.locator("#chat-typing")).to_be_visible()
    for frame in page.frames:
        assert await frame.evaluate("window.__pwned === undefined")
    assert await chat.locator("#chat-log img, #chat-log script, #chat-log b").count() == 0

    await page.reload()  # the widget reopens and the conversation is picked up
    await expect(chat.locator("#chat-log li")).to_have_count(2)
    await expect(chat.locator("#chat-status")).to_contain_text("in the queue")
    assert await the_task(hotline, page) == task_id
    await chat.locator("#chat-leave").click()
    await expect(chat.locator("#chat-status")).to_have_text("You ended the chat.")
    assert (await desk.get(task_id)).state == "abandoned"

    # a site not in [chat] allowed_origins shows the button, but the browser refuses the frame
    stranger = await browser.new_page()
    blocked = await open_widget(stranger, other)
    await expect(stranger.locator("#hotline-chat-frame")).to_be_attached()
    for _ in range(200):  # (no event to wait on: the frame's navigation ends in an error page)
        if any(f.url.startswith("chrome-error://") for f in stranger.frames):
            break
        await asyncio.sleep(0.02)
    assert [f.url for f in stranger.frames][1:] == ["chrome-error://chromewebdata/"]
    assert await blocked.locator("#chat-start").count() == 0


async def test_closing_the_page_before_an_answer_is_an_abandon(browser, sites) -> None:  # noqa: F811
    from playwright.async_api import expect

    hotline, allowed, _ = sites
    page = await browser.new_page()
    chat = await start_chat(page, allowed, "Bo", "bo@example.com")
    await expect(chat.locator("#chat-status")).to_contain_text("in the queue")
    task_id = await the_task(hotline, page)
    closed_at = time.monotonic()
    await page.close()
    desk = hotline.server.app[CHAT].desk
    while (await desk.get(task_id)).state != "abandoned":
        assert time.monotonic() - closed_at < RESUME_S + 5, "not abandoned"
        await asyncio.sleep(0.05)
    assert time.monotonic() - closed_at >= RESUME_S - 0.5  # (not before a reload could have come back)
    assert (await desk.get(task_id)).outcome == "page_closed"
