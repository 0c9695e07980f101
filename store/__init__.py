"""Persistence and live state: the Store and Bus ports and their adapters."""

from __future__ import annotations

from config.schema import BusConfig, StoreConfig
from store.bus import Bus, MemoryBus, RedisBus
from store.drivers import PostgresDriver, SqliteDriver
from store.port import Store
from store.sql import SqlStore


async def open_store(config: StoreConfig) -> SqlStore:
    """Connect the configured store (no migration: call `migrate()` when wanted)."""
    if config.kind == "sqlite":
        return SqlStore(await SqliteDriver.connect(config.sqlite_path()))
    return SqlStore(await PostgresDriver.connect(config.url.get_secret_value(), config.pool_min, config.pool_max))


def open_bus(config: BusConfig, namespace: str = "hotline") -> Bus:
    if config.kind == "memory":
        return MemoryBus()
    return RedisBus.from_url(config.url.get_secret_value(), namespace)


__all__ = ["Bus", "MemoryBus", "RedisBus", "SqlStore", "Store", "open_bus", "open_store"]
