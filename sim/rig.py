"""An in-process live contact center on the PBX emulator, for tests and soak runs.

The production pieces, wired as `hotline serve` wires them (cti/live_app.py): the
emulator speaks real AMI over TCP to an `AmiClient` + `CallModel`, the `LiveCenter`
routes with the real `Router`, events go to a real store and bus. Only the web is
left out. `speed` runs the emulator's clock faster than the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from cti.agent_lines import LINE_CONTEXT, lines_for
from cti.agi import AgiServer
from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.eventlog import BufferedEventLog
from cti.live import RAW_EVENTS, LiveCenter, profile_of
from cti.live_app import _customer_channel, recent_events, restore_agent_states, start_ivr
from cti.pbx import AmiPbx
from events import Event
from routing import Router, rules_from_data
from sim.pbx_emulator.server import PbxEmulator
from store import MemoryBus, SqlStore
from store.bus import Bus
from store.models import User

AMI_SECRET = "hotline-secret"
# The emulator's simulated phone (agents 20XX) hangs up after AGENT_TALK: a line stays up.
LINE_VARIABLES = {"AGENT_TALK": "86400", "AGENT_RING": "0.5"}
DEFAULT_ROUTING: dict[str, Any] = {"defaults": {"wrap_up_s": 1}, "rona": {"ring_timeout_s": 15, "max_misses": 1}}


def simulated_agents(count: int, skills: dict[str, int] | None = None) -> list[User]:
    """Agents on the emulator's auto-answering phones Local/2001..20NN@agents."""
    if not 1 <= count <= 98:
        raise ValueError("the agents context has extensions 2001-2098")
    return [
        User(
            login=f"sim{n:02d}",
            display_name=f"Simulated agent {n}",
            skills=skills or {"billing": 5},
            phone_endpoint=f"Local/{2000 + n}@agents",
        )
        for n in range(1, count + 1)
    ]


@dataclass
class Rig:
    emulator: PbxEmulator
    store: SqlStore
    bus: Bus
    client: AmiClient = field(init=False)
    pbx: AmiPbx = field(init=False)
    center: LiveCenter = field(init=False)
    eventlog: BufferedEventLog = field(init=False)
    events: list[Event] = field(default_factory=list)
    standing_lines: str = "off"  # [pbx] standing_lines for the center ("campaigns": the skills below)
    campaign_skills: tuple[str, ...] = ()
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async def poll() -> None:
            while not predicate():
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), timeout)

    async def caller(
        self, name: str, number: str, patience_s: float = 60, talk_s: float = 2, exten: str = "1000"
    ) -> str:
        queued = await self.pbx.originate(
            f"Local/{exten}@inbound",
            context="caller-phone",
            exten="wait",
            caller_id=f'"{name}" <{number}>',
            variables={"PATIENCE": str(patience_s), "__AGENT_TALK": str(talk_s)},
        )
        return queued.originate_id

    async def command(self, agent_id: str, action: str, **fields: str) -> None:
        await self.center.handle_agent_command({"agent_id": agent_id, "action": action, **fields})

    async def start_center(self, agents: list[User], routing: dict[str, Any]) -> None:
        """(Re)start the Hotline side, as a server process would at boot."""
        for user in agents:
            await self.store.put_user(user)
        router = Router(rules_from_data(routing), seed=1)
        for user in agents:
            router.add_agent(profile_of(user))
        history = await recent_events(self.store, self.emulator.pbx.now())
        restore_agent_states(history, router, self.emulator.pbx.now())
        model = CallModel()
        self.eventlog = BufferedEventLog(self.store)
        self.center = LiveCenter(
            router=router,
            pbx=None,
            eventlog=self.eventlog,
            bus=self.bus,  # type: ignore[arg-type]
            store=self.store,
            clock=self.emulator.pbx.now,
            time_scale=self.emulator.speed,
            lines=lines_for(self.standing_lines, {u.login: u.skills for u in agents}, self.campaign_skills),
            line_variables=LINE_VARIABLES,
        )
        self.center.know_agents(agents)

        def on_events(events: list[Event]) -> None:
            self.events.extend(events)
            self.center.on_domain_events(events)

        self.client = AmiClient(
            AmiSettings(
                "127.0.0.1", self.emulator.port, "hotline", AMI_SECRET, reconnect_min_s=0.05, reconnect_max_s=0.5
            ),
            model,
            on_events,
            clock=self.emulator.pbx.now,
        )
        self.pbx = AmiPbx(self.client)
        self.center.pbx = self.pbx
        open_calls = self.center.preload(history)
        self.center.channel_fallback = lambda call_id: _customer_channel(model, call_id)
        self.center.line_lookup = lambda exten: model.channel_at(LINE_CONTEXT, exten)
        self.center.ring_began = lambda call_id: model.ringing_since(call_id, self.center.agent_connect_context)
        for name in RAW_EVENTS:
            self.client.subscribe(name, self.center.on_ami_message)
        self._tasks = [asyncio.create_task(self.center.run()), asyncio.create_task(self.eventlog.run())]
        await self.client.start()
        await self.client.wait_ready(10)
        self.center.restore_lines()
        await self.center.wait_idle()
        self.center.end_vanished(open_calls, lambda call_id: model.call(call_id) is not None, self.emulator.pbx.now())

    async def kill_center(self) -> None:
        """As SIGKILL would: no logoff, no flush; the PBX and the store live on."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.client._protocol is not None:  # cut the socket without a Logoff
            self.client._closing = True
            self.client._protocol.transport.abort()

    async def stop_center(self) -> None:
        await self.client.close()
        try:
            await asyncio.wait_for(self.eventlog.flushed(), 10)
        except TimeoutError:
            raise RuntimeError(f"event log not flushed: {self.eventlog.health()}") from None
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)


@asynccontextmanager
async def live_rig(
    store: SqlStore,
    agents: list[User],
    *,
    speed: float = 10.0,
    routing: dict[str, Any] | None = None,
    bus: Bus | None = None,
    ivr: dict[str, Any] | None = None,
    standing_lines: str = "off",
    campaign_skills: tuple[str, ...] = (),
) -> AsyncIterator[Rig]:
    """With `ivr` (an `[ivr]` table), the emulator's `AGI()` reaches Hotline's FastAGI IVR."""
    agi: AgiServer | None = None
    holder: dict[str, LiveCenter] = {}
    if ivr:
        agi = await _ivr_server(ivr, store, holder)
    emulator = PbxEmulator(
        "hotline", AMI_SECRET, speed=speed, agi_url=f"agi://127.0.0.1:{agi.port}/ivr" if agi else None
    )
    await emulator.start()
    rig = Rig(emulator, store, bus or MemoryBus(), standing_lines=standing_lines, campaign_skills=campaign_skills)
    try:
        await rig.start_center(agents, routing or DEFAULT_ROUTING)
        holder["center"] = rig.center
        yield rig
    finally:
        try:
            await rig.stop_center()
        finally:
            await emulator.stop()
            if agi is not None:
                await agi.stop()


async def _ivr_server(ivr: dict[str, Any], store: SqlStore, holder: dict[str, LiveCenter]) -> AgiServer:
    """The IVR, bound before the emulator starts (it needs the URL); it reaches whichever
    LiveCenter is current, so a restarted center keeps receiving hand-offs."""

    class _Current:
        def submit(self, item: Any) -> None:
            holder["center"].submit(item)

    server = await start_ivr(ivr, "127.0.0.1:0", store, _Current())  # type: ignore[arg-type]
    assert server is not None
    return server
