"""Outages (issue 16, item 5): with the store or the bus cut off, requests get 503 with
a clear JSON error (never a traceback), and everything works again once it is back.

The cut is a real one: the app reaches the real PostgreSQL and Redis through a TCP
forwarder that the test closes (listener and every open connection) and reopens.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import pytest

from agents.desktop import HUB
from cti.server import STORE
from store.bus import RedisBus
from tests.web.conftest import started, web_config
from tests.web.test_web_wallboard import queue_tile
from tests.web.web_helpers import CUSTOMER, PASSWORD, BusCallDriver, login, wait_until


def wf(coro, t=20):
    return asyncio.wait_for(coro, t)


class Cuttable:
    """A TCP forwarder to host:port that can be cut (refuses and drops) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.listen_port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        return self.listen_port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def restore(self) -> None:
        await self.start()


def through(url: str, forwarder: Cuttable) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{forwarder.listen_port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def forwarder_for(url: str) -> Cuttable:
    parts = urlsplit(url)
    return Cuttable(parts.hostname or "127.0.0.1", parts.port or 5432)


async def assert_unavailable(response, part: str) -> None:
    assert response.status == 503, await response.text()
    body = await response.json()
    assert part in body["error"] and "Traceback" not in body["error"]
    assert int(response.headers["Retry-After"]) > 0


async def test_store_down_gives_503_and_recovers(fresh_pg_url: str) -> None:
    pg = forwarder_for(fresh_pg_url)
    await pg.start()
    client = await started(web_config(through(fresh_pg_url, pg)))
    try:
        csrf = await login(client, "admin")
        r = await wf(client.post("/api/v1/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf}))
        bearer = {"Authorization": f"Bearer {(await r.json())['token']}"}
        await pg.cut()
        await assert_unavailable(await wf(client.get("/api/v1/me")), "store")
        await assert_unavailable(await wf(client.get("/api/v1/me", headers=bearer)), "store")
        await assert_unavailable(await wf(client.get("/api/v1/users", headers=bearer)), "store")
        r = await wf(client.post("/api/v1/customers/C1/notes", json={"text": "x"}, headers=bearer))
        await assert_unavailable(r, "store")
        page = await wf(client.get("/admin"))
        assert page.status == 503 and "Traceback" not in await page.text()
        client.session.cookie_jar.clear()
        form = await (await wf(client.get("/login"))).text()
        token = form.split('name="csrf_token" value="')[1].split('"')[0]
        data = {"login": "admin", "password": PASSWORD, "csrf_token": token}
        r = await wf(client.post("/login", data=data, allow_redirects=False))
        assert r.status == 503 and "store" in await r.text() and "Traceback" not in await r.text()
        await pg.restore()
        assert (await wf(client.get("/api/v1/me", headers=bearer))).status == 200
        await login(client, "admin")
        assert (await wf(client.get("/api/v1/me"))).status == 200
    finally:
        await client.close()


async def test_bus_down_keeps_the_api_answering(tmp_path, redis_url: str) -> None:
    redis = forwarder_for(redis_url)
    await redis.start()
    client = await started(web_config(f"sqlite:///{tmp_path}/web.sqlite3", through(redis_url, redis)))
    try:
        csrf = await login(client, "admin")
        await redis.cut()
        h = {"X-CSRF-Token": csrf}
        items = {"billing": {"label": "Billing desk"}}
        r = await wf(client.put("/api/v1/queues", json={"items": items, "base_version": 0}, headers=h))
        assert r.status == 200, await r.text()  # stored; the announcement waits for the bus
        assert (await wf(client.get("/api/v1/me"))).status == 200
        client.session.cookie_jar.clear()
        await login(client, "agent01")  # the login limiter's own count serves
    finally:
        await redis.restore()
        await client.close()


async def test_the_hubs_rebuild_from_the_log_when_the_bus_comes_back(
    tmp_path, redis_url: str, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cti.server as server_mod
    from store import open_bus

    monkeypatch.setattr(server_mod, "open_bus", lambda config: open_bus(config, redis_namespace))
    redis = forwarder_for(redis_url)
    await redis.start()
    client = await started(web_config(f"sqlite:///{tmp_path}/web.sqlite3", through(redis_url, redis)))
    app = client.server.app
    direct = RedisBus.from_url(redis_url, namespace=redis_namespace)  # the live loop's bus: not cut
    calls = BusCallDriver(app[STORE], direct)

    async def offered() -> int:
        board = await (await wf(client.get("/api/v1/wallboard"))).json()
        return int(queue_tile(board, "billing")["offered"])

    try:
        await login(client, "admin")
        await wf(app[HUB].ready.wait())
        before = await offered()
        await redis.cut()
        await calls.offer("gap-1", CUSTOMER.phones[0], "billing", "agent01")  # logged and published: not heard
        await asyncio.sleep(1.5)
        assert await offered() == before and app[HUB].last_pop("agent01") is None
        await redis.restore()
        await wait_until(lambda: (app[HUB].last_pop("agent01") or {}).get("call_id") == "gap-1", timeout=20)
        assert app[HUB].catch_ups == 1

        async def caught_up() -> bool:
            return await offered() == before + 1

        await wait_until(caught_up, timeout=20)
    finally:
        await direct.close()
        await client.close()
