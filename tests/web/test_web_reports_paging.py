"""The /reports page of a center with more agents than a page shows: the agents' table
and charts a page at a time (every agent on exactly one page, as in agents.csv and the
API), and under each pause reason the agents with the most time, the rest in pauses.csv."""

from __future__ import annotations

import re
from datetime import date

from aiohttp.test_utils import TestClient

from cti.server import STORE
from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged, CallConnected, CallEnded, CallQueued, Event
from reports.report_days import day_start
from reports.report_page import AGENTS_PER_PAGE, TOP_AGENTS
from tests.web.web_helpers import login

DAY = date(2026, 3, 18)
AGENTS = [f"a{n:03d}" for n in range(250)]
PAUSED = AGENTS[:15]  # each paused 60 s more than the one before


def a_day_of_agents() -> list[Event]:
    base = day_start(DAY)
    out: list[Event] = []
    for n, agent in enumerate(AGENTS):
        out += [AgentLoggedIn(base + 8 * 3600, agent), AgentLoggedOut(base + 16 * 3600, agent)]
        t = base + 9 * 3600 + n * 60
        out += [CallQueued(t, f"c{n}", queue="billing"), CallConnected(t + 5, f"c{n}", agent, "billing")]
        out += [CallEnded(t + 40, f"c{n}")]
    for n, agent in enumerate(PAUSED):
        out += [AgentStateChanged(base + 13 * 3600, agent, "paused", "lunch")]
        out += [AgentStateChanged(base + 13 * 3600 + 60 * (n + 1), agent, "available")]
    return sorted(out, key=lambda e: e.at)  # type: ignore[attr-defined]


def agents_shown(page: str) -> list[str]:
    table = page.split('id="agents-table"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-agent="([^"]+)"', table)


async def test_the_agents_show_a_page_at_a_time_and_all_of_them_in_the_export(client: TestClient) -> None:
    await client.server.app[STORE].append_many(a_day_of_agents())
    await login(client, "admin")
    query = f"from={DAY}&to={DAY}&interval=86400"
    html_query = query.replace("&", "&amp;")
    pages = []
    for number in (1, 2, 3):
        r = await client.get(f"/reports?{query}&agents_page={number}")
        assert r.status == 200
        pages.append(await r.text())
    shown = [agents_shown(p) for p in pages]
    assert [len(s) for s in shown] == [AGENTS_PER_PAGE, AGENTS_PER_PAGE, 50]
    assert [a for s in shown for a in s] == AGENTS  # each agent once, in order
    assert "Agents 1-100 of 250" in pages[0] and f'href="?{html_query}&amp;agents_page=2#agents"' in pages[0]
    assert "Agents 201-250 of 250" in pages[2] and "agents_page=3#agents" not in pages[2].split("Agents 201", 1)[1]
    chart = pages[1].split('aria-label="Agent occupancy (agents 101-200 of 250)"', 1)[1].split("</svg>", 1)[0]
    assert re.findall(r"<title>(a\d+) occupancy", chart) == AGENTS[100:200]  # the page's agents' bars
    assert agents_shown(await (await client.get(f"/reports?{query}&agents_page=9")).text()) == AGENTS[200:]
    for bad in ("0", "two"):
        r = await client.get(f"/reports?{query}&agents_page={bad}")
        assert r.status == 400 and "agents_page:" in await r.text()
    csv = (await (await client.get(f"/reports/export.csv?section=agents&{query}")).text()).splitlines()
    api = await (await client.get(f"/api/v1/reports?{query}")).json()
    assert [line.split(",", 1)[0] for line in csv[1:]] == list(api["agents"]) == AGENTS

    lunch = pages[0].split('<tr data-reason="lunch">', 1)[1].split("</tr>", 1)[0]
    most = list(reversed(PAUSED))[:TOP_AGENTS]  # the longest pauses first
    assert re.findall(r"(a\d+) \d:\d\d:\d\d", lunch) == most
    assert re.search(r'href="/reports/export.csv\?section=pauses&[^"]*">and 5 more</a>', lunch)
    pauses = (await (await client.get(f"/reports/export.csv?section=pauses&{query}")).text()).splitlines()
    assert sorted(line.split(",")[1] for line in pauses[1:]) == PAUSED
