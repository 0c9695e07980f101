"""Uploading leads from /admin/campaigns in a real browser: the added count, and every
row not added listed with its line and reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cti.server import STORE
from dialer.uploads import uploaded_leads
from tests.web.conftest import started, web_config
from tests.web.test_web_browser import browser, pytestmark, sign_in  # noqa: F401  (fixture, marks)


async def test_admin_uploads_leads_and_sees_the_rejected_rows(browser, tmp_path: Path) -> None:  # noqa: F811
    from playwright.async_api import expect

    from tests.dialer.test_dialer_live import campaign_table, write_leads

    campaigns = campaign_table(write_leads(tmp_path / "leads.csv", ["human"]))
    server = await started(web_config(f"sqlite:///{tmp_path}/upload.sqlite3", campaigns=campaigns))
    try:
        upload = tmp_path / "more-leads.csv"
        upload.write_text(
            "lead_id,phone,time_zone,first_name,last_name\n"
            "N1,+12127360101,UTC,Nina,New\n"
            "N2,call me,UTC,Ned,Nophone\n"
            "N3,+12127360103,UTC,Nora,New\n"
        )
        page = await sign_in(browser, server, "admin")
        await page.goto(str(server.make_url("/admin/campaigns")))
        await expect(page.locator("#leads-campaign option")).to_have_count(1)
        await page.click("#leads-form button")
        await expect(page.locator("#leads-result")).to_have_text("Choose a campaign and a CSV file.")
        await page.set_input_files("#leads-file", str(upload))
        await page.click("#leads-form button")
        await expect(page.locator("#leads-result")).to_have_text(
            "Added 2 lead(s) to spring; 0 already there; 1 row(s) not added:"
        )
        await expect(page.locator("#leads-rejected li")).to_have_count(1)
        await expect(page.locator("#leads-rejected li")).to_contain_text("more-leads.csv:3: phone")
        kept = await uploaded_leads(server.server.app[STORE], "spring")
        assert [lead.lead_id for lead in kept] == ["N1", "N3"]
        await page.click("#leads-form button")  # the same file again: nothing new
        await expect(page.locator("#leads-result")).to_have_text(
            "Added 0 lead(s) to spring; 2 already there; 3 row(s) not added:"
        )
    finally:
        await asyncio.wait_for(server.close(), 20)
