"""`hotline serve`'s /healthz on both adapter sets, and the demo's data."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from config.schema import BusConfig, HotlineConfig, StoreConfig
from cti.demo import seed
from cti.server import create_app
from store import open_store


async def _health(config: HotlineConfig) -> tuple[int, dict]:
    async with TestClient(TestServer(create_app(config))) as client:
        response = await asyncio.wait_for(client.get("/healthz"), timeout=10)
        return response.status, await response.json()


async def test_healthz_on_embedded_defaults(tmp_path: Path) -> None:
    config = HotlineConfig(store=StoreConfig(url=f"sqlite:///{tmp_path}/h.sqlite3"))
    status, body = await _health(config)
    assert status == 200
    assert body["status"] == "ok"
    assert body["store"] == {"status": "ok", "kind": "sqlite"}
    assert body["bus"] == {"status": "ok", "kind": "memory"}
    assert body["pbx"] == {"status": "disabled"}
    assert body["calls_offered"] == 0


async def test_healthz_on_postgresql_and_redis(pg_url: str, redis_url: str) -> None:
    config = HotlineConfig(store=StoreConfig(url=pg_url), bus=BusConfig(url=redis_url))
    status, body = await _health(config)
    assert status == 200
    assert (body["store"]["kind"], body["bus"]["kind"]) == ("postgresql", "redis")


async def test_healthz_reports_a_bus_that_is_down(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    config = HotlineConfig(
        store=StoreConfig(url=f"sqlite:///{tmp_path}/h.sqlite3"),
        bus=BusConfig(url=f"redis://127.0.0.1:{dead_port}/0"),
    )
    status, body = await _health(config)
    assert status == 503
    assert body["status"] == "degraded" and body["bus"]["status"] == "down"
    assert body["store"]["status"] == "ok"


async def test_demo_seed_gives_screen_pop_data(tmp_path: Path) -> None:
    config = StoreConfig(url=f"sqlite:///{tmp_path}/demo.sqlite3")
    known = await seed(config)
    assert len(await seed(config)) == len(known)  # idempotent
    store = await open_store(config)
    try:
        assert await store.count_customers() == 2000
        name, number = known[0]
        customer = (await store.find_customers_by_phone(number))[0]
        history = await store.interactions_for_customer(customer.id)
        assert customer.name == name and customer.account_number == "10000000"
        assert all(i.customer_id == customer.id for i in history)
        agents = await store.list_users("agent")
        assert len(agents) == 13 and all(a.phone_endpoint.startswith("Local/20") for a in agents)
        assert {u.role for u in await store.list_users()} == {"agent", "supervisor", "admin"}
    finally:
        await store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_hotline_demo_process_serves_healthz(tmp_path: Path) -> None:
    """The real `hotline demo` command, as `make demo` runs it (no PostgreSQL, no Redis)."""
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cti",
        "demo",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path),
        "--calls-per-hour",
        "3600",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        async def wait_for_url() -> None:
            while True:
                line = await proc.stdout.readline()
                assert line, "demo exited before serving"
                if b"http://" in line:
                    return

        await asyncio.wait_for(wait_for_url(), timeout=60)

        async def poll() -> dict:
            async with aiohttp.ClientSession() as http:
                while True:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                            return await r.json()
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)

        body = await asyncio.wait_for(poll(), timeout=30)
        assert body["status"] == "ok" and body["store"]["kind"] == "sqlite"

        async def calls_flow() -> dict:
            async with aiohttp.ClientSession() as http:
                while True:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        body = await r.json()
                    if body["calls_answered"] >= 2:
                        return body
                    await asyncio.sleep(0.2)

        body = await asyncio.wait_for(calls_flow(), timeout=60)
        assert body["pbx"]["status"] == "ok" and body["calls_offered"] >= body["calls_answered"] >= 2

        proc.send_signal(signal.SIGINT)  # Ctrl-C stops everything cleanly
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_the_demo_warns_when_it_listens_beyond_this_machine() -> None:
    from cti.demo import exposure_warning

    for host in ("127.0.0.1", "::1", "localhost"):
        assert exposure_warning(host) is None
    for host in ("0.0.0.0", "::", "192.0.2.10", "demo.example"):
        warning = exposure_warning(host)
        assert warning is not None and host in warning and "passwords" in warning
