"""The webhook admin page in a real browser (Debian chromium through Playwright): an
admin adds a subscription for a real receiver and sees its delivery in the log."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

from cti.server import STORE
from events import CallEnded
from tests.web.conftest import started, web_config
from tests.web.test_web_browser import browser, pytestmark, sign_in  # noqa: F401  (fixture, marks)
from tests.web.test_web_webhooks import FAST, Receiver, receiver  # noqa: F401  (fixture)
from tests.web.test_web_webhooks import started as worker_started
from tests.web.web_helpers import wait_until
from webhooks.signing import HEADER, verify


async def test_admin_subscribes_a_receiver_and_sees_the_delivery(
    browser,  # noqa: F811  (the fixture)
    receiver: Receiver,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.async_api import expect

    server = await started(web_config(f"sqlite:///{tmp_path}/hooks.sqlite3", webhooks=FAST))
    try:
        store = server.server.app[STORE]
        page = await sign_in(browser, server, "admin")
        await page.goto(str(server.make_url("/admin/webhooks")))
        await page.fill("#webhook-url", "http://10.0.0.7/hook")
        await page.check('#webhook-events input[value="call.ended"]')
        await page.click("#webhook-form button")
        await expect(page.locator("#result")).to_contain_text("url: 10.0.0.7 is not a public address")
        await page.fill("#webhook-url", receiver.url)
        await page.check('#webhook-events input[value="call.ended"]')
        await page.click("#webhook-form button")
        await expect(page.locator("#result")).to_contain_text("Secret (shown once): ")
        secret = re.search(r"Secret \(shown once\): (\S+)", await page.locator("#result").inner_text())
        assert secret
        await expect(page.locator("#webhooks tbody tr")).to_have_count(1)
        await expect(page.locator("#webhooks tbody tr")).to_contain_text("call.ended")

        await wait_until(lambda: worker_started(store), timeout=5)
        await store.append(CallEnded(time.time(), "b1"))
        await wait_until(lambda: receiver.got, timeout=10)
        headers, body = receiver.got[0]
        assert verify(secret.group(1), body, headers[HEADER], time.time())
        assert json.loads(body)["data"]["call_id"] == "b1"
        await page.click("#btn-refresh")
        row = page.locator("#deliveries tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("delivered")
        await expect(row).to_contain_text("HTTP 204")
    finally:
        await asyncio.wait_for(server.close(), 20)
