"""The search APIs for customers and interactions, on SQLite and PostgreSQL: filters,
paging, role checks and clear errors naming the parameter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from aiohttp.test_utils import TestClient

from cti.server import STORE
from store.models import Customer, Interaction
from tests.web.conftest import started, web_config
from tests.web.web_helpers import login


@pytest.fixture(params=["sqlite", "postgresql"])
async def client(request, tmp_path) -> AsyncIterator[TestClient]:
    url = (
        f"sqlite:///{tmp_path}/search.sqlite3" if request.param == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    c = await started(web_config(url))
    try:
        yield c
    finally:
        await asyncio.wait_for(c.close(), 20)


CUSTOMERS = [
    Customer("k1", "Kay 50% Off", company="Initech", phones=("+14155550199",), email="kay@example.com"),
    Customer("k2", "Lou Ledger", company="ACME_Corp", account_number="AC-77", phones=("+14155550288",)),
    Customer("k3", "Mo Money", company="Acme Widgets", email="mo@acme.test"),
]


async def test_customers_are_found_by_text_or_number_and_paged(client: TestClient) -> None:
    store = client.server.app[STORE]
    await store.put_customers(CUSTOMERS)
    await login(client, "sup")

    async def names(query: str) -> list[str]:
        r = await client.get("/api/v1/customers?" + query)
        assert r.status == 200, await r.text()
        return [c["name"] for c in (await r.json())["customers"]]

    assert await names("q=acme") == ["Lou Ledger", "Mo Money"]  # company, email; any case
    assert await names("q=ac-77") == ["Lou Ledger"]
    assert await names("q=0288") == ["Lou Ledger"]  # digits of a number
    assert await names("q=50%25") == ["Kay 50% Off"]  # % is literal, not a wildcard
    assert await names("q=e_w") == []  # so is _ ("acme widgets" has "e w")
    assert await names("q=ACME_") == ["Lou Ledger"]
    page = await (await client.get("/api/v1/customers?limit=2")).json()
    assert [c["id"] for c in page["customers"]] == ["C0000042", "k1"] and page["next_offset"] == 2
    page = await (await client.get("/api/v1/customers?limit=2&offset=2")).json()
    assert [c["id"] for c in page["customers"]] == ["k2", "k3"] and page["next_offset"] is None
    for query, field in (("limit=0", "limit"), ("limit=x", "limit"), ("offset=-1", "offset"), ("q=" + "x" * 201, "q")):
        r = await client.get("/api/v1/customers?" + query)
        assert r.status == 400 and (await r.json())["error"].startswith(field + ":"), query


async def test_interactions_are_filtered_paged_and_a_supervisor_sees_only_their_agents(client: TestClient) -> None:
    store = client.server.app[STORE]
    today = date(2025, 6, 10)  # (the seeded customer's call is yesterday: out of these ranges)
    noon = time.mktime(today.timetuple()) + 12 * 3600
    rows = [
        Interaction(
            "i1", queue="billing", agent_id="agent01", customer_id="k1", started_at=noon - 86400, outcome="answered"
        ),
        Interaction("i2", queue="billing", agent_id="agent02", customer_id="k1", started_at=noon, outcome="answered"),
        Interaction("i3", queue="sales", customer_id="k2", started_at=noon + 60, outcome="abandoned"),
        Interaction(
            "i4", queue="sales", agent_id="agent01", started_at=noon + 120, outcome="answered", disposition="sale"
        ),
    ]
    for i in rows:
        await store.put_interaction(i)
    await login(client, "admin")

    async def ids(query: str) -> list[str]:
        r = await client.get("/api/v1/interactions?" + query)
        assert r.status == 200, await r.text()
        return [i["id"] for i in (await r.json())["interactions"]]

    days = f"from={(today - timedelta(days=1)).isoformat()}&to={today.isoformat()}"
    assert await ids(days) == ["i4", "i3", "i2", "i1"]
    assert await ids("customer_id=k1") == ["i2", "i1"]
    assert await ids("queue=sales&outcome=answered") == ["i4"]
    assert await ids("disposition=sale") == ["i4"]
    assert await ids(f"from={today.isoformat()}&to={today.isoformat()}") == ["i4", "i3", "i2"]
    assert await ids(f"to={(today - timedelta(days=1)).isoformat()}") == ["i1"]
    page = await (await client.get(f"/api/v1/interactions?{days}&limit=3")).json()
    assert page["next_offset"] == 3 and len(page["interactions"]) == 3
    page = await (await client.get(f"/api/v1/interactions?{days}&limit=3&offset=3")).json()
    assert [i["id"] for i in page["interactions"]] == ["i1"] and page["next_offset"] is None
    for query, field in (("from=yesterday", "from"), ("color=red", "color"), ("limit=500", "limit")):
        r = await client.get("/api/v1/interactions?" + query)
        assert r.status == 400 and (await r.json())["error"].startswith(field + ":"), query
    r = await client.get(f"/api/v1/interactions?from={today.isoformat()}&to={(today - timedelta(days=2)).isoformat()}")
    assert r.status == 400 and (await r.json())["error"].startswith("to:")

    client.session.cookie_jar.clear()
    await login(client, "sup")  # team-a: agent01 and agent03
    assert await ids(f"agent_id=agent01&{days}") == ["i4", "i1"]
    r = await client.get("/api/v1/interactions?agent_id=agent02")
    assert r.status == 403 and (await r.json())["error"].startswith("agent_id:")
    client.session.cookie_jar.clear()
    await login(client, "agent01")
    assert (await client.get("/api/v1/interactions")).status == 403
    found = await client.get("/api/v1/customers?q=acme")  # the desktop's "Find a customer"
    assert found.status == 200 and "customers" in await found.json()
