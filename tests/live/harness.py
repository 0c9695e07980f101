"""The live rig (sim/rig.py) on a fresh SQLite store, with three test agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from config.schema import StoreConfig
from sim.rig import Rig, live_rig
from store import open_store
from store.bus import Bus
from store.models import User

AGENTS = [
    User(login="alice", display_name="Alice", skills={"billing": 8}, phone_endpoint="Local/2001@agents"),
    User(login="bob", display_name="Bob", skills={"billing": 4, "support": 6}, phone_endpoint="Local/2002@agents"),
    User(login="nora", display_name="Nora (never answers)", skills={"billing": 9}, phone_endpoint="Local/2099@agents"),
]


@asynccontextmanager
async def live_center(
    tmp_path: Path,
    *,
    speed: float = 10.0,
    routing: dict | None = None,
    agents: list[User] = AGENTS,
    bus: Bus | None = None,
    ivr: dict | None = None,
    standing_lines: str = "off",
    pbx_extra: dict | None = None,
    store_url: str | None = None,
) -> AsyncIterator[Rig]:
    """`store_url`: another store (a PostgreSQL database of the test's own), else SQLite."""
    store = await open_store(StoreConfig(url=store_url or f"sqlite:///{tmp_path}/live.sqlite3"))
    await store.migrate()
    try:
        async with live_rig(
            store,
            agents,
            speed=speed,
            routing=routing,
            bus=bus,
            ivr=ivr,
            standing_lines=standing_lines,
            pbx_extra=pbx_extra,
        ) as rig:
            yield rig
    finally:
        await store.close()


def example_ivr() -> dict:
    """config/examples/ivr.toml's [ivr] table, open every day (no hours, no holidays)."""
    import tomllib

    ivr = tomllib.loads((Path(__file__).parents[2] / "config/examples/ivr.toml").read_text())["ivr"]
    ivr.pop("hours")
    ivr["holidays"] = []
    return ivr


async def ivr_caller(h: Rig, digits: str, on: str = "") -> None:
    """Ivy (5557777) calls the IVR number (1500), keys `digits`, waits up to 60 s, talks 2 s
    (on the PBX scoped by `on`, e.g. "b:": sim/rig_pbxs.py)."""
    await h.pbx.originate(
        f"{on}Local/1500@inbound",
        context="caller-phone",
        exten="dtmf",
        caller_id='"Ivy" <5557777>',
        variables={"DTMF_DIGITS": digits, "DTMF_DELAY": "1", "PATIENCE": "60", "__AGENT_TALK": "2"},
    )
