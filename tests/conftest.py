"""Shared fixtures: real PostgreSQL and Redis (never mocks), isolated per test run.

`make test` guarantees both are reachable (scripts/services.sh); the URLs can be
overridden with HOTLINE_TEST_PG_URL / HOTLINE_TEST_REDIS_URL.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from cti.logs import configure

# The server's own logging set-up (plain tracebacks, escaped values), not structlog's
# default, so the tests see what a server would write.
configure("info", "text")

PG_ADMIN_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run_in_thread(coro) -> None:
    """Run admin SQL on its own loop: the fixture may be first requested inside a running loop."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    if errors:
        raise errors[0]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    name = f"hotline_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    _run_in_thread(_admin(f'CREATE DATABASE "{name}"'))
    yield _with_database(PG_ADMIN_URL, name)
    _run_in_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def fresh_pg_url(pg_url: str) -> Iterator[str]:
    """A database of its own for a test that must start empty."""
    name = f"{pg_url.rpartition('/')[2]}_{uuid.uuid4().hex[:6]}"

    _run_in_thread(_admin(f'CREATE DATABASE "{name}"'))
    yield _with_database(PG_ADMIN_URL, name)
    _run_in_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def redis_namespace() -> str:
    """Each test gets its own key/channel namespace on the shared Redis."""
    return f"hotline-test-{uuid.uuid4().hex[:12]}"


# `make test` runs the suite on two workers (pytest-xdist). Each module runs on one worker,
# in order (some read what the module's earlier tests recorded: tests/live/test_live_commands.py),
# and the tests that put a load on a live server and then kill it or cut its links share
# one worker, one after the other: they measure what a fault costs, and two of them at once
# on a two-core machine would measure the machine instead. (xdist's own `loadgroup` does
# not group on this pytest: the scheduler below does.)
LIVE_LOAD_MODULES = frozenset(
    (
        "tests/live/test_live_faults.py",
        "tests/live/test_callbacks_sigkill.py",
        "tests/live/test_live_sigkill.py",
        "tests/live/test_live_leader.py",
        "tests/live/test_live_standby.py",
        "tests/live/test_live_failover_faults.py",
        "tests/dialer/test_dialer_sigkill.py",
    )
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "live-load" if module in LIVE_LOAD_MODULES else module

    return ModuleScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The load-and-kill tests get one rerun (pytest-rerunfailures): they time a live server
    under load on a shared machine. A rerun shows in the summary ("R"): a test that needs
    it often is a finding to look into, not a pass."""
    for item in items:
        if item.nodeid.split("::", 1)[0] in LIVE_LOAD_MODULES:
            item.add_marker(pytest.mark.flaky(reruns=1))
