"""The agent desktop's "Find a customer" in a real browser: by name, by digits of a
number, by account number, paged; no match and an empty search said plainly; the
call's own customer card is left alone."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from cti.server import STORE
from store.models import Customer
from tests.web.test_web_browser import browser, pytestmark, server, sign_in  # noqa: F401  (fixtures, marks)


async def test_an_agent_finds_customers_by_name_number_and_account(
    browser,  # noqa: F811  (the fixture)
    server: TestClient,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    store = server.server.app[STORE]
    for n in range(25):
        await store.put_customer(Customer(f"S{n:03d}", f"Searcher {n:02d}", phones=(f"+1415555{n:04d}",)))
    page = await sign_in(browser, server, "agent01")
    await page.goto(str(server.make_url("/agent")))
    rows = page.locator("#search-results tbody tr")

    await page.click("#btn-search")
    await expect(page.locator("#search-status")).to_have_text(
        "Type a name, 4 or more digits of a number, or an account number."
    )
    await page.fill("#search-q", "grace")
    await page.press("#search-q", "Enter")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Grace Hopper")
    await expect(rows.first).to_contain_text("+14155550142")
    await page.fill("#search-q", "5550142")  # digits of her number
    await page.click("#btn-search")
    await expect(page.locator('#search-results tr[data-customer="C0000042"]')).to_have_count(1)
    await page.fill("#search-q", "10000042")  # her account number
    await page.click("#btn-search")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Navy Computing")

    await page.fill("#search-q", "searcher")
    await page.click("#btn-search")
    await expect(rows).to_have_count(20)
    await expect(page.locator("#search-status")).to_have_text("20 found (more below)")
    await page.click("#search-more")
    await expect(rows).to_have_count(25)
    await expect(page.locator("#search-more")).to_be_hidden()

    await page.fill("#search-q", "nobody-like-this")
    await page.click("#btn-search")
    await expect(page.locator("#search-status")).to_have_text("No customer matches “nobody-like-this”.")
    await expect(page.locator("#search-results")).to_be_hidden()
    await expect(page.locator("#customer")).to_be_hidden()  # the call's customer card: untouched
