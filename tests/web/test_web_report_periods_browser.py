"""Issue 20 in a real browser: a supervisor opens /reports over four weeks across a
month's end (events written to the log with append_many), chooses by day, by week, then
by month, and sees one row per day, per week (from Monday; the first, partial, from the
range's first day) and per month, each row's counts those of the JSON API for the same
range, the sum of its days' rows and a count of the calls in the log."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cti.server import STORE
from events import CallAbandoned, CallConnected, CallQueued, Event
from reports.report_days import day_start, period_of
from tests.reports.test_report_periods import FIRST, LAST, weeks_of_calls
from tests.web.test_web_browser import CHROMIUM, browser, server, sign_in  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]
COUNTS = ("offered", "answered", "abandoned")
WEEKS = ["2026-03-18 to 2026-03-22", "2026-03-23 to 2026-03-29", "2026-03-30 to 2026-04-05",
         "2026-04-06 to 2026-04-12", "2026-04-13 to 2026-04-14"]  # fmt: skip
MONTHS = ["2026-03-18 to 2026-03-31", "2026-04-01 to 2026-04-14"]


def logged_counts(events: list[Event], by: str) -> dict[float, dict[str, int]]:
    """Inbound calls offered, answered and abandoned per row start, counted in the log
    (every call of weeks_of_calls is offered after the range's first midnight)."""
    inbound = {e.call_id: e.at for e in events if isinstance(e, CallQueued) and "campaign" not in e.attributes}
    out: dict[float, dict[str, int]] = {}

    def count(call_id: str, what: str) -> None:
        start = day_start(max(period_of(date.fromtimestamp(inbound[call_id]), by), FIRST))
        row = out.setdefault(start, dict.fromkeys(COUNTS, 0))
        row[what] += 1

    for e in events:
        if getattr(e, "call_id", None) in inbound:
            kind = {CallQueued: "offered", CallConnected: "answered", CallAbandoned: "abandoned"}.get(type(e))
            if kind:
                count(e.call_id, kind)  # type: ignore[attr-defined]
    return out


async def shown_rows(page) -> list[dict[str, Any]]:
    """The page's interval rows: start, label and counts."""
    return await page.evaluate(
        """[...document.querySelectorAll('#intervals-table tbody tr')].map((tr) => ({
            start: Number(tr.dataset.start), label: tr.querySelector('th').textContent,
            offered: Number(tr.querySelector('.offered').textContent),
            answered: Number(tr.querySelector('.answered').textContent),
            abandoned: Number(tr.querySelector('.abandoned').textContent)}))"""
    )


async def show(page, interval: str) -> list[dict[str, Any]]:
    """Choose `interval` in the form and show the report."""
    from playwright.async_api import expect

    await page.select_option("#report-form select[name=interval]", label=interval)
    await page.click("#report-form button.primary")
    await expect(page).to_have_url(re.compile(f"[?&]interval={86400 if interval == 'day' else interval}&"))
    await expect(page.locator("#intervals-table")).to_be_visible()
    return await shown_rows(page)


async def test_a_supervisor_reports_a_range_by_day_week_and_month(browser, server: TestClient) -> None:  # noqa: F811
    events = weeks_of_calls()
    await server.server.app[STORE].append_many(events)
    page = await sign_in(browser, server, "sup", viewport=(1280, 1000))
    await page.goto(str(server.make_url("/reports")))
    await page.fill("#report-form input[name=from]", FIRST.isoformat())
    await page.fill("#report-form input[name=to]", LAST.isoformat())

    days = await show(page, "day")
    assert len(days) == (LAST - FIRST).days + 1 == 28
    assert [d["start"] for d in days] == [day_start(FIRST + timedelta(days=n)) for n in range(28)]
    assert days[0]["label"] == "2026-03-18 Wed"
    assert {d["start"]: {k: d[k] for k in COUNTS} for d in days} == logged_counts(events, "day")

    for by, labels in (("week", WEEKS), ("month", MONTHS)):
        rows = await show(page, by)
        assert [r["label"] for r in rows] == labels, by
        assert await page.locator("#report-form select[name=interval]").input_value() == by  # (kept chosen)
        starts = [day_start(date.fromisoformat(label[:10])) for label in labels]
        assert [r["start"] for r in rows] == starts, by
        shown = {r["start"]: {k: r[k] for k in COUNTS} for r in rows}
        summed: dict[float, dict[str, int]] = {}
        for d in days:  # the sum of the days' rows
            start = day_start(max(period_of(date.fromtimestamp(d["start"]), by), FIRST))
            for k in COUNTS:
                summed.setdefault(start, dict.fromkeys(COUNTS, 0))[k] += d[k]
        assert shown == summed == logged_counts(events, by), by
        api = await page.evaluate(
            "(q) => fetch('/api/v1/reports?' + q).then((r) => r.json())",
            f"from={FIRST.isoformat()}&to={LAST.isoformat()}&interval={by}",
        )
        assert api["query"]["interval"] == by
        assert {i["start"]: {k: i[k] for k in COUNTS} for i in api["intervals"]} == shown, by
        total = api["overall"]
        assert [sum(r[k] for r in rows) for k in COUNTS] == [total[k] for k in COUNTS] and total["offered"] > 50
