"""`hotline serve` as a real subprocess, for the tests that SIGKILL it: its
configuration (web, store, bus, the PBX emulator), start, health, kill and stop. The
operating system kills it, event-log buffer and all; the store and the PBX live on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from config.schema import StoreConfig
from events import AgentLoggedIn, Event
from sim.pbx_emulator.server import PbxEmulator
from store import SqlStore, open_store
from store.models import User


async def pbx_and_store(
    secret: str,
    store_url: str,
    agents: list[User],
    agi_url: str | None = None,
    history: Sequence[Event] = (),
) -> tuple[PbxEmulator, SqlStore]:
    """The PBX emulator started (its AGI() reaching `agi_url`), the store migrated, the
    event log's `history` in it, and the agents in it logged in (as before the server
    starts)."""
    emulator = PbxEmulator("hotline", secret, agi_url=agi_url)
    await emulator.start()
    store = await open_store(StoreConfig(url=store_url))
    await store.migrate()
    for i in range(0, len(history), 5000):
        await store.append_many(history[i : i + 5000])
    now = time.time()
    for user in agents:
        await store.put_user(user)
        await store.append(AgentLoggedIn(at=now, agent_id=user.login))
    return emulator, store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health(port: int) -> dict[str, Any]:
    """The server's /healthz body, a degraded one (503) too: the test reads why."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:  # (a busy CI host)
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            raise
        return dict(json.loads(exc.read()))


async def health_of(port: int) -> dict[str, Any]:
    """`health` from a coroutine: in a thread, never blocking the event loop (where the
    test's emulator and proxies run)."""
    return await asyncio.to_thread(health, port)


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    """Poll a blocking `predicate` (in a thread: it may read /healthz) until it holds;
    an OSError (the server not listening yet) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await asyncio.to_thread(predicate):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def until_up(port: int, what: str, timeout: float = 30) -> None:
    """Until the server's /healthz says its AMI link is up."""
    await until(lambda: health(port)["pbx"]["status"] == "ok", timeout, what)


def write_config(
    path: Path,
    port: int,
    store_url: str,
    bus_url: str,
    ami_port: int,
    secret: str,
    more: str = "",
    agi_port: int | None = None,
    tables: str = "",
) -> Path:
    """`hotline serve`'s configuration: its web on `port`, the PBX emulator on
    `ami_port`, its FastAGI on `agi_port` (a free one by default); `more` is appended
    (it may add [pbx] keys: it follows the [pbx] table), `tables` (more tables, such as
    [ivr] or [routing.queues.x]) after it."""
    path.write_text(f"""
[server]
host = "127.0.0.1"
port = {port}
session_secret = "sigkill-test"
[store]
url = "{store_url}"
[bus]
url = "{bus_url}"
[routing.defaults]
wrap_up_s = 1
[pbx]
enabled = true
ami_port = {ami_port}
ami_secret = "{secret}"
agi_bind = "127.0.0.1:{agi_port or free_port()}"
{more}
{tables}""")
    return path


def serve(config: Path, log: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("hotline")
    return subprocess.Popen(
        [str(exe), "serve", "--config", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOTLINE_CONFIG": ""},
    )


def kill(server: subprocess.Popen[bytes]) -> None:
    """SIGKILL, and wait for it to be gone."""
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    assert server.returncode == -signal.SIGKILL


def stop_all(servers: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each at once, then as `stop` (they shut down side by side)."""
    for server in servers:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
    for server in servers:
        stop(server)


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (SIGKILL if it does not stop within 20 s)."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
