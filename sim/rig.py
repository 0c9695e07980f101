"""An in-process live contact center on the PBX emulator, for tests and soak runs.

What `hotline serve` runs, from the same composition root (cti/live_root.py): the
emulator speaks real AMI over TCP to an `AmiClient` + `CallModel`, the `LiveCenter`
routes with the real `Router`, looks callers up in the store, calls back, runs the
configured campaigns and recovers after a restart; events go to a real store and
bus. Only the web is left out. `speed` runs the emulator's clock faster than the wall
clock (the root is given the emulator's clock and speed).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from config.schema import HotlineConfig
from cti.ami import AmiClient
from cti.eventlog import BufferedEventLog
from cti.live import LiveCenter
from cti.live_root import Live, build_live
from cti.pbx import PbxActions
from events import Event
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
    """The emulator and the Hotline side (`live`, rebuilt by each `start_center`)."""

    emulator: PbxEmulator
    store: SqlStore
    bus: Bus
    live: Live = field(init=False)
    events: list[Event] = field(default_factory=list)  # every domain event of the call model, in order
    standing_lines: str = "off"  # [pbx] standing_lines ("campaigns": the campaigns' skills)
    # Skills whose agents get standing lines in "campaigns" mode when the campaigns run
    # outside the configuration (a test's own DialerRunner); default: `campaigns`'.
    campaign_skills: tuple[str, ...] = ()
    ivr: dict[str, Any] | None = None  # an [ivr] table
    campaigns: dict[str, Any] = field(default_factory=dict)  # [campaigns.*] tables, dialled by the center
    agi_port: int = 0
    pbx_extra: dict[str, Any] = field(default_factory=dict)  # more [pbx] keys (e.g. call-back retries)
    recording: dict[str, Any] | None = None  # a [recording] table

    @property
    def center(self) -> LiveCenter:
        return self.live.center

    @property
    def client(self) -> AmiClient:
        return self.live.client

    @property
    def eventlog(self) -> BufferedEventLog:
        return self.live.eventlog

    @property
    def pbx(self) -> PbxActions:
        return self.live.center.pbx

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async def poll() -> None:
            while not predicate():
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), timeout)

    async def interactions_written(self, timeout: float = 10.0) -> None:
        """Until the interaction rows of the calls ended so far are in the store (the
        live loop writes them in batches, a moment after the calls end)."""

        async def written() -> None:
            await self.center.wait_idle()  # the calls' ends reported so far handled
            await self.center.interactions.written()

        await asyncio.wait_for(written(), timeout)

    async def caller(
        self, name: str, number: str, patience_s: float = 60, talk_s: float = 2, exten: str = "1000", on: str = ""
    ) -> str:
        """A caller dials `exten` (on the PBX scoped by `on`, e.g. "b:": sim/rig_pbxs.py)."""
        queued = await self.pbx.originate(
            f"{on}Local/{exten}@inbound",
            context="caller-phone",
            exten="wait",
            caller_id=f'"{name}" <{number}>',
            variables={"PATIENCE": str(patience_s), "__AGENT_TALK": str(talk_s)},
        )
        return queued.originate_id

    async def command(self, agent_id: str, action: str, **fields: str) -> None:
        await self.center.handle_agent_command({"agent_id": agent_id, "action": action, **fields})

    def config(self, routing: dict[str, Any]) -> HotlineConfig:
        """What `hotline.toml` would say for this rig."""
        pbx = {
            "enabled": True,
            "ami_host": "127.0.0.1",
            "ami_port": self.emulator.port,
            "ami_username": "hotline",
            "ami_secret": AMI_SECRET,
            "agi_bind": f"127.0.0.1:{self.agi_port}",
            "standing_lines": self.standing_lines,
            "line_variables": LINE_VARIABLES,
            **self.pbx_extra,
        }
        tables = {
            "pbx": pbx,
            "routing": routing,
            "ivr": self.ivr,
            "campaigns": self.campaigns,
            "recording": self.recording,
        }
        return HotlineConfig.model_validate({k: v for k, v in tables.items() if v is not None})

    async def start_center(self, agents: list[User], routing: dict[str, Any]) -> None:
        """(Re)start the Hotline side, as a server process would at boot."""
        for user in agents:
            await self.store.put_user(user)
        self.live = await build_live(
            self.config(routing),
            self.store,
            self.bus,
            clock=self.emulator.pbx.now,
            time_scale=self.emulator.speed,
            events=self.events,
            reconnect_s=(0.05, 0.5),
            seed=1,
            line_skills=self.campaign_skills or None,
        )
        await self.live.start()
        await self.live.recovered(10)
        await self.center.wait_idle()

    async def kill_center(self) -> None:
        """As SIGKILL would: no logoff, no flush; the PBX and the store live on."""
        await self.live.kill()

    async def stop_center(self) -> None:
        if not hasattr(self, "live"):  # start_center failed before building it
            return
        if not await self.live.stop(flush_timeout_s=10):
            raise RuntimeError(f"event log not flushed: {self.eventlog.health()}")


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
    campaigns: dict[str, Any] | None = None,
    pbx_extra: dict[str, Any] | None = None,
    recording: dict[str, Any] | None = None,
) -> AsyncIterator[Rig]:
    """With `ivr` (an `[ivr]` table), the emulator's `AGI()` reaches Hotline's FastAGI
    IVR (on a port kept across restarts of the Hotline side)."""
    agi_port = free_port() if ivr else 0
    emulator = PbxEmulator(
        "hotline", AMI_SECRET, speed=speed, agi_url=f"agi://127.0.0.1:{agi_port}/ivr" if ivr else None
    )
    await emulator.start()
    rig = Rig(
        emulator,
        store,
        bus or MemoryBus(),
        standing_lines=standing_lines,
        campaign_skills=campaign_skills,
        ivr=ivr,
        campaigns=campaigns or {},
        agi_port=agi_port,
        pbx_extra=pbx_extra or {},
        recording=recording,
    )
    try:
        await rig.start_center(agents, routing or DEFAULT_ROUTING)
        yield rig
    finally:
        try:
            await rig.stop_center()
        finally:
            await emulator.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
