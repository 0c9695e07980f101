"""The mail tests' store (SQLite, migrated) and the seam's real TaskDesk over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.schema import BusConfig, StoreConfig
from store import open_bus, open_store
from store.sql import SqlStore
from tasks.desk import TaskDesk


@pytest.fixture
async def sql(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/h.sqlite3"))
    await store.migrate()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def desk(sql: SqlStore) -> AsyncIterator[TaskDesk]:
    bus = open_bus(BusConfig())
    try:
        yield TaskDesk(sql, bus, lambda: 1000.0)
    finally:
        await bus.close()
