"""The agent-command contract against the real live loop: every action goes through
the web API (`POST /api/v1/agents/{id}/commands`) of `hotline serve`'s app, over the
bus, into the live loop, which acts on the PBX emulator over AMI. Each test checks
what the PBX did (who talks to whom, who hears music) and what the event log holds
(each event once, whoever caused it), on every kind of call the desktop can show:
inbound, outbound (a campaign), call-back, preview, and on a standing line."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestClient, TestServer

from agents.commands import ACTIONS
from config.recording import RecordingConfig
from config.schema import BusConfig, HotlineConfig, PbxConfig, ServerConfig, StoreConfig
from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.live_app import LIVE
from cti.live_items import CallbackRequested
from cti.pbx import AmiPbx
from cti.server import STORE, create_app
from dialer.campaign import CallingWindow
from events import (
    AgentForced,
    AgentLoggedOut,
    AgentStateChanged,
    CallArrived,
    CallConnected,
    CallEnded,
    CallHeld,
    CallOffered,
    CallResumed,
    CallTransferred,
    Event,
    MonitorEnded,
    MonitorStarted,
    WrapUpEnded,
)
from sim.pbx_emulator.engine import Channel
from sim.pbx_emulator.server import PbxEmulator
from sim.rig import LINE_VARIABLES
from store.models import DncEntry, Recording
from store.port import NotFound
from tests.web.web_helpers import PASSWORD, seed_customer, seed_users

SECRET = "contract-secret"
ALWAYS = CallingWindow(start=dtime(0, 0), end=dtime(23, 59, 59), days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
ROUTING: dict[str, Any] = {
    "defaults": {"wrap_up_s": 60},
    "rona": {"ring_timeout_s": 15},
    "queues": {
        "billing": {"targets": [{"expression": "skills.billing > 0"}]},
        "support": {"targets": [{"expression": "skills.support > 0"}]},
    },
}
# Actions each test below sends and sees accepted (the last test checks all are covered).
COVERED: set[str] = set()


@dataclass
class Desk:
    """One agent's browser session on the server (its own cookie jar and CSRF token)."""

    agent_id: str
    session: ClientSession
    base: str
    csrf: str = ""
    about: str = ""  # a supervisor's desk: the agent its commands are about

    async def sign_in(self) -> None:
        import re

        page = await (await self.session.get(f"{self.base}/login")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        form = {"login": self.agent_id, "password": PASSWORD, "csrf_token": token.group(1)}
        r = await self.session.post(f"{self.base}/login", data=form, allow_redirects=False)
        assert r.status == 302, await r.text()
        self.csrf = (await (await self.session.get(f"{self.base}/api/v1/me")).json())["csrf"]

    async def get(self, path: str) -> tuple[int, bytes, str]:
        r = await asyncio.wait_for(self.session.get(f"{self.base}{path}"), 15)
        return r.status, await r.read(), r.headers.get("Content-Type", "")

    async def send(self, action: str, **fields: Any) -> tuple[int, dict[str, Any]]:
        url = f"{self.base}/api/v1/agents/{self.about or self.agent_id}/commands"
        r = await asyncio.wait_for(
            self.session.post(url, json={"action": action, **fields}, headers={"X-CSRF-Token": self.csrf}), 15
        )
        return r.status, await r.json()

    async def ok(self, action: str, **fields: Any) -> None:
        status, reply = await self.send(action, **fields)
        assert (status, reply.get("ok")) == (200, True), (action, fields, status, reply)
        COVERED.add(action)

    async def refused(self, action: str, **fields: Any) -> str:
        status, reply = await self.send(action, **fields)
        assert (status, reply.get("ok")) == (409, False), (action, fields, status, reply)
        return str(reply["error"])


@dataclass
class Center:
    client: TestClient
    emulator: PbxEmulator
    desks: dict[str, Desk] = field(default_factory=dict)
    _callers: list[AmiClient] = field(default_factory=list)

    @property
    def live(self) -> Any:
        return self.client.server.app[LIVE]

    @property
    def store(self) -> Any:
        return self.client.server.app[STORE]

    async def desk(self, agent_id: str) -> Desk:
        base = str(self.client.make_url("")).rstrip("/")
        desk = Desk(agent_id, ClientSession(cookie_jar=CookieJar(unsafe=True)), base)  # (127.0.0.1)
        await desk.sign_in()
        self.desks[agent_id] = desk
        return desk

    async def until(self, predicate: Callable[[], Any], timeout: float = 15.0) -> None:
        async def poll() -> None:
            while True:
                value = predicate()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(), timeout)

    def state(self, agent_id: str) -> str:
        return str(self.live.router.agent_state(agent_id))

    def call_of(self, agent_id: str) -> str:
        """The call the live loop has connected to the agent ("" if none)."""
        return next((cid for cid, s in self.live.calls.items() if s.agent == agent_id), "")

    async def events(self, call_id: str, kind: type[Event] | None = None) -> list[Event]:
        await self.live.eventlog.flushed()
        stored = await self.store.events_between(0, 1e12)
        return [
            s.event
            for s in stored
            if getattr(s.event, "call_id", "") == call_id and (kind is None or isinstance(s.event, kind))
        ]

    async def logged(self, call_id: str, kind: type[Event], count: int = 1) -> list[Event]:
        """Wait until `kind` is logged `count` times for the call; then no more come."""
        await self.until(lambda: self._count(call_id, kind, count))
        await asyncio.sleep(0.3)  # a second copy would follow at once
        found = await self.events(call_id, kind)
        assert len(found) == count, found
        return found

    async def _count(self, call_id: str, kind: type[Event], count: int) -> bool:
        return len(await self.events(call_id, kind)) >= count

    def channel(self, name: str) -> Channel | None:
        return self.emulator.pbx.channels.get(name)

    def caller_channel(self, call_id: str) -> Channel:
        name = self.live.calls[call_id].channel or self.live.channel_fallback(call_id)
        channel = self.channel(name)
        assert channel is not None, (call_id, name)
        return channel

    def talking_to(self, call_id: str) -> set[str]:
        """The other channels in the caller's bridge (empty: on hold or alone)."""
        ch = self.caller_channel(call_id)
        return {c.name for c in ch.bridge.channels if c is not ch} if ch.bridge else set()

    async def caller(self, number: str = "4155550142", **variables: str) -> None:
        """A customer rings the inbound number (and talks as long as the agent does)."""
        client = AmiClient(AmiSettings("127.0.0.1", self.emulator.port, "hotline", SECRET), CallModel())
        await client.start()
        await client.wait_ready(10)
        self._callers.append(client)
        await AmiPbx(client).originate(
            "Local/1000@inbound",
            context="caller-phone",
            exten="wait",
            caller_id=f'"Caller" <{number}>',
            variables={"PATIENCE": "120", "__AGENT_TALK": "120", **variables},
        )

    async def connected(self, agent_id: str) -> str:
        await self.until(lambda: self.state(agent_id) == "on_call" and self.call_of(agent_id))
        call_id = self.call_of(agent_id)
        await self.until(lambda: self.talking_to(call_id))
        return call_id

    async def close(self) -> None:
        for desk in self.desks.values():
            await desk.session.close()
        for client in self._callers:
            await client.close()


def write_leads(path: Path) -> Path:
    path.write_text(
        "lead_id,phone,time_zone,first_name,last_name\nL1,+12127360001,UTC,Lena,Lead\nL2,+12127360002,UTC,Leo,Lead\n"
    )
    return path


def campaign(tmp_path: Path, mode: str) -> dict[str, Any]:
    return {
        "spring": {
            "leads": str(write_leads(tmp_path / "leads.csv")),
            "mode": mode,
            "caller_id": '"ACME" <8005550100>',
            "calling_window": {
                "start": "00:00:00",
                "end": "23:59:59",
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            },
            "skill": "support",
            "queue": "outbound",
            "demo_behaviour": {"answer": 1.0},
        }
    }


@pytest.fixture
async def center(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Center]:
    """`hotline serve` (pbx enabled) on the emulator, with agents 01-03 signed in.
    Parametrize indirectly with {"standing_lines": ..., "campaign": mode, "recording":
    {[recording] keys but dir}, "routing": tables replacing ROUTING's}."""
    options: dict[str, Any] = getattr(request, "param", {})
    emulator = PbxEmulator("hotline", SECRET)
    await emulator.start()
    routing = {**ROUTING, **options.get("routing", {})}
    campaigns: dict[str, Any] = {}
    if options.get("campaign"):
        campaigns = campaign(tmp_path, options["campaign"])
        routing["queues"] = {**ROUTING["queues"], "outbound": {"targets": [{"expression": "skills.support > 0"}]}}
    config = HotlineConfig(
        store=StoreConfig(url=f"sqlite:///{tmp_path}/live.sqlite3"),
        bus=BusConfig(url="memory://"),
        server=ServerConfig(session_secret="test-secret"),
        pbx=PbxConfig(
            enabled=True,
            ami_port=emulator.port,
            ami_secret=SECRET,
            agi_bind="127.0.0.1:0",
            standing_lines=options.get("standing_lines", "off"),
            line_variables=LINE_VARIABLES,
            manual_dial_window=ALWAYS,  # (the window's refusal: tests/dialer/test_manual_dial.py)
        ),
        routing=routing,
        campaigns=campaigns,
        pause_reasons={"lunch": {"label": "Lunch"}},
        recording=RecordingConfig(dir=tmp_path / "recordings", **options.get("recording", {})),
    )
    store_url = config.store
    from store import open_store

    store = await open_store(store_url)
    await store.migrate()
    await seed_users(store)
    await seed_customer(store, time.time())
    await store.close()
    client = TestClient(TestServer(create_app(config)))
    await asyncio.wait_for(client.start_server(), 20)
    c = Center(client, emulator)
    try:
        await c.until(lambda: LIVE in client.server.app and client.server.app[LIVE] is not None)
        yield c
    finally:
        await c.close()
        await asyncio.wait_for(client.close(), 20)
        await emulator.stop()


# ---------------------------------------------------------------- availability


async def test_availability_actions_reach_the_router_and_the_log(center: Center) -> None:
    ada = await center.desk("agent01")
    await ada.ok("login")
    await ada.ok("available")
    assert center.state("agent01") == "available"
    await ada.ok("pause", reason="lunch")
    assert center.state("agent01") == "paused"
    status, reply = await ada.send("pause", reason="nap")
    assert status == 400 and reply["error"].startswith("reason")
    await ada.ok("logout")
    assert center.state("agent01") == "logged_out"
    # a call control for a call the agent does not hold is refused, not "ok"
    assert "no call" in await ada.refused("hold", call_id="nope")


# ---------------------------------------------------------------- inbound


async def test_inbound_hold_resume_blind_transfer_to_an_agent_each_logged_once(center: Center) -> None:
    ada, bob = await center.desk("agent01"), await center.desk("agent03")
    await ada.ok("available")
    await center.caller()
    call_id = await center.connected("agent01")
    await bob.ok("available")

    await ada.ok("hold", call_id=call_id)
    await center.until(lambda: center.caller_channel(call_id).moh)
    assert center.talking_to(call_id) == set()
    await center.logged(call_id, CallHeld)
    await ada.ok("resume", call_id=call_id)
    await center.until(lambda: center.talking_to(call_id) and not center.caller_channel(call_id).moh)
    await center.logged(call_id, CallResumed)

    await ada.ok("blind_transfer", call_id=call_id, target_kind="agent", target="agent03")
    assert await center.connected("agent03") == call_id
    [moved] = await center.logged(call_id, CallTransferred)
    assert (moved.from_agent, moved.mode) == ("agent01", "blind")
    # the agent who handed the call away is free again, not in wrap-up for it
    await center.until(lambda: center.state("agent01") == "available")

    await bob.ok("hangup", call_id=call_id)
    await center.logged(call_id, CallEnded)
    await center.until(lambda: center.state("agent03") == "wrap_up")
    assert center.state("agent01") == "available"
    await bob.ok("wrap_up_done", call_id=call_id, disposition="resolved", notes="moved and done")
    await center.until(lambda: center.state("agent03") == "available")
    [done] = await center.logged(call_id, WrapUpEnded)
    assert (done.agent_id, done.disposition) == ("agent03", "resolved")


async def test_attended_transfer_completes_and_wrap_up_goes_to_the_agent_who_ended_it(center: Center) -> None:
    ada, bob = await center.desk("agent01"), await center.desk("agent03")
    await ada.ok("available")
    await center.caller()
    call_id = await center.connected("agent01")
    await bob.ok("available")

    await ada.ok("attended_transfer", call_id=call_id, target_kind="agent", target="agent03")
    await center.until(lambda: center.caller_channel(call_id).moh)  # the caller waits on music
    await center.until(lambda: center.live.calls[call_id].consult_channel)  # agent03 picked up
    assert "already in progress" in await ada.refused("attended_transfer", call_id=call_id, target="agent03")
    await ada.ok("complete_transfer", call_id=call_id)

    await center.until(lambda: center.call_of("agent03") == call_id and center.state("agent03") == "on_call")
    await center.until(lambda: center.talking_to(call_id) and not center.caller_channel(call_id).moh)
    [moved] = await center.logged(call_id, CallTransferred)
    assert moved.mode == "attended"
    await center.until(lambda: center.state("agent01") == "available")

    await bob.ok("hangup", call_id=call_id)
    await center.until(lambda: center.state("agent03") == "wrap_up")
    assert center.state("agent01") == "available"  # never two agents in wrap-up for one call
    ended = await center.logged(call_id, CallEnded)
    assert len(ended) == 1
    [connected_last] = (await center.events(call_id, CallConnected))[-1:]
    assert connected_last.agent_id == "agent03"


async def test_attended_transfer_cancelled_returns_the_caller_to_the_agent(center: Center) -> None:
    ada, bob = await center.desk("agent01"), await center.desk("agent03")
    await ada.ok("available")
    await center.caller()
    call_id = await center.connected("agent01")
    await bob.ok("available")
    assert "no attended transfer" in await ada.refused("complete_transfer", call_id=call_id)

    await ada.ok("attended_transfer", call_id=call_id, target_kind="agent", target="agent03")
    await center.until(lambda: center.live.calls[call_id].consult_channel)
    await ada.ok("cancel_transfer", call_id=call_id)
    await center.until(lambda: center.talking_to(call_id) and not center.caller_channel(call_id).moh)
    assert center.call_of("agent01") == call_id and center.state("agent01") == "on_call"
    await center.until(lambda: center.state("agent03") == "available")
    assert await center.events(call_id, CallTransferred) == []
    await ada.ok("hangup", call_id=call_id)
    await center.until(lambda: center.state("agent01") == "wrap_up")


async def test_transfer_to_a_queue_and_to_a_number(center: Center) -> None:
    ada, bob = await center.desk("agent01"), await center.desk("agent03")
    await ada.ok("available")
    await center.caller()
    call_id = await center.connected("agent01")
    assert "unknown queue" in await ada.refused("blind_transfer", call_id=call_id, target_kind="queue", target="zz")
    await ada.ok("blind_transfer", call_id=call_id, target_kind="queue", target="support")
    [moved] = await center.logged(call_id, CallTransferred)
    assert moved.target == "queue:support"
    await center.until(lambda: center.state("agent01") == "wrap_up")  # the agent's part ended
    await bob.ok("available")
    assert await center.connected("agent03") == call_id  # the queue gave it to the next agent
    await asyncio.sleep(0.5)
    assert len(await center.events(call_id, CallTransferred)) == 1
    assert await center.events(call_id, CallHeld) == []  # the queue's wait is not a hold

    await bob.ok("blind_transfer", call_id=call_id, target_kind="number", target="5550001")
    await center.until(lambda: center.caller_channel(call_id).context == "customers")
    transfers = await center.logged(call_id, CallTransferred, 2)
    assert transfers[-1].target == "number:5550001"
    await center.until(lambda: center.state("agent03") == "wrap_up")


# ---------------------------------------------------------------- standing line


@pytest.mark.parametrize("center", [{"standing_lines": "all"}], indirect=True)
async def test_on_a_standing_line_attended_is_refused_and_the_rest_works(center: Center) -> None:
    ada, bob = await center.desk("agent01"), await center.desk("agent03")
    await ada.ok("available")
    await center.until(lambda: center.live.on_line("agent01"))
    await center.caller()
    call_id = await center.connected("agent01")
    error = await ada.refused("attended_transfer", call_id=call_id, target="agent03")
    assert "standing line" in error
    await ada.ok("hold", call_id=call_id)
    await center.until(lambda: center.caller_channel(call_id).moh)
    await center.logged(call_id, CallHeld)
    await ada.ok("resume", call_id=call_id)
    await center.until(lambda: center.talking_to(call_id))
    await center.logged(call_id, CallResumed)
    await bob.ok("available")
    await center.until(lambda: center.live.on_line("agent03"))
    await ada.ok("blind_transfer", call_id=call_id, target_kind="agent", target="agent03")
    assert await center.connected("agent03") == call_id
    await center.logged(call_id, CallTransferred)
    await bob.ok("hangup", call_id=call_id)
    await center.until(lambda: center.state("agent03") == "wrap_up")
    assert center.state("agent01") == "available"


# ---------------------------------------------------------------- supervisors


def spies(center: Center) -> dict[str, tuple[str, str]]:
    """The emulator's channels running ChanSpy: name -> (the channel spied on, mode)."""
    return {c.name: (c.spying.name, c.spy_mode) for c in center.emulator.pbx.channels.values() if c.spying}


async def supervisor_desk(center: Center, about: str) -> Desk:
    """`sup` (team-a's supervisor) with a phone of their own, looking at `about`."""
    store = center.store
    await store.put_user(replace(await store.get_user("sup"), phone_endpoint="Local/2090@agents"))
    sup = await center.desk("sup")
    sup.about = about
    return sup


async def monitor_modes_then_stop(center: Center, sup: Desk, call_id: str, leg: str) -> None:
    """Listen, then whisper, then barge (each checked on the emulator's ChanSpy), then stop."""
    for n, mode in enumerate(("listen", "whisper", "barge"), 1):
        await sup.ok("monitor", mode=mode)
        await center.until(lambda mode=mode: list(spies(center).values()) == [(leg, mode)])
        started = await center.logged(call_id, MonitorStarted, n)
        assert (started[-1].supervisor, started[-1].agent_id, started[-1].mode) == ("sup", "agent01", mode)
    await sup.ok("stop_monitor")
    await center.until(lambda: not spies(center))
    ended = await center.logged(call_id, MonitorEnded, 3)
    assert [e.reason for e in ended] == ["switched", "switched", "stopped"]
    assert center.talking_to(call_id)  # the call goes on


async def test_a_supervisor_listens_whispers_barges_and_stops(center: Center) -> None:
    ada, cy = await center.desk("agent01"), await center.desk("agent03")
    sup = await supervisor_desk(center, "agent01")
    await ada.ok("available")
    assert "not on a call" in await sup.refused("monitor", mode="listen")
    await center.caller()
    call_id = await center.connected("agent01")
    leg = center.live.calls[call_id].agent_channels["agent01"]
    assert leg.startswith("Local/2001@agents-") and leg.endswith(";1")  # the half in the caller's bridge

    # nobody but a supervisor of the team (or an admin) monitors; the body names no one
    cy.about = "agent01"
    assert (await cy.send("monitor", mode="listen"))[0] == 403
    assert (await ada.send("monitor", mode="listen"))[0] == 403
    status, reply = await sup.send("monitor", mode="listen", supervisor="agent03")
    assert status == 400 and reply["error"].startswith("supervisor"), reply
    status, reply = await sup.send("monitor", mode="eavesdrop")
    assert status == 400 and reply["error"].startswith("mode"), reply
    sup.about = "agent02"  # team-b
    assert (await sup.send("monitor", mode="listen"))[0] == 403
    sup.about = "agent01"

    await monitor_modes_then_stop(center, sup, call_id, leg)

    # monitoring until the call ends: Asterisk ends ChanSpy with the agent's leg
    await sup.ok("monitor", mode="listen")
    await center.until(lambda: spies(center))
    await center.logged(call_id, MonitorStarted, 4)
    await ada.ok("hangup", call_id=call_id)
    await center.until(lambda: not spies(center))
    ended = await center.logged(call_id, MonitorEnded, 4)
    assert ended[-1].reason == "call_ended"


async def forced_events(center: Center, agent_id: str) -> list[Event]:
    await center.live.eventlog.flushed()
    return [
        s.event
        for s in await center.store.events_between(0, 1e12)
        if isinstance(s.event, AgentForced | AgentStateChanged | AgentLoggedOut) and s.event.agent_id == agent_id
    ]


async def test_a_supervisor_forces_a_pause_and_a_logout_of_their_teams_agents_only(center: Center) -> None:
    ada, bob = await center.desk("agent01"), await center.desk("agent02")
    sup = await supervisor_desk(center, "agent01")
    await ada.ok("available")
    await bob.ok("available")
    # not the agent's own, not another team's, not a pause code that does not exist, nobody named
    ada.about = "agent01"
    assert (await ada.send("force_pause", reason="lunch"))[0] == 403
    sup.about = "agent02"  # team-b
    assert (await sup.send("force_logout"))[0] == 403
    sup.about = "agent01"
    status, reply = await sup.send("force_pause", reason="nap")
    assert status == 400 and reply["error"].startswith("reason"), reply
    status, reply = await sup.send("force_pause", reason="lunch", supervisor="agent03")
    assert status == 400 and reply["error"].startswith("supervisor"), reply

    # not while a call talks: the agent would be cut off from routing mid-call
    await center.caller()
    call_id = await center.connected("agent01")
    assert "on a call" in await sup.refused("force_pause", reason="lunch")
    assert "on a call" in await sup.refused("force_logout")
    await ada.ok("hangup", call_id=call_id)
    await center.until(lambda: center.state("agent01") == "wrap_up")

    await sup.ok("force_pause", reason="lunch")  # in wrap-up: paused once it ends
    await ada.ok("wrap_up_done", call_id=call_id)
    await center.until(lambda: center.state("agent01") == "paused")
    await sup.ok("force_logout")
    assert center.state("agent01") == "logged_out"
    assert "not logged in" in await sup.refused("force_logout")
    logged = [e for e in await forced_events(center, "agent01") if isinstance(e, AgentForced)]
    assert [(e.supervisor, e.action, e.reason) for e in logged] == [("sup", "pause", "lunch"), ("sup", "logout", "")]
    # an admin forces anyone's (agent02 is in no team of sup's)
    admin = await center.desk("admin")
    admin.about = "agent02"
    await admin.ok("force_pause", reason="lunch")
    assert center.state("agent02") == "paused"
    # each is audited: who, whom, when, from where
    entries = await center.store.audit_entries(limit=10, action="agent")
    assert [(e.actor, e.action, e.target) for e in reversed(entries)] == [
        ("sup", "agent.force_pause", "agent01"),
        ("sup", "agent.force_logout", "agent01"),
        ("admin", "agent.force_pause", "agent02"),
    ]


@pytest.mark.parametrize("center", [{"standing_lines": "all"}], indirect=True)
async def test_a_supervisor_monitors_an_agent_on_a_standing_line(center: Center) -> None:
    ada = await center.desk("agent01")
    sup = await supervisor_desk(center, "agent01")
    await ada.ok("available")
    await center.until(lambda: center.live.on_line("agent01"))
    await center.caller()
    call_id = await center.connected("agent01")
    line = center.live.lines.channel("agent01")
    assert line
    await monitor_modes_then_stop(center, sup, call_id, line)
    # a line outlives its call: the spy goes with the call, the line stays
    await sup.ok("monitor", mode="whisper")
    await center.until(lambda: spies(center))
    await ada.ok("hangup", call_id=call_id)
    await center.until(lambda: not spies(center))
    ended = await center.logged(call_id, MonitorEnded, 4)
    assert ended[-1].reason == "call_ended"
    assert center.live.on_line("agent01")


# ---------------------------------------------------------------- recording (tests/live/test_live_recording.py)


async def recording_of(center: Center, call_id: str) -> Recording | None:
    try:
        return await center.store.get_recording(call_id)
    except NotFound:
        return None


@pytest.mark.parametrize("center", [{"recording": {"default": "on_demand"}}], indirect=True)
async def test_on_demand_the_agent_records_pauses_and_resumes(center: Center) -> None:
    ada = await center.desk("agent01")
    await ada.ok("available")
    await center.caller()
    call_id = await center.connected("agent01")
    assert await recording_of(center, call_id) is None  # on demand: not from the start
    assert "not being recorded" in await ada.refused("pause_recording", call_id=call_id)
    await ada.ok("record", call_id=call_id)
    await center.until(lambda: recording_of(center, call_id))
    recording = center.caller_channel(call_id).mixmonitor
    assert recording is not None
    await ada.ok("pause_recording", call_id=call_id)
    await center.until(lambda: recording.muted_since is not None)
    await ada.ok("resume_recording", call_id=call_id)
    await center.until(lambda: recording.muted_since is None)


# ---------------------------------------------------------------- call-back, outbound, preview


async def test_call_back_calls_take_every_call_control(center: Center) -> None:
    """A call-back (`cb-...`) the IVR accepted: the live loop dials the customer for the
    agent, and hold, resume and hang-up act on the customer's channel."""
    ada = await center.desk("agent01")
    center.live.submit(CallbackRequested(call_id="ivr-1", number="5550001", queue="billing"))
    await ada.ok("available")
    call_id = await center.connected("agent01")
    assert call_id == "cb-ivr-1"
    await ada.ok("hold", call_id=call_id)
    await center.until(lambda: center.caller_channel(call_id).moh)
    await center.logged(call_id, CallHeld)
    await ada.ok("resume", call_id=call_id)
    await center.until(lambda: center.talking_to(call_id))
    await center.logged(call_id, CallResumed)
    await ada.ok("hangup", call_id=call_id)
    await center.logged(call_id, CallEnded)
    await center.until(lambda: center.state("agent01") == "wrap_up")


@pytest.mark.parametrize("center", [{"campaign": "progressive"}], indirect=True)
async def test_outbound_campaign_call_takes_hold_and_hangup(center: Center) -> None:
    ada = await center.desk("agent01")  # (support skill: the campaign's)
    await ada.ok("available")
    call_id = await center.connected("agent01")
    assert center.live.calls[call_id].direction == "outbound"
    await ada.ok("hold", call_id=call_id)
    await center.logged(call_id, CallHeld)
    await ada.ok("resume", call_id=call_id)
    await center.logged(call_id, CallResumed)
    await ada.ok("hangup", call_id=call_id)
    await center.logged(call_id, CallEnded)
    await center.until(lambda: center.state("agent01") == "wrap_up")


@pytest.mark.parametrize("center", [{"campaign": "preview"}], indirect=True)
async def test_preview_skip_then_dial_then_control_the_call(center: Center) -> None:
    ada = await center.desk("agent01")
    await ada.ok("available")

    def offered() -> str:
        return next((cid for cid, s in center.live.calls.items() if s.offered_to == "agent01"), "")

    await center.until(offered)
    first = offered()
    assert "not connected" in await ada.refused("hold", call_id=first)
    await ada.ok("preview_skip", call_id=first)
    await center.until(lambda: offered() and offered() != first, timeout=30)
    second = offered()
    await ada.ok("preview_dial", call_id=second)
    assert await center.connected("agent01") == second
    await ada.ok("hold", call_id=second)
    await center.logged(second, CallHeld)
    await ada.ok("hangup", call_id=second)
    await center.until(lambda: center.state("agent01") == "wrap_up")


async def test_manual_dial_calls_the_number_for_the_agent_and_refuses_do_not_call(center: Center) -> None:
    ada = await center.desk("agent01")
    assert "is logged out: dial when available or paused" in await ada.refused("manual_dial", number="+14155550177")
    await ada.ok("available")
    await center.store.add_dnc([DncEntry("+14155550199", source="api", added_at=time.time(), added_by="admin")])
    assert (
        await ada.refused("manual_dial", number="(415) 555-0199") == "number: +14155550199 is on the do-not-call list"
    )
    assert await ada.refused("manual_dial", number="not a number") == "number: 'not a number' is not a phone number"
    assert center.state("agent01") == "available"  # a refused dial reserves nobody

    await ada.ok("manual_dial", number="415 555 0177", customer_id="C0000042")
    call_id = await center.connected("agent01")
    assert call_id.startswith("manual-") and center.live.calls[call_id].direction == "outbound"
    (arrived,) = await center.events(call_id, CallArrived)  # once: the PBX's own is not logged again
    assert (arrived.direction, arrived.caller) == ("outbound", "+14155550177")  # type: ignore[attr-defined]
    (offered,) = await center.events(call_id, CallOffered)
    assert offered.agent_id == "agent01" and offered.reason == "manual dial"  # type: ignore[attr-defined]
    bea = await center.desk("agent02")
    await bea.ok("available")
    assert "is on call" in await ada.refused("manual_dial", number="+14155550178")
    await ada.ok("hangup", call_id=call_id)
    await center.until(lambda: center.state("agent01") == "wrap_up")


# ---------------------------------------------------------------- written tasks (issue 18)


async def test_a_written_tasks_actions_from_the_desktop(center: Center) -> None:
    """A chat opened on the server is routed by the live loop to the free agent; the
    agent's reply, transfer (back to the queue: routed again) and close with a wrap-up
    are the contract's task actions, applied by the web's task desk."""
    from tasks.web import TASK_DESK

    app = center.client.server.app
    desk = app[TASK_DESK]
    ada = await center.desk("agent01")
    await ada.ok("available")
    chat = await desk.open(channel="chat", queue="support", subject="Hello", customer_id="C0000042")
    await desk.add_message(chat.task_id, direction="in", author="Grace", text="Are you open on Sunday?")

    async def assigned_to_ada() -> bool:
        row = await desk.get(chat.task_id)
        return row.state == "assigned" and row.agent_id == "agent01"

    await center.until(assigned_to_ada)
    status, body, _ = await ada.get("/api/v1/agents/agent01/tasks")
    [tab] = json.loads(body)["tasks"]
    assert status == 200 and tab["customer"]["id"] == "C0000042"
    assert [m["text"] for m in tab["messages"]] == ["Are you open on Sunday?"]
    await ada.ok("task_reply", task_id=chat.task_id, text="Yes, 10 to 4.", request_id="r-reply-1")
    await ada.ok("task_reply", task_id=chat.task_id, text="Yes, 10 to 4.", request_id="r-reply-1")  # a retry
    assert [m.text for m in await desk.messages(chat.task_id) if m.direction == "out"] == ["Yes, 10 to 4."]
    await ada.ok("task_transfer", task_id=chat.task_id, target_kind="queue", target="support")
    await center.until(assigned_to_ada)  # the only one free: routed back to her
    status, reply = await ada.send("task_close", task_id=chat.task_id, disposition="nope")
    assert status == 400 and reply["error"].startswith("disposition")
    await ada.ok("task_close", task_id=chat.task_id, disposition="resolved", notes="opening hours")
    row = await desk.get(chat.task_id)
    assert (row.state, row.disposition, row.notes) == ("closed", "resolved", "opening hours")
    assert "task_id" in await ada.refused("task_reply", task_id=chat.task_id, text="late")


@pytest.mark.parametrize(
    "center", [{"routing": {"rona": {"ring_timeout_s": 15, "max_misses": 1, "accept_s": {"chat": 2}}}}], indirect=True
)
async def test_an_offered_chat_is_accepted_from_the_desktop_or_goes_to_the_next_agent(center: Center) -> None:
    """With an accept time for chats, the routed chat is offered (the agent's tab says so)
    until the agent's `task_accept`; one not accepted in time goes to the next agent, and
    the first may no longer accept it. The log has each step once."""
    from tasks.web import TASK_DESK

    desk = center.client.server.app[TASK_DESK]
    ada, cy = await center.desk("agent01"), await center.desk("agent03")
    await ada.ok("available")
    await center.until(lambda: center.state("agent01") == "available")
    chat = await desk.open(channel="chat", queue="support", subject="Hello")

    async def offered_to(agent_id: str) -> bool:
        row = await desk.get(chat.task_id)
        return row.state == "offered" and row.agent_id == agent_id

    await center.until(lambda: offered_to("agent01"))
    status, body, _ = await ada.get("/api/v1/agents/agent01/tasks")
    [tab] = json.loads(body)["tasks"]
    assert status == 200 and tab["task"]["state"] == "offered"
    assert "offered" in await ada.refused("task_reply", task_id=chat.task_id, text="too early")
    await cy.ok("available")  # ada lets it ring out: to cy
    await center.until(lambda: offered_to("agent03"))
    assert "not offered to 'agent01'" in await ada.refused("task_accept", task_id=chat.task_id)
    await center.until(lambda: center.state("agent01") == "paused")  # rona.max_misses = 1
    await cy.ok("task_accept", task_id=chat.task_id)
    await cy.ok("task_accept", task_id=chat.task_id)  # a retry: already hers
    row = await desk.get(chat.task_id)
    assert (row.state, row.agent_id) == ("assigned", "agent03")
    await center.until(lambda: center.live.router.agent_load("agent03") == {"chat": 1})
    await cy.ok("task_close", task_id=chat.task_id, disposition="resolved")
    await center.until(lambda: center.live.task_routing.held(chat.task_id) is None)
    await center.live.eventlog.flushed()
    stored = [s.event for s in await center.store.events_between(0, 1e12)]
    steps = [
        (type(e).__name__, getattr(e, "agent_id", "")) for e in stored if getattr(e, "task_id", "") == chat.task_id
    ]
    assert steps == [
        ("TaskQueued", ""),
        ("TaskOffered", "agent01"),
        ("TaskNotAccepted", "agent01"),
        ("TaskOffered", "agent03"),
        ("TaskAccepted", "agent03"),
        ("TaskClosed", "agent03"),
    ]


def test_every_action_of_the_contract_was_sent_to_the_live_loop() -> None:
    """(Runs last in this module: the tests above record what they sent and saw accepted.)"""
    if len(COVERED) < 3:
        pytest.skip("run with the whole module")
    assert sorted(set(ACTIONS) - COVERED) == []
