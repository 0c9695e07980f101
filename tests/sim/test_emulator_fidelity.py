"""Issue 3 item 6: replaying each recorded Local-channel flow's actions against the
emulator gives, per channel, the same significant events as the real Asterisk."""

from __future__ import annotations

import asyncio
import re

import pytest

from cti.ami_codec import encode, messages
from sim.pbx_emulator.fidelity import diff, significant_events
from sim.pbx_emulator.replay import LOCAL_FLOWS, run_flow, trace_path

SPEED = 25.0


@pytest.mark.parametrize("flow", LOCAL_FLOWS)
async def test_emulator_matches_the_recorded_flow(flow: str) -> None:
    emulated = await asyncio.wait_for(run_flow(flow, speed=SPEED), timeout=30)
    expected = significant_events(trace_path(flow, ".ami").read_bytes())
    actual = significant_events(emulated)
    assert expected, "the recording has no significant events: wrong trace path?"
    problems = diff(expected, actual)
    assert not problems, "\n".join(problems)
    # the wire form starts and ends like Asterisk's
    assert emulated.startswith(b"Asterisk Call Manager/9.0.0\r\nResponse: Success\r\n")
    assert emulated.endswith(b"Response: Goodbye\r\n" + emulated.split(b"Response: Goodbye\r\n")[-1])


async def test_status_coreshowchannels_and_getvar_answer_byte_for_byte() -> None:
    """status-null-vars.ami: the answers to Status (with `Variable: NAME=(null)` for an
    unset variable), CoreShowChannels and Getvar are the recorded bytes, but for the
    Uniqueids (the clock) and the channels' ages."""
    emulated = await asyncio.wait_for(run_flow("status-null-vars", speed=SPEED), timeout=30)
    recorded = trace_path("status-null-vars", ".ami").read_bytes()

    def answers(data: bytes) -> list[bytes]:
        out = []
        for m in messages(data):
            if m.get("ActionID").split("-")[-1] in ("03", "04", "05", "06", "07", "08") and (
                not m.event or "Timestamp" not in m
            ):
                block = encode(m.headers)
                block = re.sub(rb"\b1\d{9}\.(\d+)", rb"UID.\1", block)
                out.append(re.sub(rb"(Seconds|Duration): [0-9:]+", rb"\1: AGE", block))
        return out

    expected = answers(recorded)
    assert len(expected) == 14 and b"Variable: CC_CAMPAIGN=(null)\r\n" in b"".join(expected)
    assert answers(emulated) == expected


def test_the_comparison_notices_a_difference() -> None:
    recorded = trace_path("outbound-busy", ".ami").read_bytes()
    changed = recorded.replace(b"Cause: 17\r\n", b"Cause: 16\r\n")
    problems = diff(significant_events(recorded), significant_events(changed))
    assert problems and "Cause=17" in problems[0]


def test_channel_names_are_canonical_by_order_of_appearance() -> None:
    events = significant_events(trace_path("blind-transfer", ".ami").read_bytes())
    assert {
        "Local/1000@inbound-#0;1",
        "Local/1000@inbound-#0;2",
        "Local/2001@agents-#1;1",
        "Local/2002@agents-#2;2",
    } <= set(events)


async def test_emulated_events_use_asterisk_header_names_and_order() -> None:
    emulated = await asyncio.wait_for(run_flow("inbound-answered", speed=SPEED), timeout=30)
    recorded = trace_path("inbound-answered", ".ami").read_bytes()

    def shapes(data: bytes) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for m in messages(data):
            if m.event and not m.event.startswith(("Cdr", "DeviceState", "OriginateResponse")):
                out.setdefault(m.event, tuple(k for k, _ in m.headers))
        return out

    rec, emu = shapes(recorded), shapes(emulated)
    for name in (
        "Newchannel",
        "Newstate",
        "DialBegin",
        "DialState",
        "DialEnd",
        "BridgeCreate",
        "BridgeEnter",
        "BridgeLeave",
        "BridgeDestroy",
        "MusicOnHoldStart",
        "MusicOnHoldStop",
        "Hangup",
        "HangupRequest",
        "LocalBridge",
        "Newexten",
        "VarSet",
        "NewCallerid",
        "SuccessfulAuth",
        "FullyBooted",
    ):
        assert emu.get(name) == rec[name], name
