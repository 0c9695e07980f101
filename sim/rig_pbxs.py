"""The live rig with two emulated Asterisks joined by a SIP trunk (several PBXs, one
router): what the tests and `hotline demo --pbxs 2` run.

PBX "a" is the first `[[pbx]]` entry (its call ids are bare Linkedids), PBX "b" the
second (`b:Linkedid`, cti/pbxs.py). Both emulators start with the same `epoch`, so they
number their channels alike (identical Uniqueids and Linkedids), as two Asterisks
started in the same second do. Each dials the other's agents as
`PJSIP/{exten}@{pbx}` (sim/pbx_emulator/trunk.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from config.schema import HotlineConfig
from sim.netfault import TcpOutage
from sim.pbx_emulator.server import PbxEmulator
from sim.pbx_emulator.trunk import link
from sim.rig import AMI_SECRET, DEFAULT_ROUTING, LINE_VARIABLES, Rig, free_port
from store import MemoryBus, SqlStore
from store.bus import Bus
from store.models import User

TRUNK_DIAL = "PJSIP/{exten}@{pbx}"
NAMES = ("a", "b")


@dataclass
class TwoPbxRig(Rig):
    """`emulator` is PBX a, `other` PBX b; `cross_pbx` applies to both."""

    other: PbxEmulator | None = None
    cross_pbx: str = "trunk"
    outage: TcpOutage | None = None  # between Hotline and PBX b's AMI: `cut()` drops that link
    agi_ports: tuple[int, ...] = (0, 0)  # each PBX's FastAGI port (with `ivr`)

    def emulator_of(self, pbx: str) -> PbxEmulator:
        if pbx == NAMES[0]:
            return self.emulator
        assert self.other is not None
        return self.other

    def config(self, routing: dict[str, Any]) -> HotlineConfig:
        assert self.other is not None
        entries: list[dict[str, Any]] = []
        for name, emulator in zip(NAMES, (self.emulator, self.other), strict=True):
            entry: dict[str, Any] = {
                "name": name,
                "ami_host": "127.0.0.1",
                "ami_port": self.outage.port if name == NAMES[1] and self.outage is not None else emulator.port,
                "ami_username": "hotline",
                "ami_secret": AMI_SECRET,
                "agi_bind": f"127.0.0.1:{self.agi_ports[len(entries)]}",
                "trunk_dial": TRUNK_DIAL,
                "cross_pbx": self.cross_pbx,
            }
            if name == NAMES[0]:
                entry |= {
                    "enabled": True,
                    "standing_lines": self.standing_lines,
                    "line_variables": LINE_VARIABLES,
                    **self.pbx_extra,
                }
            entries.append(entry)
        tables = {"pbx": entries, "routing": routing, "ivr": self.ivr}
        return HotlineConfig.model_validate({k: v for k, v in tables.items() if v is not None})

    async def caller_on(self, pbx: str, name: str, number: str, patience_s: float = 60, talk_s: float = 2) -> str:
        """A caller dials 1000 on PBX `pbx` (an Originate through that PBX's link)."""
        return await self.caller(name, number, patience_s, talk_s, on="" if pbx == NAMES[0] else f"{pbx}:")


@asynccontextmanager
async def two_pbx_rig(
    store: SqlStore,
    agents: list[User],
    *,
    speed: float = 10.0,
    routing: dict[str, Any] | None = None,
    bus: Bus | None = None,
    cross_pbx: str = "trunk",
    epoch: float | None = None,
    ivr: dict[str, Any] | None = None,
    standing_lines: str = "off",
) -> AsyncIterator[TwoPbxRig]:
    """Two emulators (same `epoch`: identical Uniqueids) linked by a trunk, and the
    live loop on both. With `ivr` (an `[ivr]` table), each emulator's AGI() reaches
    its own PBX's FastAGI IVR in Hotline."""
    epoch = time.time() if epoch is None else epoch
    agi_ports = (free_port(), free_port()) if ivr else (0, 0)
    first, second = (
        PbxEmulator(
            "hotline",
            AMI_SECRET,
            speed=speed,
            epoch=epoch,
            agi_url=f"agi://127.0.0.1:{port}/ivr" if ivr else None,
        )
        for port in agi_ports
    )
    await first.start()
    await second.start()
    link(first.pbx, second.pbx, NAMES[0], NAMES[1])
    outage = TcpOutage("127.0.0.1", second.port)
    await outage.start()
    rig = TwoPbxRig(
        first,
        store,
        bus or MemoryBus(),
        standing_lines=standing_lines,
        ivr=ivr,
        other=second,
        cross_pbx=cross_pbx,
        outage=outage,
        agi_ports=agi_ports,
    )
    try:
        await rig.start_center(agents, routing or DEFAULT_ROUTING)
        yield rig
    finally:
        try:
            await rig.stop_center()
        finally:
            await outage.stop()
            await second.stop()
            await first.stop()
