from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.schema import BusConfig, HotlineConfig, ServerConfig, StoreConfig
from cti.server import STORE, create_app
from tests.web.web_helpers import seed_customer, seed_users


def web_config(store_url: str, bus_url: str = "memory://", **sections) -> HotlineConfig:
    return HotlineConfig(store=StoreConfig(url=store_url), bus=BusConfig(url=bus_url),
                         server=ServerConfig(session_secret="test-secret"), **sections)


async def started(config: HotlineConfig) -> TestClient:
    client = TestClient(TestServer(create_app(config)))
    await asyncio.wait_for(client.start_server(), 20)
    app = client.server.app
    await seed_users(app[STORE])
    await seed_customer(app[STORE], time.time())
    return client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    c = await started(web_config(f"sqlite:///{tmp_path}/web.sqlite3"))
    try:
        yield c
    finally:
        await asyncio.wait_for(c.close(), 20)
