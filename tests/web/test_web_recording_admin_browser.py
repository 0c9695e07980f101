"""The recording policy's admin page (issue 17) in a real browser: the policies shown per
queue, a wrong one refused with the field named, a right one saved as a new version."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from cti.recording_policy import SECTION
from cti.server import STORE
from tests.web.test_web_browser import CHROMIUM, browser, server, sign_in  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]


async def test_an_admin_sets_a_queues_recording_policy_on_the_page(browser, server: TestClient) -> None:  # noqa: F811
    from playwright.async_api import expect

    page = await sign_in(browser, server, "admin")
    await page.goto(str(server.make_url("/admin/recording")))
    await expect(page.locator("#live-version")).to_have_text("(from hotline.toml)")
    billing = page.locator('#recording-policies tr[data-kind="queues"][data-name="billing"] input')
    await billing.fill("sometimes")
    await page.click("#btn-save-recording")
    await expect(page.locator("#result .problems")).to_contain_text("queues.billing: must be one of")
    await billing.fill("40%")
    await page.fill('#recording-form input[name="comment"]', "quality review")
    await page.click("#btn-save-recording")
    await expect(page.locator("#result")).to_contain_text("Saved as version 1")
    await expect(page.locator("#live-version")).to_have_text("(version 1)")
    await expect(billing).to_have_value("40%")
    stored = await server.server.app[STORE].get_settings_version(SECTION)
    assert stored is not None and '"billing": "40%"' in stored.body and stored.comment == "quality review"
