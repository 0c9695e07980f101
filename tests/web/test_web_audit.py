"""The audit log of admin actions (issue 16, item 7): who changed users, settings,
routing, tokens, customers and do-not-call lists, when and from where; admins read it."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from tests.web.web_helpers import login


def wf(coro, t=10):
    return asyncio.wait_for(coro, t)


async def test_admin_actions_are_audited_and_only_admins_read_them(client: TestClient) -> None:
    csrf = await login(client, "admin")
    h = {"X-CSRF-Token": csrf}
    assert (await wf(client.put("/api/v1/users/agent01", json={"role": "supervisor"}, headers=h))).status == 200
    assert (await wf(client.put("/api/v1/users/agent02", json={"password": "a long new one"}, headers=h))).status == 200
    items = {"billing": {"label": "Billing desk"}}
    r = await wf(client.put("/api/v1/queues", json={"items": items, "base_version": 0, "comment": "rename"}, headers=h))
    assert r.status == 200
    r = await wf(client.post("/api/v1/tokens", json={"name": "bi", "scopes": ["read"]}, headers=h))
    token_id = (await r.json())["id"]
    assert (await wf(client.delete("/api/v1/users/agent03/sessions", headers=h))).status == 200
    assert (await wf(client.post("/api/v1/dnc", json={"number": "4155550100"}, headers=h))).status == 201
    r = await wf(client.patch("/api/v1/customers/C0000042", json={"tier": "gold"}, headers=h))
    assert r.status == 200

    body = await (await wf(client.get("/api/v1/audit"))).json()
    entries = body["entries"]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("customer.updated", "C0000042"),
        ("dnc.added", "(global)"),
        ("user.signed_out_everywhere", "agent03"),
        ("token.created", token_id),
        ("settings.queues", "queues"),
        ("user.saved", "agent02"),
        ("user.saved", "agent01"),
    ]
    assert all(e["actor"] == "admin" and e["address"] == "127.0.0.1" and e["at"] > 0 for e in entries)
    assert entries[-1]["detail"] == {"role": ["agent", "supervisor"]}
    assert entries[-2]["detail"] == {"password": "changed"}  # never the hash
    assert entries[-3]["detail"] == {"version": 1, "comment": "rename"}

    page = await (await wf(client.get("/api/v1/audit?limit=2"))).json()
    assert len(page["entries"]) == 2
    rest = await (await wf(client.get(f"/api/v1/audit?before={page['next_before']}&action=user"))).json()
    assert [e["target"] for e in rest["entries"]] == ["agent03", "agent02", "agent01"]
    assert (await wf(client.get("/api/v1/audit?limit=0"))).status == 400

    client.session.cookie_jar.clear()
    await login(client, "sup")
    assert (await wf(client.get("/api/v1/audit"))).status == 403
