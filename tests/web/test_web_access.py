"""Access: login (argon2, rate limited), cookies, CSRF, roles, API tokens, OpenAPI coverage."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient

from cti.server import STORE
from store.models import User
from tests.web.web_helpers import PASSWORD, login
from web.openapi import DOCUMENT
from web.security import LoginRateLimiter, hash_password, safe_next, verify_password


def wf(coro, t=10):
    return asyncio.wait_for(coro, t)


async def test_password_hashes_are_argon2_and_verify() -> None:
    h = hash_password("s3cret-pass")
    assert h.startswith("$argon2id$") and h != hash_password("s3cret-pass")
    assert verify_password(h, "s3cret-pass")
    assert not verify_password(h, "wrong")
    assert not verify_password("", "anything")
    assert not verify_password("not-a-hash", "x")


def test_rate_limiter_counts_before_the_check_per_login_and_per_address() -> None:
    rl = LoginRateLimiter(per_login=3, per_address=5, window_s=60)
    bob = rl.limits("Bob", "1.2.3.4")
    for t in (0, 1, 2):
        assert rl.reserve(bob, t, f"m{t}") == 0
    assert rl.reserve(bob, 3, "m3") == 57
    assert rl.reserve(rl.limits("bob", "5.6.7.8"), 3, "x") == 57  # per login, whatever the address
    assert rl.reserve(rl.limits("ann", "1.2.3.4"), 3, "a1") == 0  # the neighbour still gets in
    rl.succeeded(rl.limits("ann", "1.2.3.4"), "a1")  # a right password takes its attempt back
    assert rl.reserve(rl.limits("cy", "1.2.3.4"), 3, "c1") == 0
    assert rl.reserve(rl.limits("di", "1.2.3.4"), 3, "d1") == 0
    assert rl.reserve(rl.limits("ed", "1.2.3.4"), 3, "e1") == 57  # the address's bound: 5
    assert rl.reserve(bob, 61, "m4") == 0


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\n/evil.example",
        "\t//evil.example",
        " //evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "/\r\n\\evil.example/x",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/\x00/evil.example",
        "//evil.example",
    ],
)
def test_redirect_targets_are_read_as_a_browser_reads_them(target: str) -> None:
    assert safe_next(target) == ""


def test_same_origin_paths_are_kept() -> None:
    assert safe_next("/reports?from=2026-01-01") == "/reports?from=2026-01-01"
    assert safe_next("/agent\t") == "/agent"  # normalised as the browser would, before the check
    assert safe_next("/admin/routing#x") == "/admin/routing#x"


async def test_login_never_redirects_to_another_host(client: TestClient) -> None:
    page = await (await wf(client.get("/login"))).text()
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    data = {"login": "agent01", "password": PASSWORD, "csrf_token": csrf, "next": "/\t/evil.example"}
    r = await wf(client.post("/login", data=data, allow_redirects=False))
    assert r.status == 302 and r.headers["Location"] == "/agent"


async def test_login_sets_an_encrypted_httponly_samesite_cookie(client: TestClient) -> None:
    page = await (await wf(client.get("/login"))).text()
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = await wf(
        client.post(
            "/login", data={"login": "agent01", "password": PASSWORD, "csrf_token": csrf}, allow_redirects=False
        )
    )
    assert r.status == 302 and r.headers["Location"] == "/agent"
    set_cookie = r.headers["Set-Cookie"]
    assert set_cookie.startswith("hotline_session=")
    lowered = set_cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered
    value = set_cookie.split(";")[0].split("=", 1)[1]
    assert "agent01" not in value and "login" not in value  # encrypted, not readable JSON
    me = await (await wf(client.get("/api/v1/me"))).json()
    assert me["login"] == "agent01" and me["role"] == "agent"


async def test_wrong_password_then_rate_limited(client: TestClient) -> None:
    page = await (await wf(client.get("/login"))).text()
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    statuses = []
    for _ in range(6):
        r = await wf(
            client.post(
                "/login", data={"login": "agent01", "password": "nope", "csrf_token": csrf}, allow_redirects=False
            )
        )
        statuses.append(r.status)
    assert statuses == [401] * 5 + [429]
    assert "Too many failed attempts" in await r.text() and int(r.headers["Retry-After"]) > 0
    r = await wf(
        client.post(
            "/login", data={"login": "agent01", "password": PASSWORD, "csrf_token": csrf}, allow_redirects=False
        )
    )
    assert r.status == 429  # even the right password waits


async def test_login_form_needs_csrf(client: TestClient) -> None:
    r = await wf(client.post("/login", data={"login": "agent01", "password": PASSWORD}, allow_redirects=False))
    assert r.status == 403


async def test_state_changing_api_requests_need_the_csrf_header(client: TestClient) -> None:
    csrf = await login(client, "admin")
    body = {"items": {"break": {"label": "Break"}}, "base_version": 0}
    r = await wf(client.put("/api/v1/pause-codes", json=body))
    assert r.status == 403 and "CSRF" in (await r.json())["error"]
    r = await wf(client.put("/api/v1/pause-codes", json=body, headers={"X-CSRF-Token": "forged"}))
    assert r.status == 403
    r = await wf(client.put("/api/v1/pause-codes", json=body, headers={"X-CSRF-Token": csrf}))
    assert r.status == 200


async def test_anonymous_is_sent_to_login_or_gets_401(client: TestClient) -> None:
    r = await wf(client.get("/agent", allow_redirects=False))
    assert r.status == 302 and r.headers["Location"].startswith("/login?next=/agent")
    r = await wf(client.get("/api/v1/wallboard"))
    assert r.status == 401
    r = await wf(client.get("/api/v1/openapi.json"))
    assert r.status == 200


async def test_roles_gate_pages(client: TestClient) -> None:
    await login(client, "agent01")
    for path in ("/admin", "/wallboard", "/reports", "/api/v1/routing"):
        assert (await wf(client.get(path))).status == 403, path
    assert (await wf(client.get("/agent"))).status == 200
    client.session.cookie_jar.clear()
    await login(client, "sup")
    assert (await wf(client.get("/admin"))).status == 403
    assert (await wf(client.get("/wallboard"))).status == 200
    users = await (await wf(client.get("/api/v1/users"))).json()
    assert sorted(u["login"] for u in users["users"]) == ["agent01", "agent03"]  # team-a only


async def test_api_tokens_authenticate_without_cookies_and_can_be_revoked(client: TestClient) -> None:
    csrf = await login(client, "admin")
    body = {"name": "crm sync", "scopes": ["admin"]}
    r = await wf(client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf}))
    assert r.status == 201
    created = await r.json()
    token = created["token"]
    stored = await client.server.app[STORE].list_api_tokens()
    assert [t.id for t in stored] == [created["id"]]
    client.session.cookie_jar.clear()
    auth = {"Authorization": f"Bearer {token}"}
    me = await (await wf(client.get("/api/v1/me", headers=auth))).json()
    assert me == {"login": "admin", "role": "admin", "teams": [], "via": "token", "csrf": None}
    # no CSRF needed with a token (no cookie involved)
    r = await wf(
        client.put(
            "/api/v1/dispositions", headers=auth, json={"items": {"resolved": {"label": "Resolved"}}, "base_version": 0}
        )
    )
    assert r.status == 200
    r = await wf(client.post("/api/v1/tokens", json={}, headers=auth))
    assert r.status == 403  # a token cannot mint tokens
    r = await wf(client.delete(f"/api/v1/tokens/{created['id']}", headers=auth))
    assert r.status == 200
    r = await wf(client.get("/api/v1/me", headers=auth))
    assert r.status == 401
    r = await wf(client.get("/api/v1/me", headers={"Authorization": "Bearer hl_bogus"}))
    assert r.status == 401


async def test_agent_token_has_agent_rights_only(client: TestClient) -> None:
    csrf = await login(client, "agent01")
    r = await wf(client.post("/api/v1/tokens", json={"login": "admin"}, headers={"X-CSRF-Token": csrf}))
    assert r.status == 403
    token = (await (await wf(client.post("/api/v1/tokens", json={}, headers={"X-CSRF-Token": csrf}))).json())["token"]
    client.session.cookie_jar.clear()
    r = await wf(client.get("/api/v1/routing", headers={"Authorization": f"Bearer {token}"}))
    assert r.status == 403


async def test_a_supervisor_with_several_teams(client: TestClient) -> None:
    await client.server.app[STORE].put_user(
        User(
            "sup2",
            "Two Teams",
            "supervisor",
            (await client.server.app[STORE].get_user("sup")).password_hash,
            "team-a, team-b",
        )
    )
    await login(client, "sup2")
    users = await (await wf(client.get("/api/v1/users"))).json()
    assert sorted(u["login"] for u in users["users"]) == ["agent01", "agent02", "agent03"]


async def test_openapi_describes_every_api_route(client: TestClient) -> None:
    doc = await (await wf(client.get("/api/v1/openapi.json"))).json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    missing = []
    for route in client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if not path.startswith("/api/v1") or route.method == "HEAD":
            continue
        if path == "/api/v1/{section}":  # registered per section: /api/v1/{section:queues}
            path = "/api/v1/" + info["pattern"].pattern.split(">")[1].rstrip(")")
        if (path, route.method.lower()) not in documented:
            missing.append((route.method, path))
    assert missing == []
    assert doc == DOCUMENT


def test_user_cli_adds_users_who_can_then_log_in(tmp_path) -> None:
    import asyncio as aio

    from click.testing import CliRunner

    from config.schema import StoreConfig
    from cti.cli import main
    from store import open_store

    config = tmp_path / "h.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/u.sqlite3"\n')
    r = CliRunner().invoke(
        main, ["user", "add", "boss", "--role", "admin", "--password", "pw-long-enough", "--config", str(config)]
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["user", "add", "x", "--password", "short", "--config", str(config)])
    assert r.exit_code == 2 and "at least 8" in r.output
    r = CliRunner().invoke(
        main, ["user", "set-password", "nobody", "--password", "whatever-long", "--config", str(config)]
    )
    assert r.exit_code == 1 and "no user 'nobody'" in r.output
    r = CliRunner().invoke(main, ["user", "list", "--config", str(config)])
    assert "boss\tadmin" in r.output and "password set" in r.output

    async def check() -> bool:
        store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/u.sqlite3"))
        try:
            return verify_password((await store.get_user("boss")).password_hash, "pw-long-enough")
        finally:
            await store.close()

    assert aio.run(check())
    # delete: never the last admin; another user, at once (audited as the command line's)
    r = CliRunner().invoke(main, ["user", "delete", "boss", "--yes", "--config", str(config)])
    assert r.exit_code == 1 and "'boss' is the last admin" in r.output
    r = CliRunner().invoke(main, ["user", "add", "ann", "--password", "pw-long-enough", "--config", str(config)])
    r = CliRunner().invoke(main, ["user", "delete", "ann", "--yes", "--config", str(config)])
    assert r.exit_code == 0 and "ann deleted" in r.output, r.output
    r = CliRunner().invoke(main, ["user", "delete", "ann", "--yes", "--config", str(config)])
    assert r.exit_code == 1 and "no user 'ann'" in r.output
    r = CliRunner().invoke(main, ["user", "list", "--config", str(config)])
    assert "ann\t" not in r.output


async def test_websockets_from_another_origin_are_refused(client: TestClient) -> None:
    import pytest
    from aiohttp import WSServerHandshakeError

    await login(client, "agent01")
    with pytest.raises(WSServerHandshakeError) as refused:
        await wf(client.ws_connect("/agent/ws", headers={"Origin": "https://evil.example"}))
    assert refused.value.status == 403
    ws = await wf(client.ws_connect("/agent/ws", headers={"Origin": str(client.make_url("/")).rstrip("/")}))
    assert (await wf(ws.receive_json()))["type"] == "hello"
    await ws.close()


async def test_failed_logins_count_across_server_processes_on_one_redis(redis_processes) -> None:
    """Behind a balancer, five failures spread over two processes lock the login on both."""
    a = await redis_processes()
    b = await redis_processes()
    try:

        async def attempt(client: TestClient, password: str) -> int:
            page = await (await wf(client.get("/login"))).text()
            csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
            r = await wf(
                client.post(
                    "/login", data={"login": "agent02", "password": password, "csrf_token": csrf}, allow_redirects=False
                )
            )
            return r.status

        assert [await attempt(c, "nope") for c in (a, b, a, b, a)] == [401] * 5
        assert await attempt(b, PASSWORD) == 429  # b saw two failures itself, the bus five
    finally:
        await wf(b.close(), 20)
        await wf(a.close(), 20)
