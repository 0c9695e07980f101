"""Webhooks end to end: an admin subscribes a real HTTP receiver (an aiohttp server in the
test); logged events and call-back promises reach it signed (HMAC-SHA256 with a
timestamp), through the store's outbox, retried after a failure, still delivered after
a restart of the server, and shown with their status in the delivery log. Private and
loopback targets are refused unless `[webhooks] allow_private` lets them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from config.webhooks import WebhooksConfig
from cti.server import BUS, STORE
from events import AgentLoggedIn, CallEnded, CallQueued, WrapUpEnded
from store.models import Callback
from tests.web.conftest import serving, web_config
from tests.web.web_helpers import BusCallDriver, login, wait_until
from web.webhooks import WORKER
from webhooks.outbox import LEASE, publish_callback
from webhooks.signing import HEADER, verify
from webhooks.targets import RefusedTarget, check_url, networks

FAST = WebhooksConfig(allow_private=["127.0.0.1"], backoff_s=0.05, backoff_max_s=0.2, poll_s=0.05, max_attempts=3)


@dataclass
class Receiver:
    """A real HTTP server taking webhooks; answers `fail_next` requests with 500 first."""

    url: str = ""
    fail_next: int = 0
    down: bool = False
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        if self.down or self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503 if self.down else 500)
        self.got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    def bodies(self, event: str) -> list[dict[str, Any]]:
        return [json.loads(b) for h, b in self.got if h.get("Hotline-Event") == event]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield rec
    finally:
        await runner.cleanup()


async def subscribe(client: TestClient, csrf: str, **body: Any) -> Any:
    r = await client.post("/api/v1/webhooks", json=body, headers={"X-CSRF-Token": csrf})
    return r.status, await r.json()


async def deliveries(client: TestClient, **query: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/webhooks/deliveries", params=query)
    assert r.status == 200
    return (await r.json())["deliveries"]


async def test_events_reach_a_receiver_signed_retried_and_after_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    config = web_config(f"sqlite:///{tmp_path}/web.sqlite3", webhooks=FAST)
    async with serving(config) as client:
        csrf = await login(client, "admin")
        status, made = await subscribe(
            client, csrf, url=receiver.url, events=["call.ended", "interaction.wrapped_up", "callback.scheduled"]
        )
        assert status == 201, made
        secret = made["secret"]
        assert len(secret) >= 16
        listed = await (await client.get("/api/v1/webhooks")).json()
        assert [w["id"] for w in listed["webhooks"]] == [made["id"]] and "secret" not in listed["webhooks"][0]
        store = client.server.app[STORE]
        await wait_until(lambda: started(store), timeout=5)  # the worker started

        receiver.fail_next = 1  # the first attempt fails: retried
        now = time.time()
        await store.append(CallEnded(now, "c1", cause=16, hung_up_by="caller"))
        await store.append(WrapUpEnded(now + 1, "c1", "agent01", disposition="sale", notes="ok"))
        cb = Callback(id="cb1", due_at=now + 3600, call_id="c1", number="+14155550100", created_at=now)
        await store.put_callback(cb)
        await publish_callback(store, cb)
        await wait_until(lambda: len(receiver.got) == 3, timeout=10)

        for headers, body in receiver.got:
            assert verify(secret, body, headers[HEADER], time.time()), headers
            assert not verify("another secret here", body, headers[HEADER], time.time())
            assert json.loads(body)["id"] == headers["Hotline-Delivery"]
        ended = receiver.bodies("call.ended")[0]
        assert ended["data"] == {"call_id": "c1", "at": now, "cause": 16, "cause_text": "", "hung_up_by": "caller"}
        assert receiver.bodies("interaction.wrapped_up")[0]["data"]["disposition"] == "sale"
        assert receiver.bodies("callback.scheduled")[0]["data"]["id"] == "cb1"
        log_ = await deliveries(client)
        assert {d["status"] for d in log_} == {"delivered"} and len(log_) == 3
        assert sorted(d["attempts"] for d in log_) == [1, 1, 2]  # one was retried once
        assert any(d["attempts"] == 2 and d["last_status"] == 204 for d in log_)

        receiver.down = True  # a delivery pending when the server stops...
        await store.append(CallEnded(time.time(), "c2"))
        await wait_until(lambda: _pending_tried(client), timeout=10)
    receiver.down = False
    async with serving(config) as client:  # ...is delivered by the next one
        await wait_until(lambda: len(receiver.bodies("call.ended")) == 2, timeout=10)
        assert receiver.bodies("call.ended")[1]["data"]["call_id"] == "c2"
        await login(client, "admin")
        assert {d["status"] for d in await deliveries(client)} == {"delivered"}
    assert len(receiver.got) == 4  # nothing sent twice


async def started(store: Any) -> bool:
    """The worker ran once: its cursor is set (at the log's end)."""
    return await store.webhook_cursor("event-log") is not None


async def _pending_tried(client: TestClient) -> bool:
    pending = await deliveries(client, status="pending")
    return len(pending) == 1 and pending[0]["attempts"] >= 1 and pending[0]["last_status"] == 503


async def test_a_delivery_is_given_up_after_its_attempts(tmp_path: Path, receiver: Receiver) -> None:
    async with serving(web_config(f"sqlite:///{tmp_path}/web.sqlite3", webhooks=FAST)) as client:
        csrf = await login(client, "admin")
        status, made = await subscribe(client, csrf, url=receiver.url, events=["call.ended"], secret="x" * 16)
        assert status == 201 and made["secret"] == "x" * 16
        store = client.server.app[STORE]
        await wait_until(lambda: started(store), timeout=5)
        receiver.down = True
        await store.append(CallEnded(time.time(), "c9"))

        async def failed() -> bool:
            return len(await deliveries(client, status="failed")) == 1

        await wait_until(failed, timeout=10)
        (d,) = await deliveries(client, status="failed")
        assert d["attempts"] == 3 and d["last_status"] == 503 and d["last_error"] == "HTTP 503"
        r = await client.delete(f"/api/v1/webhooks/{made['id']}", headers={"X-CSRF-Token": csrf})
        assert r.status == 200
        r = await client.delete(f"/api/v1/webhooks/{made['id']}", headers={"X-CSRF-Token": csrf})
        assert r.status == 404 and "webhook_id" in (await r.json())["error"]


async def test_a_wallboard_alert_raised_is_sent_once(tmp_path: Path, receiver: Receiver) -> None:
    async with serving(web_config(f"sqlite:///{tmp_path}/web.sqlite3", webhooks=FAST)) as client:
        app = client.server.app
        csrf = await login(client, "admin")
        status, _ = await subscribe(client, csrf, url=receiver.url, events=["alert.raised"])
        assert status == 201
        await wait_until(lambda: serving_subscriptions(client), timeout=5)  # (alerts up before: known)
        driver = BusCallDriver(app[STORE], app[BUS])
        await driver.emit(AgentLoggedIn(time.time() - 200, "agent01"))
        await driver.emit(CallQueued(time.time() - 100, "long", queue="billing"))  # waiting over the threshold
        await wait_until(lambda: receiver.bodies("alert.raised"), timeout=10)
        (alert,) = receiver.bodies("alert.raised")
        assert alert["data"]["queue"] == "billing" and alert["data"]["kind"] == "waiting"
        assert "a call has waited" in alert["data"]["text"]
        await wait_until(lambda: _all_delivered(client), timeout=5)
        assert len(receiver.bodies("alert.raised")) == 1  # still up: not raised again


async def serving_subscriptions(client: TestClient) -> bool:
    """The worker took the lease and has done a round with the subscriptions (the lease
    is taken at the start of a round: an alert raised before the round's end would be
    one of those it takes as known)."""
    lease = await client.server.app[STORE].current_lease(LEASE)
    worker = client.server.app[WORKER]
    return lease is not None and lease.holder == worker.holder and worker.alerts_known


async def _all_delivered(client: TestClient) -> bool:
    rows = await deliveries(client)
    return bool(rows) and all(d["status"] == "delivered" for d in rows)


async def test_private_targets_and_bad_subscriptions_are_refused_with_the_field(client: TestClient) -> None:
    csrf = await login(client, "admin")  # (no allow_private here)
    for url, words in [
        ("http://127.0.0.1:9/hook", "not a public address"),
        ("http://10.1.2.3/hook", "not a public address"),
        ("http://[::1]/hook", "not a public address"),
        ("http://169.254.169.254/latest", "not a public address"),
        ("http://localhost:8080/x", "this machine"),
        ("ftp://example.com/x", "http:// or https://"),
        ("http://user:pw@example.com/x", "no user or password"),
    ]:
        status, body = await subscribe(client, csrf, url=url, events=["call.ended"])
        assert status == 400 and body["error"].startswith("url:") and words in body["error"], (url, body)
    status, body = await subscribe(client, csrf, url="https://example.com/x", events=["call.started"])
    assert status == 400 and body["error"].startswith("events: unknown call.started")
    status, body = await subscribe(client, csrf, url="https://example.com/x", events=["call.ended"], secret="short")
    assert status == 400 and body["error"].startswith("secret:")
    r = await client.get("/api/v1/webhooks/deliveries", params={"status": "lost"})
    assert r.status == 400 and (await r.json())["error"].startswith("status:")
    client.session.cookie_jar.clear()
    await login(client, "agent01")
    assert (await client.get("/api/v1/webhooks")).status == 403


def test_the_guard_allows_only_what_the_config_lets_through() -> None:
    allowed = networks(["127.0.0.1", "10.1.0.0/16"])
    assert check_url("http://127.0.0.1:8080/x", allowed) and check_url("http://10.1.2.3/x", allowed)
    assert check_url("https://93.184.216.34/x", [])  # a public address
    for url in ("http://10.2.0.1/x", "http://[::ffff:192.168.0.1]/x", "http://0.0.0.0/x", "http://224.0.0.1/x"):
        with pytest.raises(RefusedTarget):
            check_url(url, allowed)
    with pytest.raises(ValueError, match="'nonsense' is not an IP"):
        networks(["nonsense"])


async def test_a_name_resolving_to_a_private_address_is_refused_at_connection() -> None:
    from webhooks.targets import GuardedResolver

    with pytest.raises(OSError, match="not public"):
        await GuardedResolver([]).resolve("localhost", 80)
    assert await asyncio.wait_for(GuardedResolver(networks(["127.0.0.0/8", "::1"])).resolve("localhost", 80), 5)
