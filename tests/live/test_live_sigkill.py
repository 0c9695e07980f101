"""`hotline serve` as its own process, killed with SIGKILL while calls wait, restarted:
the waiting calls are found again in the PBX (CoreShowChannels + variables) and routed,
the agents come back from the event log, and every call is counted once.

The in-process form of this (tests/live/test_live_faults.py, `make soak`) cuts the
tasks and the socket; this one lets the operating system kill the server, event-log
buffer and all, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from config.schema import StoreConfig
from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx
from events import AgentLoggedIn, CallConnected, CallEnded
from reports.kpi import KpiConfig, batch_report
from sim.pbx_emulator.server import PbxEmulator
from sim.soak import agents_on_two_calls
from store import open_store
from store.models import User

SECRET = "sigkill-secret"
AGENTS = [
    User(
        login=f"k{n}",
        display_name=f"Agent {n}",
        role="agent",
        skills={"billing": 5},
        phone_endpoint=f"Local/200{n}@agents",
    )
    for n in (1, 2)
]
CALLERS = 6
TALK_S = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
        return json.loads(r.read())


async def _until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
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


def _serve(config: Path, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("hotline")
    return subprocess.Popen(
        [str(exe), "serve", "--config", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOTLINE_CONFIG": ""},
    )


async def test_server_killed_with_sigkill_while_calls_wait_and_restarted(tmp_path: Path, fresh_pg_url: str) -> None:
    emulator = PbxEmulator("hotline", SECRET)
    await emulator.start()
    store = await open_store(StoreConfig(url=fresh_pg_url))
    await store.migrate()
    now = time.time()
    for user in AGENTS:
        await store.put_user(user)
        await store.append(AgentLoggedIn(at=now, agent_id=user.login))  # logged in before the server starts
    port = _free_port()
    config = tmp_path / "hotline.toml"
    config.write_text(f"""
[server]
host = "127.0.0.1"
port = {port}
session_secret = "sigkill-test"
[store]
url = "{fresh_pg_url}"
[bus]
url = "memory://"
[pbx]
enabled = true
ami_port = {emulator.port}
ami_secret = "{SECRET}"
agi_bind = "127.0.0.1:{_free_port()}"
[routing.defaults]
wrap_up_s = 1
[routing.rona]
ring_timeout_s = 15
""")
    log = tmp_path / "serve.log"
    server = _serve(config, log)
    callers = AmiClient(AmiSettings("127.0.0.1", emulator.port, "hotline", SECRET), CallModel())
    try:
        await _until(lambda: _health(port)["pbx"]["status"] == "ok", 30, "the first server")
        await callers.start()
        await callers.wait_ready(10)
        pbx = AmiPbx(callers)
        for n in range(CALLERS):
            await pbx.originate(
                "Local/1000@inbound",
                context="caller-phone",
                exten="wait",
                caller_id=f'"Caller {n}" <55501{n:02d}>',
                variables={"PATIENCE": "120", "__AGENT_TALK": str(TALK_S)},
            )
        # two calls with the agents, the rest waiting on hold in the PBX
        await _until(
            lambda: emulator.ledger.summary()["connected"] == 2 and emulator.ledger.summary()["open"] == CALLERS,
            20,
            "two calls connected and four waiting",
        )
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        assert server.returncode == -signal.SIGKILL
        server = _serve(config, log)
        await _until(lambda: _health(port)["pbx"]["status"] == "ok", 30, "the restarted server")
        await _until(lambda: emulator.ledger.summary()["open"] == 0, 60, "every call to end")
        ledger = emulator.ledger.summary()
        assert (ledger["connected"], ledger["abandoned"]) == (CALLERS, 0), ledger
        await _until(lambda: _health(port)["event_log"]["backlog"] == 0, 20, "the event log to be written")
    finally:
        await callers.close()
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
        await emulator.stop()
    try:
        stored = [s.event for s in await store.events_between(0, 1e12)]
        calls = {e.call_id for e in stored if isinstance(e, CallEnded)}
        assert len(calls) == CALLERS, log.read_text()[-3000:]
        for call_id in calls:  # each call once: queued once, connected once, ended once
            mine = [type(e).__name__ for e in stored if getattr(e, "call_id", "") == call_id]
            assert (mine.count("CallQueued"), mine.count("CallConnected"), mine.count("CallEnded")) == (1, 1, 1), mine
        connected_to = {e.call_id: e.agent_id for e in stored if isinstance(e, CallConnected)}
        assert set(connected_to.values()) == {"k1", "k2"}
        # nobody was given a second call while still talking (the restarted router learns
        # from the PBX which agents are on calls before it routes the waiting ones)
        assert agents_on_two_calls(stored) == {}
        report = batch_report(stored, KpiConfig()).overall
        assert (report["offered"], report["answered"], report["abandoned"]) == (CALLERS, CALLERS, 0)
    finally:
        await store.close()
