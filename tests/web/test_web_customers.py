"""Object-level rules on customers (issue 16, item 2): POST never replaces a record;
create with a chosen id and update are admin rights, updates are partial; an agent
adds notes only to the customer of a call they handle now."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient

from agents.desktop import HUB
from cti.server import BUS, STORE
from events import CallEnded, WrapUpEnded
from tests.web.web_helpers import CUSTOMER, BusCallDriver, login, wait_until


def wf(coro, t=10):
    return asyncio.wait_for(coro, t)


def driver(client: TestClient) -> BusCallDriver:
    return BusCallDriver(client.server.app[STORE], client.server.app[BUS])


async def agent_token(client: TestClient, csrf: str) -> dict[str, str]:
    r = await wf(client.post("/api/v1/tokens", json={"name": "t", "scopes": ["agent"]}, headers={"X-CSRF-Token": csrf}))
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def test_post_with_an_existing_id_never_replaces_the_record(client: TestClient) -> None:
    csrf = await login(client, "agent01")
    bearer = await agent_token(client, csrf)
    overwrite = {"id": CUSTOMER.id, "name": "Mallory", "phone": "+19995550000", "call_id": "x"}
    r = await wf(client.post("/api/v1/customers", json=overwrite, headers={"X-CSRF-Token": csrf}))
    assert r.status == 403 and "id" in (await r.json())["error"]
    client.session.cookie_jar.clear()
    assert (await wf(client.post("/api/v1/customers", json=overwrite, headers=bearer))).status == 403
    csrf = await login(client, "admin")
    r = await wf(client.post("/api/v1/customers", json=overwrite, headers={"X-CSRF-Token": csrf}))
    assert r.status == 409 and "PATCH" in (await r.json())["error"]
    assert await client.server.app[STORE].get_customer(CUSTOMER.id) == CUSTOMER
    assert [c.id for c in await client.server.app[STORE].find_customers_by_phone(CUSTOMER.phones[0])] == [CUSTOMER.id]


async def test_an_agent_creates_only_the_record_of_the_caller_they_handle(client: TestClient) -> None:
    csrf = await login(client, "agent01")
    calls = driver(client)
    await calls.offer("c-mine", "+12125550999", "sales", "agent01")
    await calls.offer("c-theirs", "+12125550998", "sales", "agent02")
    new = {"name": "New Person", "phone": "212 555 0999"}
    for call_id in (None, "c-theirs", "c-unknown"):
        body = new if call_id is None else {**new, "call_id": call_id}
        r = await wf(client.post("/api/v1/customers", json=body, headers={"X-CSRF-Token": csrf}))
        assert r.status == 403 and "call_id" in (await r.json())["error"], call_id
    r = await wf(client.post("/api/v1/customers", json={**new, "call_id": "c-mine"}, headers={"X-CSRF-Token": csrf}))
    assert r.status == 201
    card = await r.json()
    assert card["id"].startswith("N") and card["phones"] == ["+12125550999"]
    r = await wf(client.post("/api/v1/customers", json={"call_id": "c-mine"}, headers={"X-CSRF-Token": csrf}))
    assert r.status == 400 and "name: required" in (await r.json())["problems"]


async def test_updates_are_admin_only_and_partial(client: TestClient) -> None:
    csrf = await login(client, "agent01")
    url = f"/api/v1/customers/{CUSTOMER.id}"
    assert (await wf(client.patch(url, json={"tier": "gold"}, headers={"X-CSRF-Token": csrf}))).status == 403
    client.session.cookie_jar.clear()
    csrf = await login(client, "admin")
    h = {"X-CSRF-Token": csrf}
    r = await wf(client.patch(url, json={"email": "grace@navy.example"}, headers=h))
    assert r.status == 200
    card = await r.json()
    assert card["email"] == "grace@navy.example"
    assert (card["tier"], card["notes"], card["account_number"], card["phones"]) == (
        CUSTOMER.tier,
        CUSTOMER.notes,
        CUSTOMER.account_number,
        list(CUSTOMER.phones),
    )
    r = await wf(client.patch(url, json={"phone": "(415) 555-0143"}, headers=h))  # one phone: added, none dropped
    assert (await r.json())["phones"] == [CUSTOMER.phones[0], "+14155550143"]
    r = await wf(client.patch(url, json={"phones": ["+14155550143"]}, headers=h))  # the list: replaced, explicitly
    assert (await r.json())["phones"] == ["+14155550143"]
    r = await wf(client.patch(url, json={"tier": 5, "colour": "red", "phones": "x"}, headers=h))
    problems = (await r.json())["problems"]
    assert r.status == 400 and {p.split(":")[0] for p in problems} == {"tier", "colour", "phones"}
    assert (await wf(client.patch("/api/v1/customers/nobody", json={"tier": "x"}, headers=h))).status == 404
    r = await wf(client.post("/api/v1/customers", json={"id": "API-1", "name": "Integrated"}, headers=h))
    assert r.status == 201 and (await r.json())["id"] == "API-1"


async def test_an_agent_adds_notes_only_to_the_customer_of_a_call_they_handle(client: TestClient) -> None:
    await client.server.app[STORE].put_customer(CUSTOMER.__class__(id="OTHER", name="Someone Else"))
    calls = driver(client)
    await calls.offer("c-1", CUSTOMER.phones[0], "billing", "agent01")
    csrf = await login(client, "agent01")
    h = {"X-CSRF-Token": csrf}
    note = {"text": "asked for a paper invoice", "call_id": "c-1"}
    r = await wf(client.post(f"/api/v1/customers/{CUSTOMER.id}/notes", json=note, headers=h))
    assert r.status == 201
    notes = (await r.json())["notes"]
    assert notes.startswith(CUSTOMER.notes + "\n[") and notes.endswith("agent01 (c-1)] asked for a paper invoice")
    r = await wf(client.post("/api/v1/customers/OTHER/notes", json=note, headers=h))
    assert r.status == 403  # not that call's customer
    r = await wf(client.post(f"/api/v1/customers/{CUSTOMER.id}/notes", json={"text": "x"}, headers=h))
    assert r.status == 403  # no call named
    await calls.emit(CallEnded(time.time(), "c-1"))
    r = await wf(client.post(f"/api/v1/customers/{CUSTOMER.id}/notes", json=note, headers=h))
    assert r.status == 201  # wrap-up: still theirs
    await calls.emit(WrapUpEnded(time.time(), "c-1", "agent01", "resolved"))
    r = await wf(client.post(f"/api/v1/customers/{CUSTOMER.id}/notes", json=note, headers=h))
    assert r.status == 403  # wrapped up: not theirs any more
    client.session.cookie_jar.clear()
    await login(client, "agent02")
    csrf2 = (await (await wf(client.get("/api/v1/me"))).json())["csrf"]
    r = await wf(client.post(f"/api/v1/customers/{CUSTOMER.id}/notes", json=note, headers={"X-CSRF-Token": csrf2}))
    assert r.status == 403


async def test_a_wrap_up_links_the_call_to_its_own_customer_only(client: TestClient) -> None:
    await client.server.app[STORE].put_customer(CUSTOMER.__class__(id="OTHER", name="Someone Else"))
    calls = driver(client)
    await wf(client.server.app[HUB].ready.wait())
    await calls.offer("c-9", CUSTOMER.phones[0], "billing", "agent01")
    await wait_until(lambda: client.server.app[HUB].call_info("c-9") is not None)
    csrf = await login(client, "agent01")
    url = "/api/v1/interactions/c-9/wrap-up"
    body = {"disposition": "resolved", "notes": "planted in another history", "customer_id": "OTHER"}
    r = await wf(client.post(url, json=body, headers={"X-CSRF-Token": csrf}))
    assert r.status == 403 and "customer_id" in (await r.json())["error"]
    r = await wf(client.post(url, json={**body, "customer_id": CUSTOMER.id}, headers={"X-CSRF-Token": csrf}))
    assert r.status != 403  # the caller's own record (here 409: no live loop says they are in wrap-up)
    assert await client.server.app[STORE].interactions_for_customer("OTHER") == []
