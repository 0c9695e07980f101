"""API tokens with an expiry and scopes (issue 16, item 7): read-only, agent commands,
admin; the user's role still bounds what a token does; revocable."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient

from tests.web.web_helpers import login
from web.app import CLOCK


def wf(coro, t=10):
    return asyncio.wait_for(coro, t)


async def token(client: TestClient, csrf: str, **body: object) -> tuple[dict[str, str], dict]:
    r = await wf(client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf}))
    assert r.status == 201, await r.text()
    made = await r.json()
    return {"Authorization": f"Bearer {made['token']}"}, made


async def test_scopes_narrow_what_a_token_may_do(client: TestClient) -> None:
    csrf = await login(client, "admin")
    read, made = await token(client, csrf, name="reports")  # the default: read only
    assert made["scopes"] == ["read"] and made["expires_at"] > time.time() + 89 * 86400
    admin, _ = await token(client, csrf, name="ops", scopes=["admin"])
    queues = {"items": {"billing": {"label": "Billing"}}, "base_version": 0}
    client.session.cookie_jar.clear()
    assert (await wf(client.get("/api/v1/reports", headers=read))).status == 200
    assert (await wf(client.get("/api/v1/users", headers=read))).status == 200
    r = await wf(client.put("/api/v1/queues", json=queues, headers=read))
    assert r.status == 403 and "scopes" in (await r.json())["error"]
    r = await wf(client.post("/api/v1/agents/agent01/commands", json={"action": "ready"}, headers=read))
    assert r.status == 403
    assert (await wf(client.put("/api/v1/queues", json=queues, headers=admin))).status == 200


async def test_an_agent_token_makes_the_desktops_calls_only_and_within_the_role(client: TestClient) -> None:
    csrf = await login(client, "agent01")
    agent, made = await token(client, csrf, scopes=["agent"], expires_in_days=7)
    wide, _ = await token(client, csrf, scopes=["admin"])
    client.session.cookie_jar.clear()
    assert made["expires_at"] < time.time() + 8 * 86400
    r = await wf(client.post("/api/v1/customers/C0000042/notes", json={"text": "x"}, headers=agent))
    assert r.status == 403 and "call_id" in (await r.json())["error"]  # the scope lets it by; the call rule not
    r = await wf(client.post("/api/v1/dnc", json={"number": "4155550100"}, headers=agent))
    assert r.status == 403 and "scopes" in (await r.json())["error"]
    r = await wf(client.get("/api/v1/routing", headers=wide))
    assert r.status == 403  # an admin-scoped token of an agent is still an agent


async def test_tokens_expire_and_are_revocable(client: TestClient) -> None:
    csrf = await login(client, "admin")
    day, made = await token(client, csrf, expires_in_days=1)
    for bad in ({"scopes": ["root"]}, {"scopes": []}, {"expires_in_days": 0}, {"expires_in_days": 366}):
        r = await wf(client.post("/api/v1/tokens", json=bad, headers={"X-CSRF-Token": csrf}))
        assert r.status == 400, bad
    listed = (await (await wf(client.get("/api/v1/tokens"))).json())["tokens"]
    assert [(t["id"], t["scopes"]) for t in listed] == [(made["id"], ["read"])]
    assert (await wf(client.get("/api/v1/me", headers=day))).status == 200
    now = time.time()
    client.server.app[CLOCK] = lambda: now + 86400 + 1
    r = await wf(client.get("/api/v1/me", headers=day))
    assert r.status == 401 and "expired" in (await r.json())["error"]
    client.server.app[CLOCK] = time.time
    other, made = await token(client, csrf)
    r = await wf(client.delete(f"/api/v1/tokens/{made['id']}", headers={"X-CSRF-Token": csrf}))
    assert r.status == 200
    assert (await wf(client.get("/api/v1/me", headers=other))).status == 401
