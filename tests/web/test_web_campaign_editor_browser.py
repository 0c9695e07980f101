"""Campaign admin in a real browser, through the live loop on the PBX emulator: an admin
creates a campaign (a bad value named at its field), uploads its leads, starts it (the
dialer dials, the agent talks to a lead), edits it while it runs (applied to the
dialer), pauses it (the agent free again, nothing more is dialled) and starts it again;
a restart keeps it (tests/live/test_live_campaign_definitions.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cti.live_items import InLoop
from dialer.live import DialerRunner
from tests.live.test_live_commands import Center
from tests.web.test_web_browser import browser, pytestmark, sign_in  # noqa: F401  (fixture, marks)

LEADS = "lead_id,phone,time_zone,first_name,last_name\n" + "".join(
    f"S{i},+1212736010{i},UTC,Sam,Lead{i}\n" for i in range(1, 7)
)


def runner(center: Center, campaign: str) -> DialerRunner | None:
    """The live loop's dialer of `campaign` (it listens to the center's events)."""
    for listener in center.live.listeners:
        found = getattr(listener, "__self__", None)
        if isinstance(found, DialerRunner) and found.campaign.id == campaign:
            return found
    return None


async def tick(center: Center, dialer: DialerRunner) -> int:
    """One pacing tick of the dialer inside the live loop's consumer: the dials it placed."""
    result: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def call() -> None:
        result.set_result(await dialer.tick())

    center.live.submit(InLoop(call))
    return await asyncio.wait_for(result, 5)


async def test_an_admin_creates_loads_starts_and_pauses_a_campaign_on_the_live_dialer(
    browser: Any,  # noqa: F811
    center: Center,
    tmp_path: Path,
) -> None:
    from playwright.async_api import expect

    ada = await center.desk("agent01")  # (support skill)
    await ada.ok("available")
    page = await sign_in(browser, center.client, "admin")
    await page.goto(str(center.client.make_url("/admin/campaigns")))
    f = page.locator("#campaign-form")
    await f.locator("[name=id]").fill("summer")
    await f.locator("[name=name]").fill("Summer promo")
    await f.locator("[name=mode]").select_option("progressive")
    await f.locator("[name=skill]").fill("support")
    await f.locator("[name=queue]").fill("support")
    await f.locator("[name=window_start]").fill("23:00:00")  # after its end: refused, the field named
    await f.locator("[name=window_end]").fill("08:00:00")
    await f.locator("input[name=days][value=sun]").check()
    await f.locator("[name=caller_id]").fill('"ACME" <8005550100>')
    await f.locator("[name=drop_cap]").fill("3")
    await page.click("#btn-save-campaign")
    await expect(page.locator("#campaign-result")).to_contain_text("calling_window: end must be after start")
    await expect(f.locator("[name=window_end]")).to_have_attribute("aria-invalid", "true")
    await f.locator("[name=window_start]").fill("00:00:00")
    await f.locator("[name=window_end]").fill("23:59:59")
    await page.click("#btn-save-campaign")
    await expect(page.locator("#campaign-result")).to_contain_text("Created summer (version 1)")
    row = page.locator('#campaigns tr[data-campaign="summer"]')
    await expect(row.locator(".state")).to_have_text("stopped")  # created stopped: nothing dialled
    assert runner(center, "summer") is None

    leads = tmp_path / "summer.csv"
    leads.write_text(LEADS)
    await page.select_option("#leads-campaign", "summer")
    await page.set_input_files("#leads-file", str(leads))
    await page.click("#leads-form button")
    await expect(page.locator("#leads-result")).to_have_text(
        "Added 6 lead(s) to summer; 0 already there; 0 row(s) not added."
    )

    await row.locator("button.start").click()
    await expect(page.locator("#result")).to_have_text("Started summer")
    await expect(row.locator(".state")).to_have_text("running")
    await center.until(lambda: runner(center, "summer") is not None)
    dialer = runner(center, "summer")
    assert dialer is not None
    await center.until(lambda: dialer.stats.dials >= 1)  # the live dialer dials...
    call_id = await center.connected("agent01")  # ...the PBX calls the lead, the agent talks to them
    assert center.live.calls[call_id].direction == "outbound"
    assert dialer.stats.dials == 1  # progressive: one agent, one call

    # edited while it runs: the dialer takes the new settings at once
    await row.locator("button.edit").click()
    await expect(page.locator("#campaign-form-title")).to_have_text("Edit summer")
    await f.locator("[name=caller_id]").fill('"ACME Summer" <8005550199>')
    await f.locator("[name=max_attempts]").fill("2")
    await page.click("#btn-save-campaign")
    await expect(page.locator("#campaign-result")).to_contain_text("Saved summer (version 3)")
    await center.until(lambda: dialer.campaign.config.caller_id == '"ACME Summer" <8005550199>')
    assert dialer.book.config.max_attempts == 2

    await row.locator("button.pause").click()
    await expect(page.locator("#result")).to_have_text("Paused summer")
    await expect(row.locator(".state")).to_have_text("paused")
    await center.until(lambda: dialer.paused)
    await ada.ok("hangup", call_id=call_id)
    await center.until(lambda: center.state("agent01") == "wrap_up")
    await ada.ok("wrap_up_done", call_id=call_id)
    await center.until(lambda: center.state("agent01") == "available")
    for _ in range(3):  # the agent is free and 5 leads are due: paused, nothing is dialled
        assert await tick(center, dialer) == 0
    assert dialer.stats.dials == 1

    await row.locator("button.start").click()
    await expect(row.locator(".state")).to_have_text("running")
    await center.until(lambda: dialer.stats.dials >= 2)  # started again: the next lead is dialled
    await center.connected("agent01")

    # the definitions' history: restoring version 0 (no campaign of the admin's) stops summer
    await expect(page.locator('#history tr[data-version="3"]')).to_contain_text("live")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.locator('#history tr[data-version="0"] button.restore').click()
    await expect(page.locator("#result")).to_have_text("Restored v0 as version 4")
    await expect(row).to_have_count(0)
    await center.until(lambda: dialer.paused and not dialer.campaign.live.enabled)
