"""Thin database drivers under the one SQL store: asyncpg and aiosqlite.

Queries are written once with PostgreSQL's `$1` placeholders; SQLite accepts the
same numbered parameters as `?1`, so the SQLite driver only rewrites the sigil.
JSON columns travel as text in both (asyncpg's default for json/jsonb).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, cast

import aiosqlite
import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

log = structlog.get_logger()

MIGRATION_LOCK_KEY = 0x486F746C696E65  # "Hotline"


class UniqueViolation(Exception):
    pass


class Executor(Protocol):
    async def fetch(self, sql: str, *args: Any) -> list[Mapping[str, Any]]: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...
    async def execute(self, sql: str, *args: Any) -> None: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class Driver(Executor, Protocol):
    kind: str

    def transaction(self) -> Any: ...  # async context manager yielding an Executor
    async def migrate(self) -> list[str]: ...
    async def close(self) -> None: ...


def migrations(kind: str) -> list[tuple[str, str]]:
    """(name, sql) in order, from the package's migrations/<kind>/ folder."""
    folder = resources.files("store") / "migrations" / kind
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


# ---------------------------------------------------------------- PostgreSQL


class _PgExecutor:
    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool | PoolConnectionProxy) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        # asyncpg's Record reads like a Mapping (keys, [name], get) without declaring it
        return cast("list[Mapping[str, Any]]", await self._conn.fetch(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        try:
            await self._conn.execute(sql, *args)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from None

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(sql, rows)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from None


_BROKEN_CONNECTION = (
    ConnectionError,
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
)


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """A connection back in the pool needs no reset query: the store sets no session
    state (no SET, LISTEN or cursor; the one advisory lock, the migrations', is released
    in a `finally`), and asyncpg itself rolls back an open transaction first. The default
    reset cost a round trip per query (a third of the store's time in the live loop)."""


class PostgresDriver(_PgExecutor):
    kind = "postgresql"

    def __init__(self, pool: asyncpg.Pool, url: str = "") -> None:
        super().__init__(pool)
        self._pool = pool
        self._url = url  # (it may hold the password: never logged)

    @property
    def can_listen(self) -> bool:
        """Whether `listen` can open a connection of its own (built by `connect`)."""
        return bool(self._url)

    # A pooled connection that died while idle (database restarted, network cut) fails
    # on its next use; reads are retried once on a fresh connection. Writes are not:
    # whether a failed write happened cannot be known here, and the callers that must
    # not lose writes (the event log) retry them themselves.
    async def fetch(self, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        if sql.lstrip().upper().startswith("SELECT"):
            try:
                return await super().fetch(sql, *args)
            except _BROKEN_CONNECTION:
                pass
        return await super().fetch(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith("SELECT"):
            try:
                return await super().fetchval(sql, *args)
            except _BROKEN_CONNECTION:
                pass
        return await super().fetchval(sql, *args)

    @classmethod
    async def connect(cls, url: str, min_size: int = 1, max_size: int = 10) -> PostgresDriver:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, command_timeout=30, reset=_no_session_state
        )
        return cls(pool, url)

    async def listen(self, channel: str, wake: Callable[[], None]) -> Listening:
        """`wake()` on each NOTIFY on `channel` (from any process), and once when the
        connection is lost (`Listening.alive` is then False). The connection is one of
        its own: the pool's keep no session state (no LISTEN)."""
        conn = await asyncpg.connect(self._url, timeout=10)
        listening = Listening(conn)

        def lost(_conn: Any) -> None:
            listening.alive = False
            wake()

        conn.add_termination_listener(lost)
        try:
            await conn.add_listener(channel, lambda *_: wake())
        except BaseException:
            conn.terminate()
            raise
        return listening

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PgExecutor(conn)

    async def migrate(self) -> list[str]:
        """Apply pending migrations in order under an advisory lock (safe with several servers)."""
        applied: list[str] = []
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
                )
                done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
                for name, sql in migrations("postgresql"):
                    if name in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)",
                            name,
                            time.time(),
                        )
                    log.info("migration_applied", store="postgresql", migration=name)
                    applied.append(name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        return applied

    async def close(self) -> None:
        await self._pool.close()


class Listening:
    """A LISTEN connection (`PostgresDriver.listen`); `close()` never waits (a deposed
    leader on a silent network cut must not)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.alive = True

    def close(self) -> None:
        self.alive = False
        self._conn.terminate()


# ---------------------------------------------------------------- SQLite

_PLACEHOLDER = re.compile(r"\$(\d+)")


def _sqlite_sql(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


class _SqliteExecutor:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        async with self._conn.execute(_sqlite_sql(sql), args) as cursor:
            # sqlite3.Row (the connection's row factory) reads by column name like a Mapping
            return cast("list[Mapping[str, Any]]", list(await cursor.fetchall()))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._conn.execute(_sqlite_sql(sql), args) as cursor:
            row = await cursor.fetchone()
        return None if row is None else row[0]

    async def execute(self, sql: str, *args: Any) -> None:
        try:
            await self._conn.execute(_sqlite_sql(sql), args)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise UniqueViolation(str(exc)) from None
            raise

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(_sqlite_sql(sql), rows)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise UniqueViolation(str(exc)) from None
            raise


class SqliteDriver:
    """One connection in autocommit mode; a lock makes each call or transaction atomic."""

    kind = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._exec = _SqliteExecutor(conn)

    @classmethod
    async def connect(cls, path: Path) -> SqliteDriver:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL still survives a crash of the process (a SIGKILL): only a
        # power loss may take the last commits. FULL syncs the disk at every commit,
        # and the event log's writer falls seconds behind when the disk is busy.
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn)

    async def fetch(self, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        async with self._lock:
            return await self._exec.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._lock:
            return await self._exec.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        async with self._lock:
            await self._exec.execute(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        async with self._lock:
            if self._conn.in_transaction:
                # A caller cancelled between BEGIN and its end left a transaction open on
                # the shared connection: undo it, or every later BEGIN would fail.
                await self._conn.execute("ROLLBACK")
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield self._exec
            except BaseException:
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        async with self.transaction() as tx:  # BEGIN IMMEDIATE: one migrator at a time
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ( name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            done = {r["name"] for r in await tx.fetch("SELECT name FROM schema_migrations")}
            for name, sql in migrations("sqlite"):
                if name in done:
                    continue
                for statement in _split_sql(sql):
                    await tx.execute(statement)
                await tx.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)", name, time.time())
                log.info("migration_applied", store="sqlite", migration=name)
                applied.append(name)
        return applied

    async def close(self) -> None:
        await self._conn.close()


def _split_sql(sql: str) -> list[str]:
    """Statements of a migration file (ours contain no semicolons inside literals)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
