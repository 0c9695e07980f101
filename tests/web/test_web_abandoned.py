"""Abandoned calls to call back: listed with where each stands, and a call-back asked
for one (a promise the live loop's scheduler dials), from the API and the report page."""

from __future__ import annotations

import re
import time
from datetime import date

from aiohttp.test_utils import TestClient

from cti.server import STORE
from store.models import Interaction
from tests.web.web_helpers import login


async def calls(client: TestClient) -> float:
    store = client.server.app[STORE]
    now = time.time()
    t = time.mktime(date.fromtimestamp(now).timetuple()) + 60  # today, a minute past midnight
    for i in (
        Interaction("a1", queue="billing", caller="+14155550111", started_at=t, ended_at=t + 40, outcome="abandoned"),
        Interaction(
            "a2", queue="sales", caller="+14155550122", started_at=t + 10, ended_at=t + 15, outcome="abandoned"
        ),
        Interaction(
            "b2", queue="sales", caller="+14155550122", started_at=t + 300, agent_id="agent02", outcome="answered"
        ),
        Interaction("a3", queue="sales", started_at=t + 20, ended_at=t + 25, outcome="abandoned"),
    ):
        await store.put_interaction(i)
    return now


async def test_abandoned_calls_are_listed_and_one_is_called_back(client: TestClient) -> None:
    await calls(client)
    store = client.server.app[STORE]
    h = {"X-CSRF-Token": await login(client, "sup")}
    today = date.today().isoformat()

    async def statuses(query: str = "") -> dict[str, str]:
        r = await client.get(f"/api/v1/reports/abandoned?from={today}&to={today}{query}")
        assert r.status == 200, await r.text()
        return {c["call_id"]: c["status"] for c in (await r.json())["calls"]}

    assert await statuses() == {"a1": "to_call_back", "a2": "answered_later", "a3": "to_call_back"}
    assert await statuses("&queue=billing") == {"a1": "to_call_back"}
    r = await client.post("/api/v1/reports/abandoned/a1/callback", headers=h)
    assert r.status == 201, await r.text()
    promise = await store.get_callback("abandoned-a1")
    assert (promise.state, promise.number, promise.queue, promise.kind) == (
        "pending",
        "+14155550111",
        "billing",
        "abandoned",
    )
    assert promise.due_at <= time.time() and promise.call_id == "a1"
    assert (await statuses())["a1"] == "callback_pending"
    for call_id, status, start in (
        ("a1", 409, "call_id:"),
        ("b2", 400, "call_id:"),
        ("a3", 400, "call_id:"),
        ("zz", 404, "call_id:"),
    ):
        r = await client.post(f"/api/v1/reports/abandoned/{call_id}/callback", headers=h)
        assert r.status == status and (await r.json())["error"].startswith(start), call_id
    r = await client.get(f"/api/v1/reports/abandoned?from={today}&limit=0")
    assert r.status == 400 and (await r.json())["error"].startswith("limit:")
    client.session.cookie_jar.clear()
    await login(client, "admin")
    audit = await (await client.get("/api/v1/audit")).json()
    assert [(e["action"], e["target"]) for e in audit["entries"] if e["action"] == "callback.abandoned"] == [
        ("callback.abandoned", "a1")
    ]
    client.session.cookie_jar.clear()
    agent = await login(client, "agent01")
    assert (await client.post("/api/v1/reports/abandoned/a3/callback", headers={"X-CSRF-Token": agent})).status == 403
    assert (await client.get("/api/v1/reports/abandoned")).status == 403


async def test_the_report_page_lists_them_with_a_call_back_button(client: TestClient) -> None:
    await calls(client)
    await login(client, "sup")
    page = await (await client.get("/reports")).text()
    table = page.split('id="abandoned-table"')[1].split("</table>")[0]
    assert table.count("<tr data-call=") == 3 and table.count('class="callback"') == 3
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', table).group(1)
    r = await client.post(
        "/reports/abandoned/a2/callback",
        data={"csrf_token": csrf, "back": "/reports?queue=sales"},
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"] == "/reports?queue=sales#abandoned"
    page = await (await client.get("/reports")).text()
    row = page.split('data-call="a2"')[1].split("</tr>")[0]
    assert "callback pending" in row and 'class="callback"' not in row
    r = await client.post("/reports/abandoned/a2/callback", data={"csrf_token": csrf}, headers={"Accept": "text/html"})
    assert r.status == 409 and "asked for already" in await r.text()
