from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.schema import BusConfig, HotlineConfig, ServerConfig, StoreConfig
from cti.server import STORE, create_app

# `center`: `hotline serve` with its real live loop on the PBX emulator (agents 01-03)
from tests.live.test_live_commands import center  # noqa: F401  (fixture, used by name)
from tests.web.web_helpers import seed_customer, seed_users


def web_config(store_url: str, bus_url: str = "memory://", **sections) -> HotlineConfig:
    return HotlineConfig(
        store=StoreConfig(url=store_url),
        bus=BusConfig(url=bus_url),
        server=ServerConfig(session_secret="test-secret"),
        **sections,
    )


async def started(config: HotlineConfig) -> TestClient:
    client = TestClient(TestServer(create_app(config)))
    await asyncio.wait_for(client.start_server(), 20)
    app = client.server.app
    await seed_users(app[STORE])
    await seed_customer(app[STORE], time.time())
    return client


@asynccontextmanager
async def serving(config: HotlineConfig) -> AsyncIterator[TestClient]:
    """A started app on `config` (users and the sample customer seeded), closed after."""
    c = await started(config)
    try:
        yield c
    finally:
        await asyncio.wait_for(c.close(), 20)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    c = await started(web_config(f"sqlite:///{tmp_path}/web.sqlite3"))
    try:
        yield c
    finally:
        await asyncio.wait_for(c.close(), 20)


@pytest.fixture
async def redis_processes(
    fresh_pg_url: str, redis_url: str, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], Awaitable[TestClient]]:
    """Start server processes (apps) that share PostgreSQL, with the users seeded before
    the first starts, and one Redis namespace (the test's own: parallel runs never see
    each other's events). The caller closes what it started."""
    import cti.server as server_mod
    from store import open_bus, open_store

    monkeypatch.setattr(server_mod, "open_bus", lambda config: open_bus(config, redis_namespace))
    seeding = await open_store(StoreConfig(url=fresh_pg_url))
    await seeding.migrate()
    await seed_users(seeding)
    await seeding.close()
    return lambda: started(web_config(fresh_pg_url, redis_url))
