"""`/planning`: the staffing plan from the store's history, for supervisors and admins."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient

from cti.server import STORE
from tests.web.web_helpers import login
from web.planning import BadPlanQuery, parse_plan_query
from wfm.history import CallRecord, call_events

DAY0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday


def three_weeks(seed: int = 2) -> list[CallRecord]:
    """Calls 08:00-18:00 every day but Saturday, about 12 an hour, waits and talks drawn."""
    rng = random.Random(seed)
    calls = []
    for d in range(21):
        if d % 7 == 5:
            continue
        t = DAY0 + d * 86400 + 8 * 3600
        while True:
            t += rng.expovariate(12 / 3600)
            if t >= DAY0 + d * 86400 + 18 * 3600:
                break
            answered = rng.random() < 0.9
            calls.append(CallRecord(f"c{len(calls)}", "sales", t, rng.uniform(0, 60), answered,
                                    rng.expovariate(1 / 240) if answered else 0.0, None,
                                    f"agent0{1 + len(calls) % 3}" if answered else ""))  # fmt: skip
    return calls


async def test_a_supervisor_sees_the_plan_of_the_stored_history(client: TestClient) -> None:
    events = call_events(three_weeks())
    store = client.server.app[STORE]
    for i in range(0, len(events), 2000):
        await store.append_many(events[i : i + 2000])
    await login(client, "sup")
    r = await asyncio.wait_for(client.get("/planning?to=2026-01-26&days=21&holdout=7&target=0.8"), 60)
    assert r.status == 200, await r.text()
    page = await r.text()
    assert "Staffing plan from 2026-01-19 (7 days)" in page
    for text in ("Calls per interval: forecast and actual", "required vs scheduled", "Schedule per agent"):
        assert text in page, text
    assert "<script" not in page
    r = await client.get("/planning?to=2026-01-26&days=5")
    assert r.status == 400 and "days: must be between 7 and 62" in await r.text()
    r = await client.get("/planning?to=2025-01-26")
    assert r.status == 404 and "no call in the store" in await r.text()


async def test_an_agent_may_not_see_the_plan(client: TestClient) -> None:
    await login(client, "agent01")
    r = await client.get("/planning", allow_redirects=False)
    assert r.status == 403


def test_the_query_names_the_bad_field() -> None:
    now = DAY0
    q = parse_plan_query({}, now)
    assert q["to"].isoformat() == "2026-01-05" and q["days"] == 28 and q["holdout"] == 7
    for query, message in (({"to": "5 Jan"}, "to: '5 Jan' is not YYYY-MM-DD"),
                           ({"target": "high"}, "target: 'high' is not a number"),
                           ({"shrinkage": "1.5"}, "shrinkage: must be between 0 and 0.9, got 1.5")):  # fmt: skip
        try:
            parse_plan_query(query, now)
        except BadPlanQuery as exc:
            assert str(exc) == message
        else:
            raise AssertionError(f"{query} accepted")
