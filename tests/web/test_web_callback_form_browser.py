"""The public call-back form in a real browser (issue 18): a refused field is shown beside
it; a good request is thanked and kept as a promise."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from cti.server import STORE
from tests.web.test_web_browser import CHROMIUM, browser, server  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]


async def test_a_customer_asks_for_a_call_back_and_a_bad_number_is_named(browser, server: TestClient) -> None:  # noqa: F811
    from playwright.async_api import expect

    page = await browser.new_page()
    page.set_default_timeout(8000)
    await page.goto(str(server.make_url("/callback")))
    await page.fill("#cb-name", "Grace Hopper")
    await page.fill("#cb-phone", "call me maybe")
    await page.click("#cb-submit")
    phone_error = page.locator('.field-error[data-field="phone"]')
    await expect(phone_error).to_be_visible()
    await expect(phone_error).to_contain_text("phone: not a phone number we can call")
    await page.fill("#cb-phone", "+1 415 555 0142")
    await page.fill("#cb-notes", "about my invoice")
    await page.click("#cb-submit")
    await expect(page.locator("#cb-result")).to_have_text("Thank you: we will call 14155550142 shortly.")
    await expect(phone_error).to_be_hidden()
    [promise] = await server.server.app[STORE].open_callbacks()
    assert (promise.kind, promise.number, promise.customer_id) == ("web", "14155550142", "C0000042")
