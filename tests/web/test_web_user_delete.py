"""Deleting a user (issue 16, user delete): their sessions and API tokens stop working
at once, on another server process too; audited; their history keeps their login;
nobody deletes themselves or the last admin."""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType

from cti.server import STORE
from store.models import Interaction, User
from tests.web.conftest import started, web_config
from tests.web.web_helpers import login, password_hash
from web.app import SOCKET_RECHECK


def wf(coro, t: float = 10):
    return asyncio.wait_for(coro, t)


async def test_a_deleted_user_is_signed_out_everywhere_at_once_and_their_history_stays(fresh_pg_url: str) -> None:
    a = await started(web_config(fresh_pg_url))
    b = await started(web_config(fresh_pg_url))
    a.server.app[SOCKET_RECHECK] = 0.2
    try:
        await a.server.app[STORE].put_interaction(Interaction(id="k1", agent_id="agent01", started_at=1.0))
        await login(a, "agent01")
        desktop = await wf(a.ws_connect("/agent/ws"))
        assert (await wf(desktop.receive_json()))["type"] == "hello"
        admin_csrf = await login(b, "admin")
        r = await wf(
            b.post("/api/v1/tokens", json={"login": "agent01", "scope": "agent"}, headers={"X-CSRF-Token": admin_csrf})
        )
        assert r.status == 201, await r.text()
        bearer = {"Authorization": f"Bearer {(await r.json())['token']}"}
        assert (await wf(a.get("/api/v1/me", headers=bearer))).status == 200

        r = await wf(b.delete("/api/v1/users/agent01", headers={"X-CSRF-Token": admin_csrf}))
        assert (r.status, await r.json()) == (200, {"login": "agent01", "deleted": True})
        assert (await wf(a.get("/api/v1/me"))).status == 401  # the other process, at its next request
        assert (await wf(a.get("/api/v1/me", headers=bearer))).status == 401
        closing = await wf(desktop.receive(), 5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 4401
        users = await (await wf(b.get("/api/v1/users"))).json()
        assert "agent01" not in [u["login"] for u in users["users"]]
        assert (await a.server.app[STORE].get_interaction("k1")).agent_id == "agent01"  # history kept
        audit = await (await wf(b.get("/api/v1/audit?action=user.deleted"))).json()
        [entry] = audit["entries"]
        assert (entry["actor"], entry["target"], entry["detail"]["role"]) == ("admin", "agent01", "agent")
        r = await wf(b.delete("/api/v1/users/agent01", headers={"X-CSRF-Token": admin_csrf}))
        assert r.status == 404 and (await r.json())["error"].startswith("login")
    finally:
        await a.close()
        await b.close()


async def test_nobody_deletes_themselves_and_only_an_admin_deletes(client) -> None:
    store = client.server.app[STORE]
    csrf = await login(client, "admin")
    r = await wf(client.delete("/api/v1/users/admin", headers={"X-CSRF-Token": csrf}))
    assert r.status == 409 and "yourself" in (await r.json())["error"]
    assert (await store.get_user("admin")).role == "admin"
    r = await wf(client.delete("/api/v1/users/nobody", headers={"X-CSRF-Token": csrf}))
    assert r.status == 404
    await store.put_user(User("boss", "Big Boss", "admin", password_hash()))
    r = await wf(client.delete("/api/v1/users/boss", headers={"X-CSRF-Token": csrf}))
    assert r.status == 200  # an admin deletes another admin: one is left (themselves)
    client.session.cookie_jar.clear()
    csrf = await login(client, "sup")
    r = await wf(client.delete("/api/v1/users/agent01", headers={"X-CSRF-Token": csrf}))
    assert r.status == 403
    assert (await store.get_user("agent01")).login == "agent01"
