"""Server-side sessions (issue 16, item 1): a saved cookie is worth nothing after a
logout, a role or password change, a disable or "sign out everywhere", on every server
process sharing the store; idle and absolute timeouts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from config.schema import ServerConfig
from cti.server import STORE
from store.models import User
from tests.web.conftest import started, web_config
from tests.web.web_helpers import PASSWORD, login, password_hash
from web.app import CLOCK, SESSION_COOKIE, SOCKET_RECHECK


def wf(coro, t: float = 10):
    return asyncio.wait_for(coro, t)


def cookie(client: TestClient) -> str:
    return next(c.value for c in client.session.cookie_jar if c.key == SESSION_COOKIE)


def replay(client: TestClient, value: str) -> None:
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: value})


async def me_status(client: TestClient) -> int:
    return (await wf(client.get("/api/v1/me"))).status


async def test_a_saved_cookie_after_logout_gets_401(client: TestClient) -> None:
    csrf = await login(client, "admin")
    saved = cookie(client)
    r = await wf(client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False))
    assert r.status == 302
    replay(client, saved)
    assert await me_status(client) == 401
    assert (await wf(client.get("/api/v1/users"))).status == 401


async def test_a_demoted_admin_loses_admin_at_once_and_cannot_promote_itself_back(client: TestClient) -> None:
    await client.server.app[STORE].put_user(User("boss", "Big Boss", "admin", password_hash()))
    other = TestClient(client.server)
    await other.start_server()
    try:
        admin_csrf = await login(client, "admin")
        saved = cookie(client)
        boss_csrf = await login(other, "boss")
        r = await wf(other.put("/api/v1/users/admin", json={"role": "agent"}, headers={"X-CSRF-Token": boss_csrf}))
        assert r.status == 200 and (await r.json())["role"] == "agent"
        replay(client, saved)
        assert await me_status(client) == 401
        r = await wf(client.put("/api/v1/users/admin", json={"role": "admin"}, headers={"X-CSRF-Token": admin_csrf}))
        assert r.status in (401, 403)
        assert (await client.server.app[STORE].get_user("admin")).role == "agent"
        # logged in again, the demoted user is an agent, read from the store at each request
        csrf = await login(client, "admin")
        assert (await (await wf(client.get("/api/v1/me"))).json())["role"] == "agent"
        r = await wf(client.put("/api/v1/users/admin", json={"role": "admin"}, headers={"X-CSRF-Token": csrf}))
        assert r.status == 403
    finally:
        await other.session.close()


async def test_sign_out_everywhere_and_disable_hold_on_every_process(fresh_pg_url: str) -> None:
    a = await started(web_config(fresh_pg_url))
    b = await started(web_config(fresh_pg_url))
    try:
        await login(a, "agent01")
        saved = cookie(a)
        admin_csrf = await login(b, "admin")
        r = await wf(b.delete("/api/v1/users/agent01/sessions", headers={"X-CSRF-Token": admin_csrf}))
        assert r.status == 200 and (await r.json())["revoked"] == 1
        assert await me_status(a) == 401  # the other process, at once
        replay(a, saved)
        assert await me_status(a) == 401

        await login(a, "agent01")
        r = await wf(b.post("/api/v1/tokens", json={"login": "agent01"}, headers={"X-CSRF-Token": admin_csrf}))
        token = (await r.json())["token"]
        r = await wf(b.put("/api/v1/users/agent01", json={"disabled": True}, headers={"X-CSRF-Token": admin_csrf}))
        assert r.status == 200 and (await r.json())["disabled"] is True
        assert await me_status(a) == 401
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await wf(a.get("/api/v1/me", headers=bearer))).status == 401
        a.session.cookie_jar.clear()
        page = await (await wf(a.get("/login"))).text()
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        r = await wf(
            a.post("/login", data={"login": "agent01", "password": PASSWORD, "csrf_token": csrf}, allow_redirects=False)
        )
        assert r.status == 401  # the same answer as a wrong password
    finally:
        await a.close()
        await b.close()


async def test_idle_and_absolute_timeouts(tmp_path: Path) -> None:
    config = web_config(f"sqlite:///{tmp_path}/web.sqlite3")
    config = config.model_copy(
        update={"server": ServerConfig(session_secret="test-secret", session_idle_s=600, session_max_s=1800)}
    )
    c = await started(config)
    now = [time.time()]
    c.server.app[CLOCK] = lambda: now[0]
    try:
        await login(c, "agent01")
        now[0] += 599
        assert await me_status(c) == 200
        now[0] += 599  # active: the idle clock restarted at the last request
        assert await me_status(c) == 200
        now[0] += 601
        assert await me_status(c) == 401  # idle too long

        await login(c, "agent01")
        for _ in range(3):
            now[0] += 590
            assert await me_status(c) == 200
        now[0] += 590  # 2360 s after the login: past the absolute limit though active
        assert await me_status(c) == 401
    finally:
        await c.close()


async def test_a_password_change_ends_the_other_sessions(client: TestClient) -> None:
    other = TestClient(client.server)
    await other.start_server()
    try:
        await login(other, "agent01")
        csrf = await login(client, "agent01")
        body = {"current": "wrong password", "new": "a new long password"}
        r = await wf(client.post("/api/v1/me/password", json=body, headers={"X-CSRF-Token": csrf}))
        assert r.status == 403
        body["current"] = PASSWORD
        r = await wf(client.post("/api/v1/me/password", json=body, headers={"X-CSRF-Token": csrf}))
        assert r.status == 200 and (await r.json())["other_sessions_revoked"] == 1
        assert await me_status(client) == 200
        assert await me_status(other) == 401
        other.session.cookie_jar.clear()
        await login(other, "agent01", "a new long password")
    finally:
        await other.session.close()


async def test_open_websockets_close_once_signed_out(client: TestClient) -> None:
    client.server.app[SOCKET_RECHECK] = 0.2
    sup = TestClient(client.server)
    admin = TestClient(client.server)
    await sup.start_server()
    await admin.start_server()
    try:
        await login(client, "agent01")
        await login(sup, "sup")
        csrf = await login(admin, "admin")
        desktop = await wf(client.ws_connect("/agent/ws"))
        assert (await wf(desktop.receive_json()))["type"] == "hello"
        board = await wf(sup.ws_connect("/wallboard/ws"))
        await wf(board.receive())
        await asyncio.sleep(0.5)
        assert not desktop.closed and not board.closed  # signed in: they stay open
        r = await wf(admin.delete("/api/v1/users/agent01/sessions", headers={"X-CSRF-Token": csrf}))
        assert r.status == 200
        closing = await wf(desktop.receive(), 5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 4401
        r = await wf(admin.put("/api/v1/users/sup", json={"role": "agent"}, headers={"X-CSRF-Token": csrf}))
        assert r.status == 200
        while (msg := await wf(board.receive(), 5)).type == WSMsgType.TEXT:
            pass  # a last push may come before the close
        assert msg.type == WSMsgType.CLOSE and msg.data == 4401
    finally:
        await sup.session.close()
        await admin.session.close()
