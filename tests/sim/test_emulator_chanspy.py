"""ChanSpy on the emulator as chanspy-*.ami recorded it: the supervisor's phone (`;2`)
hanging up does not end ChanSpy; `ChanSpyStop` follows the spied leg's `BridgeLeave`
and the spyer's `;1` hangs up only after the spied leg (the fidelity check compares
per channel; this pins the order across channels that makes the surprise)."""

from __future__ import annotations

import asyncio

import pytest

from cti.ami_codec import messages
from sim.pbx_emulator.replay import run_flow, trace_path


def order(stream: bytes) -> list[str]:
    """The cross-channel milestones of a ChanSpy flow, in stream order."""
    out = []
    for m in messages(stream):
        chan = m.get("Channel")
        if m.event == "Hangup" and chan.startswith(("Local/2090@agents", "Local/2001@agents")):
            out.append(f"Hangup {chan.split('@')[0]}{chan[-2:]}")
        elif m.event == "BridgeLeave" and chan.startswith("Local/2001@agents") and chan.endswith(";1"):
            out.append("BridgeLeave agent;1")
        elif m.event in ("ChanSpyStart", "ChanSpyStop"):
            out.append(m.event)
    return out


def check(milestones: list[str]) -> None:
    """What real Asterisk always did (the agent's ;2 Hangup and its ;1 BridgeLeave come
    in either order between runs: chanspy-listen vs chanspy-whisper)."""

    def at(name: str) -> int:
        return milestones.index(name)

    assert sorted(milestones) == sorted(MILESTONES), milestones
    assert at("ChanSpyStart") < at("Hangup Local/2090;2") < at("ChanSpyStop"), milestones  # the phone went first
    assert at("ChanSpyStop") == at("BridgeLeave agent;1") + 1, milestones  # ChanSpy ends with the spied leg
    assert milestones[-1] == "Hangup Local/2090;1", milestones  # and its ;1 after the agent's


MILESTONES = [
    "ChanSpyStart",
    "Hangup Local/2090;2",
    "BridgeLeave agent;1",
    "ChanSpyStop",
    "Hangup Local/2001;2",
    "Hangup Local/2001;1",
    "Hangup Local/2090;1",
]


@pytest.mark.parametrize("flow", ["chanspy-listen", "chanspy-whisper", "chanspy-barge"])
async def test_chanspy_outlives_the_supervisor_phone_as_recorded(flow: str) -> None:
    check(order(trace_path(flow, ".ami").read_bytes()))
    check(order(await asyncio.wait_for(run_flow(flow, speed=25.0), timeout=30)))
