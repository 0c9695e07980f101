"""`hotline serve` as its own process, killed with SIGKILL while calls wait, restarted:
the waiting calls are found again in the PBX (CoreShowChannels + variables) and routed,
the agents come back from the event log, and every call is counted once; an agent's
command sent while it is down (through another server process's web) is kept and applied
when it is back.

The in-process form of this (tests/live/test_live_faults.py, `make soak`) cuts the
tasks and the socket; this one lets the operating system kill the server, event-log
buffer and all, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from config.schema import BusConfig, HotlineConfig, ServerConfig, StoreConfig
from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx
from cti.server import create_app
from events import AgentStateChanged, CallConnected, CallEnded
from reports.kpi import KpiConfig, batch_report
from sim.pbx_emulator.server import PbxEmulator
from sim.soak import agents_on_two_calls
from store import open_store
from store.models import User
from tests.live.serve_process import free_port, health, kill, pbx_and_store, serve, stop, until, until_up, write_config
from tests.web.web_helpers import login, password_hash
from web.app import COMMAND_TIMEOUT

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


async def test_server_killed_with_sigkill_while_calls_wait_and_restarted(tmp_path: Path, fresh_pg_url: str) -> None:
    emulator, store = await pbx_and_store(SECRET, fresh_pg_url, AGENTS)
    port = free_port()
    more = "[routing.rona]\nring_timeout_s = 15\n"
    config = write_config(tmp_path / "hotline.toml", port, fresh_pg_url, "memory://", emulator.port, SECRET, more)
    log = tmp_path / "serve.log"
    server = serve(config, log)
    callers = AmiClient(AmiSettings("127.0.0.1", emulator.port, "hotline", SECRET), CallModel())
    try:
        await until_up(port, "the first server")
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
        await until(
            lambda: emulator.ledger.summary()["connected"] == 2 and emulator.ledger.summary()["open"] == CALLERS,
            20,
            "two calls connected and four waiting",
        )
        kill(server)
        server = serve(config, log)
        await until_up(port, "the restarted server")
        await until(lambda: emulator.ledger.summary()["open"] == 0, 60, "every call to end")
        ledger = emulator.ledger.summary()
        assert (ledger["connected"], ledger["abandoned"]) == (CALLERS, 0), ledger
        await until(lambda: health(port)["event_log"]["backlog"] == 0, 20, "the event log to be written")
    finally:
        await callers.close()
        stop(server)
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


async def test_a_command_sent_while_the_server_is_killed_is_applied_when_it_is_back(
    tmp_path: Path, fresh_pg_url: str, redis_url: str
) -> None:
    """`hotline serve` on PostgreSQL and Redis is killed with SIGKILL while a caller
    waits; an agent's "available" sent meanwhile through another server process's web
    (same store and bus, no live loop) is kept (202) and applied once the killed server
    is back: the agent takes the caller."""
    emulator = PbxEmulator("hotline", SECRET)
    await emulator.start()
    store = await open_store(StoreConfig(url=fresh_pg_url))
    await store.migrate()
    agent = f"kc{uuid.uuid4().hex[:6]}"  # (the servers' Redis namespace is the default one: a name of its own)
    await store.put_user(
        User(agent, "Kept", "agent", password_hash(), skills={"billing": 5}, phone_endpoint="Local/2005@agents")
    )
    port = free_port()
    config = write_config(tmp_path / "hotline.toml", port, fresh_pg_url, redis_url, emulator.port, SECRET)
    log = tmp_path / "serve.log"
    server = serve(config, log)
    callers = AmiClient(AmiSettings("127.0.0.1", emulator.port, "hotline", SECRET), CallModel())
    other = HotlineConfig(
        store=StoreConfig(url=fresh_pg_url), bus=BusConfig(url=redis_url), server=ServerConfig(session_secret="x")
    )
    web = TestClient(TestServer(create_app(other)))
    try:
        await until_up(port, "the first server")
        await callers.start()
        await callers.wait_ready(10)
        await AmiPbx(callers).originate(
            "Local/1000@inbound",
            context="caller-phone",
            exten="wait",
            caller_id='"Caller" <5550100>',
            variables={"PATIENCE": "120", "__AGENT_TALK": "60"},
        )
        await until(lambda: emulator.ledger.summary()["open"] == 1, 20, "the caller to wait")
        kill(server)

        await asyncio.wait_for(web.start_server(), 20)
        web.server.app[COMMAND_TIMEOUT] = 1.0
        csrf = await login(web, agent)
        r = await asyncio.wait_for(
            web.post(f"/api/v1/agents/{agent}/commands", json={"action": "available"}, headers={"X-CSRF-Token": csrf}),
            15,
        )
        kept = await r.json()
        assert r.status == 202, kept
        assert emulator.ledger.summary()["connected"] == 0

        server = serve(config, log)
        await until(lambda: emulator.ledger.summary()["connected"] == 1, 30, "the agent to take the caller")
        status = await (await asyncio.wait_for(web.get(kept["status"]), 10)).json()
        assert (status["state"], status["ok"]) == ("applied", True), status
    finally:
        await web.close()
        await callers.close()
        stop(server)
        await emulator.stop()
    try:
        stored = [s.event for s in await store.events_between(0, 1e12)]
        available = [e for e in stored if isinstance(e, AgentStateChanged) and e.agent_id == agent]
        assert [e.state for e in available][:1] == ["available"], log.read_text()[-3000:]
        assert [type(e).__name__ for e in stored if getattr(e, "agent_id", "") == agent].count("AgentLoggedIn") == 1
    finally:
        await store.close()
