"""Agent desktop: screen-pop over the websocket (right agent only), CRM lookup with
fallback, call commands answered by the real live loop on the PBX emulator, wrap-up
saved on the interaction."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSServerHandshakeError, web
from aiohttp.test_utils import TestClient, TestServer

from agents.crm import CrmConfig, map_answer, parse_crm_config
from agents.desktop import HUB
from cti.server import BUS, STORE
from events import CallEnded
from store.port import NotFound
from tests.live.test_live_commands import Center
from tests.web.conftest import started, web_config
from tests.web.web_helpers import CUSTOMER, BusCallDriver, login, wait_until
from web.app import COMMAND_TIMEOUT


def wf(coro, t=10):
    return asyncio.wait_for(coro, t)


async def desktop_socket(client: TestClient, agent: str | None = None):
    ws = await wf(client.ws_connect("/agent/ws" + (f"?agent={agent}" if agent else "")))
    hello = json.loads((await wf(ws.receive())).data)
    assert hello["type"] == "hello"
    return ws


async def next_of(ws, type_: str, t: float = 5.0) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            msg = json.loads((await ws.receive()).data)
            if msg["type"] == type_:
                return msg

    return await asyncio.wait_for(loop(), t)


async def pop_ready(client: TestClient) -> BusCallDriver:
    app = client.server.app
    await wf(app[HUB].ready.wait())
    return BusCallDriver(app[STORE], app[BUS])


async def test_offer_pops_the_known_customer_on_that_agents_socket_only(
    client: TestClient, aiohttp_client=None
) -> None:
    await login(client, "agent01")
    ws = await desktop_socket(client)
    driver = await pop_ready(client)
    await driver.offer("call-1", "(415) 555-0142", "billing", "agent01", ivr_path=["1", "billing", "2"], tier="vip")
    pop = await next_of(ws, "screen_pop")
    assert pop["call_id"] == "call-1" and pop["agent_id"] == "agent01"
    assert pop["customer"]["id"] == CUSTOMER.id and pop["customer"]["name"] == "Grace Hopper"
    assert pop["customer"]["company"] == "Navy Computing" and pop["customer"]["tier"] == "vip"
    assert pop["customer"]["account_number"] == "10000042" and pop["customer_source"] == "store"
    assert [h["disposition"] for h in pop["history"]] == ["resolved"]
    assert pop["history"][0]["notes"] == "refunded the late fee"
    assert pop["queue"] == "billing" and pop["ivr_path"] == ["1", "billing", "2"]
    assert pop["reason"].startswith("longest idle") and 9 <= pop["wait_s"] <= 11
    assert pop["new_customer"] is False
    # the call's own events follow on the same socket
    await driver.connect("call-1", "agent01", "billing")
    event = await next_of(ws, "event")
    assert event["event"]["kind"] == "CallConnected"
    # an offer to another agent never reaches agent01's socket
    await driver.offer("call-2", "+14155550142", "billing", "agent02")
    await wait_until(lambda: client.server.app[HUB].last_pop("agent02") is not None)
    await driver.end("call-1")
    await driver.offer("call-3", "+14155550142", "billing", "agent01")
    seen = [json.loads((await wf(ws.receive())).data) for _ in range(2)]
    assert [(m["type"], m.get("call_id") or m["event"]["call_id"]) for m in seen] == [
        ("event", "call-1"),
        ("screen_pop", "call-3"),
    ]
    assert seen[0]["event"]["kind"] == "CallEnded"
    await ws.close()


async def test_screen_pop_read_access(client: TestClient) -> None:
    driver = await pop_ready(client)
    await driver.offer("call-9", "+14155550142", "billing", "agent01")
    hub = client.server.app[HUB]
    await wait_until(lambda: hub.last_pop("agent01") is not None)
    await login(client, "agent02")
    assert (await wf(client.get("/api/v1/agents/agent01/screen-pop"))).status == 403
    assert (await wf(client.get("/agent?agent=agent01"))).status == 403
    with pytest.raises(WSServerHandshakeError) as refused:
        await wf(client.ws_connect("/agent/ws?agent=agent01"))
    assert refused.value.status == 403
    client.session.cookie_jar.clear()
    await login(client, "agent01")
    r = await wf(client.get("/api/v1/agents/agent01/screen-pop"))
    assert r.status == 200 and (await r.json())["call_id"] == "call-9"
    client.session.cookie_jar.clear()
    await login(client, "sup")  # team-a: agent01 yes, agent02 no
    assert (await wf(client.get("/api/v1/agents/agent01/screen-pop"))).status == 200
    assert (await wf(client.get("/api/v1/agents/agent02/screen-pop"))).status == 403
    client.session.cookie_jar.clear()
    await login(client, "admin")
    assert (await wf(client.get("/api/v1/agents/agent01/screen-pop"))).status == 200
    assert (await wf(client.get("/api/v1/agents/agent02/screen-pop"))).status == 404


async def test_unknown_caller_gets_the_new_customer_form_and_account_numbers_resolve(client: TestClient) -> None:
    csrf = await login(client, "agent01")
    ws = await desktop_socket(client)
    driver = await pop_ready(client)
    await driver.offer("call-3", "+12125550999", "sales", "agent01")
    pop = await next_of(ws, "screen_pop")
    assert pop["customer"] is None and pop["new_customer"] is True and pop["history"] == []
    r = await wf(
        client.post(
            "/api/v1/customers",
            json={"name": "New Person", "phone": "212 555 0999", "call_id": "call-3"},
            headers={"X-CSRF-Token": csrf},
        )
    )
    assert r.status == 201
    card = await r.json()
    assert card["phones"] == ["+12125550999"]
    r = await wf(
        client.post(
            "/api/v1/customers",
            json={"name": "x", "phone": "not a phone", "call_id": "call-3"},
            headers={"X-CSRF-Token": csrf},
        )
    )
    assert r.status == 400 and "phone" in (await r.json())["error"]
    # caller now known; and an account number from the IVR wins over an unknown number
    await driver.offer("call-4", "+12125550999", "sales", "agent01")
    assert (await next_of(ws, "screen_pop"))["customer"]["name"] == "New Person"
    await driver.offer("call-5", "+19999999999", "sales", "agent01", account_number="10000042")
    assert (await next_of(ws, "screen_pop"))["customer"]["id"] == CUSTOMER.id
    await ws.close()


async def test_without_a_live_loop_a_command_is_kept_and_another_agents_is_forbidden(client: TestClient) -> None:
    """Web-side answers that never reach a live loop (400s naming the field:
    test_web_commands.test_bad_bodies_are_refused_naming_the_field): no reply in time
    is a 202 saying the command is kept, and its status can be read (by those who may
    send the agent's commands). What the live loop does with it when it is back:
    tests/live/test_live_kept_commands.py."""
    client.server.app[COMMAND_TIMEOUT] = 0.3
    h = {"X-CSRF-Token": await login(client, "agent01")}
    r = await wf(client.post("/api/v1/agents/agent01/commands", json={"action": "available"}, headers=h))
    kept = await r.json()
    assert r.status == 202 and kept["state"] == "pending", kept
    assert "kept" in kept["message"] and "60 s" in kept["message"], kept
    status = await wf(client.get(kept["status"]))
    assert status.status == 200
    assert {k: (await status.json())[k] for k in ("request_id", "agent_id", "action", "state", "ok")} == {
        "request_id": kept["request_id"],
        "agent_id": "agent01",
        "action": "available",
        "state": "pending",
        "ok": None,
    }
    assert (await wf(client.get("/api/v1/commands/nope"))).status == 404
    r = await wf(client.post("/api/v1/agents/agent02/commands", json={"action": "available"}, headers=h))
    assert r.status == 403
    await login(client, "agent02")
    assert (await wf(client.get(kept["status"]))).status == 403  # another agent's command
    await login(client, "sup")  # supervisor of agent01's team
    assert (await wf(client.get(kept["status"]))).status == 200


async def test_commands_go_to_the_live_loop_and_return_its_reply(center: Center) -> None:
    """The real live loop on the PBX emulator: what it did is the API's 200, what it
    refused is a 409 with its reason (the text the desktop shows the agent)."""
    ada = await center.desk("agent01")
    await ada.ok("pause", reason="lunch")
    assert center.state("agent01") == "paused"
    assert "no call 'c1'" in await ada.refused("hangup", call_id="c1")
    await ada.ok("available")
    await center.caller()
    call_id = await center.connected("agent01")
    assert "unknown queue 'zz'" in await ada.refused(
        "blind_transfer", call_id=call_id, target_kind="queue", target="zz"
    )
    assert center.talking_to(call_id)  # a refused command did nothing to the call
    await ada.ok("hangup", call_id=call_id)
    await center.logged(call_id, CallEnded)
    await center.until(lambda: center.state("agent01") == "wrap_up")
    assert "no call" in await ada.refused("hold", call_id=call_id)  # ended: nothing to hold


async def test_wrap_up_for_a_call_the_agent_is_not_wrapping_up_is_refused_and_writes_nothing(
    client: TestClient,
) -> None:
    """Only offered (no live loop has the agent in wrap-up): bad input is 400 naming the
    field, a well-formed wrap-up is 409 saying why, and nothing is written. Saving a
    wrap-up for real, against the live loop: tests/live/test_live_wrapup.py."""
    app = client.server.app
    csrf = await login(client, "agent01")
    h = {"X-CSRF-Token": csrf}
    driver = await pop_ready(client)
    await driver.offer("call-7", "+14155550142", "billing", "agent01", customer_id=CUSTOMER.id)
    await wait_until(lambda: app[HUB].last_pop("agent01") is not None)
    r = await wf(client.post("/api/v1/interactions/call-7/wrap-up", json={"disposition": "teleport"}, headers=h))
    assert r.status == 400 and "disposition" in (await r.json())["error"]
    due = time.time() + 3600
    body = {"disposition": "callback", "notes": "call back tomorrow", "callback_at": due}
    r = await wf(client.post("/api/v1/interactions/call-7/wrap-up", json=body, headers=h))
    assert r.status == 409, await r.text()
    assert "not in wrap-up" in (await r.json())["error"]
    with pytest.raises(NotFound):
        await app[STORE].get_interaction("call-7")
    assert await app[STORE].callbacks_between(0, due + 1) == []
    assert [type(s.event).__name__ for s in await app[STORE].events_for_call("call-7")].count("WrapUpEnded") == 0
    client.session.cookie_jar.clear()
    csrf2 = await login(client, "agent02")
    r = await wf(
        client.post(
            "/api/v1/interactions/call-7/wrap-up", json={"disposition": "resolved"}, headers={"X-CSRF-Token": csrf2}
        )
    )
    assert r.status == 403


# ---------------------------------------------------------------- external CRM


@pytest.fixture
async def crm_server() -> AsyncIterator[tuple[TestServer, dict[str, Any]]]:
    """A real HTTP server standing in for the customer's CRM."""
    control: dict[str, Any] = {"hang": asyncio.Event(), "hits": []}

    async def contacts(request: web.Request) -> web.Response:
        control["hits"].append(request.query.get("phone"))
        if request.query.get("phone") == "+15125550000":
            await control["hang"].wait()  # never answers in time
        if request.query.get("phone") != "+14155550142":
            return web.json_response([], status=200)
        return web.json_response(
            [
                {
                    "contact": {
                        "id": "crm-77",
                        "full_name": "Grace B. Hopper",
                        "org": {"name": "US Navy"},
                        "segment": "gold",
                        "acct": "A-1",
                    }
                }
            ]
        )

    app = web.Application()
    app.router.add_get("/contacts", contacts)
    server = TestServer(app)
    await wf(server.start_server())
    try:
        yield server, control
    finally:
        control["hang"].set()
        await wf(server.close())


def test_crm_config_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match=r"crm\.url_template: must contain \{phone\}"):
        parse_crm_config({"url_template": "https://crm/x"})
    with pytest.raises(ValueError, match=r"crm\.fields: unknown card field"):
        parse_crm_config({"url_template": "https://crm/x?p={phone}", "fields": {"shoe_size": "a"}})
    with pytest.raises(ValueError, match=r"crm\.timeout: unknown key"):
        parse_crm_config({"timeout": 3})
    assert map_answer({"a": {"b": "Ann"}}, {"name": "a.b", "tier": "a.c"}) == {"name": "Ann"}
    assert map_answer([], CrmConfig().fields) is None


async def test_crm_lookup_maps_fields_and_falls_back_on_timeout(tmp_path: Path, crm_server) -> None:
    server, control = crm_server
    crm = {
        "url_template": str(server.make_url("/contacts")) + "?phone={phone}",
        "timeout_s": 0.3,
        "fields": {
            "id": "contact.id",
            "name": "contact.full_name",
            "company": "contact.org.name",
            "tier": "contact.segment",
            "account_number": "contact.acct",
        },
    }
    c = await started(web_config(f"sqlite:///{tmp_path}/crm.sqlite3", crm=crm))
    try:
        await login(c, "agent01")
        ws = await desktop_socket(c)
        driver = await pop_ready(c)
        await driver.offer("k1", "+14155550142", "billing", "agent01")
        pop = await next_of(ws, "screen_pop")
        assert pop["customer_source"] == "crm"
        assert {k: pop["customer"][k] for k in ("id", "name", "company", "tier", "account_number")} == {
            "id": "crm-77",
            "name": "Grace B. Hopper",
            "company": "US Navy",
            "tier": "gold",
            "account_number": "A-1",
        }
        # the CRM does not know this number: the built-in record is used
        await c.server.app[STORE].put_customer(CUSTOMER.__class__(id="L1", name="Local Only", phones=("+12065550100",)))
        await driver.offer("k2", "+12065550100", "billing", "agent01")
        pop = await next_of(ws, "screen_pop")
        assert (pop["customer_source"], pop["customer"]["name"]) == ("store", "Local Only")
        # the CRM hangs: after the timeout, the built-in record (none here: new customer)
        started_at = time.monotonic()
        await driver.offer("k3", "+15125550000", "billing", "agent01")
        pop = await next_of(ws, "screen_pop")
        assert pop["new_customer"] is True and time.monotonic() - started_at < 3
        assert control["hits"] == ["+14155550142", "+12065550100", "+15125550000"]
        await ws.close()
    finally:
        await wf(c.close(), 20)
