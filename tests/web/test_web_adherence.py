"""The published schedule and adherence to it (web/adherence.py): a supervisor publishes
their team's shifts, refused naming the field for another team's agent or a bad time;
the adherence API and the wallboard (a real browser) show each agent's and team's
adherence and conformance from the event log."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from cti.server import STORE
from events import AgentLoggedIn, AgentStateChanged
from tests.web.test_web_browser import browser, pytestmark, server, sign_in  # noqa: F401  (fixtures, marks)
from tests.web.web_helpers import login
from web.app import CLOCK

NOON = time.mktime(datetime.combine(date.today(), datetime.min.time()).timetuple()) + 12 * 3600.0


async def publish(client: TestClient, csrf: str, shifts: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    r = await client.put("/api/v1/schedule", json={"shifts": shifts}, headers={"X-CSRF-Token": csrf})
    return r.status, await r.json()


async def a_morning(client: TestClient) -> str:
    """agent01 scheduled 10:00-14:00 (break 11:00-11:30), in at 11:00 (an hour late, and
    through the break); the clock at noon. Returns the supervisor's CSRF token."""
    app = client.server.app
    app[CLOCK] = lambda: NOON
    csrf = await login(client, "sup")  # team-a: agent01 and agent03
    shift = {"agent": "agent01", "start": NOON - 7200, "end": NOON + 7200, "break": [NOON - 3600, NOON - 1800]}
    status, body = await publish(client, csrf, [shift])
    assert status == 200 and body["shifts"] == 1, body
    await app[STORE].append_many(
        [AgentLoggedIn(NOON - 3600, "agent01"), AgentStateChanged(NOON - 3600, "agent01", "available")]
    )
    return csrf


async def test_a_supervisor_publishes_and_reads_adherence(
    server: TestClient,  # noqa: F811
) -> None:
    csrf = await a_morning(server)
    other = {"agent": "agent02", "start": NOON, "end": NOON + 3600}  # team-b
    status, body = await publish(server, csrf, [other])
    assert status == 400 and body["error"] == "shifts[0].agent: 'agent02' is not an agent you may schedule"
    for bad, field in [
        ({"agent": "agent01", "start": "noon", "end": NOON}, "shifts[0].start"),
        ({"agent": "agent01", "start": NOON, "end": NOON - 1}, "shifts[0].end"),
        ({"agent": "agent01", "start": NOON, "end": NOON + 60, "break": [NOON + 90, NOON + 99]}, "shifts[0].break"),
        ({"agent": "agent01", "start": NOON, "end": NOON + 60, "colour": "red"}, "shifts[0].colour"),
    ]:
        status, body = await publish(server, csrf, [bad])
        assert status == 400 and body["error"].startswith(field + ":"), (bad, body)
    iso = {"agent": "agent03", "start": "2026-03-03T09:00:00+00:00", "end": "2026-03-03T17:00:00+00:00"}
    assert (await publish(server, csrf, [iso]))[0] == 200  # (replaces the team's shifts)
    assert [s["agent"] for s in (await (await server.get("/api/v1/schedule")).json())["shifts"]] == ["agent03"]
    await a_morning(server)  # published again (a new version)
    versions = await server.server.app[STORE].list_settings_versions("schedule")
    assert [v.version for v in versions][:1] == [3] and versions[0].author == "sup"

    got = await (await server.get("/api/v1/adherence?interval=3600")).json()
    a1 = got["agents"]["agent01"]["total"]
    # scheduled 10:00-12:00 so far (2 h, 1.5 h of it on the phones); on the phones 11:00-12:00,
    # of which 11:30-12:00 as scheduled (11:00-11:30 was the break): 30 min of 2 h adherent
    assert (a1["scheduled_s"], a1["scheduled_on_s"], a1["actual_on_s"]) == (7200, 5400, 3600)
    assert a1["adherence"] == 0.25 and a1["conformance"] == round(3600 / 5400, 4)
    assert got["teams"]["team-a"]["adherence"] == 0.25 and got["now"] == {"agent01": "on"}
    r = await server.get("/api/v1/adherence?interval=60")
    assert r.status == 400 and (await r.json())["error"].startswith("interval:")
    r = await server.get("/api/v1/adherence?date=today")
    assert r.status == 400 and (await r.json())["error"].startswith("date:")
    server.session.cookie_jar.clear()
    await login(server, "agent01")
    assert (await server.get("/api/v1/adherence")).status == 403


async def test_the_wallboard_shows_adherence_per_team_and_agent(
    browser,  # noqa: F811
    server: TestClient,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    await a_morning(server)
    page = await sign_in(browser, server, "sup")
    await page.goto(str(server.make_url("/wallboard")))
    row = page.locator('#adherence-agents tr[data-agent="agent01"]')
    await expect(row.locator(".adherence")).to_have_text("25 %")
    await expect(row.locator(".conformance")).to_have_text("67 %")
    await expect(row.locator(".now")).to_have_text("on the phones")
    await expect(page.locator('#adherence-teams tr[data-team="team-a"] .adherence')).to_have_text("25 %")
    await expect(page.locator("#adherence-empty")).to_be_hidden()
