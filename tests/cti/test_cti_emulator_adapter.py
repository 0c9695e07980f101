"""Reconnect mid-call against the PBX emulator (sim/pbx_emulator): the emulator drops
the AMI connection while a caller talks to an agent; the adapter marks its state
stale, reconnects, resyncs from CoreShowChannels + Status, never repeats the
Originate, and the call then ends normally from live events."""

from __future__ import annotations

import asyncio

import pytest
from test_cti_ami_socket import Sink, T, _until

from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx, PbxUnavailable, Target
from events import kind_of

emulator = pytest.importorskip("sim.pbx_emulator")


async def test_emulator_drops_the_connection_mid_call() -> None:
    emu = emulator.PbxEmulator("hotline", "hotline-secret", speed=10.0)
    await emu.start("127.0.0.1", 0)
    sink = Sink()
    settings = AmiSettings(
        "127.0.0.1",
        emu.port,
        "hotline",
        "hotline-secret",
        ping_interval_s=60.0,
        reconnect_min_s=0.02,
        reconnect_max_s=0.2,
        action_timeout_s=2.0,
    )
    client = AmiClient(settings, CallModel(), on_events=sink)
    await client.start()
    try:
        await client.wait_ready(T)
        pbx = AmiPbx(client)
        queued = await asyncio.wait_for(
            pbx.originate(
                "Local/1000@inbound",
                context="caller-phone",
                exten="wait",
                caller_id='"Alice" <5551234>',
                variables={"PATIENCE": "120", "__AGENT_TALK": "20"},
            ),
            T,
        )
        arrived = await sink.wait_for("CallArrived")
        await sink.wait_for("CallQueued")
        await asyncio.wait_for(pbx.redirect(arrived.channel, Target("agent-connect", "2001")), T)
        await sink.wait_for("CallConnected")
        connections = client.connections
        await asyncio.wait_for(emu.drop_connections(), T)
        await _until(lambda: client.stale)
        with pytest.raises(PbxUnavailable):
            await pbx.originate("Local/1000@inbound", context="caller-phone", exten="wait")
        await _until(lambda: client.connections > connections and not client.stale)
        view = client.model.call(arrived.call_id)
        assert view is not None and view.connected and view.agent == "2001"
        found = await asyncio.wait_for(pbx.find_originate(queued.originate_id), T)
        assert found and all(name.startswith("Local/1000@inbound-") for name in found)
        ended = await sink.wait_for("CallEnded")
        assert ended.call_id == arrived.call_id and ended.hung_up_by == "agent"
    finally:
        await asyncio.wait_for(client.close(), T)
        await asyncio.wait_for(emu.stop(), T)
    kinds = [kind_of(e) for e in sink.events]
    assert kinds == [
        "CallArrived",
        "OriginateResulted",
        "CallQueued",
        "CallOffered",
        "CallConnected",
        "CallEnded",
    ] or kinds == ["OriginateResulted", "CallArrived", "CallQueued", "CallOffered", "CallConnected", "CallEnded"]
    assert emu.ledger.summary()["created"] == 1


async def test_hold_and_resume_by_redirect() -> None:
    """hold = Redirect to the inbound MusicOnHold priority; resume = Redirect back to
    agent-connect (the agent's Dial leg ended, so the agent rings again)."""
    emu = emulator.PbxEmulator("hotline", "hotline-secret", speed=10.0)
    await emu.start("127.0.0.1", 0)
    sink = Sink()
    client = AmiClient(
        AmiSettings("127.0.0.1", emu.port, "hotline", "hotline-secret", ping_interval_s=60.0),
        CallModel(),
        on_events=sink,
    )
    await client.start()
    try:
        await client.wait_ready(T)
        pbx = AmiPbx(client)
        await pbx.originate(
            "Local/1000@inbound",
            context="caller-phone",
            exten="wait",
            variables={"PATIENCE": "600", "__AGENT_TALK": "60"},
        )
        arrived = await sink.wait_for("CallArrived")
        await sink.wait_for("CallQueued")
        await pbx.redirect(arrived.channel, Target("agent-connect", "2001"))
        await sink.wait_for("CallConnected")
        await pbx.hold(arrived.channel)
        held = await sink.wait_for("CallHeld")
        assert held.agent_id == "2001"
        assert (await pbx.getvar(arrived.channel, "HOLD_SECS")).value == "3600"
        await pbx.resume(arrived.channel, "2001")
        await sink.wait_for("CallConnected", 2)
        await pbx.hangup(arrived.channel)
        await sink.wait_for("CallEnded")
    finally:
        await asyncio.wait_for(client.close(), T)
        await asyncio.wait_for(emu.stop(), T)
    assert [kind_of(e) for e in sink.events if kind_of(e) != "OriginateResulted"] == [
        "CallArrived",
        "CallQueued",
        "CallOffered",
        "CallConnected",
        "CallHeld",
        "CallResumed",
        "CallOffered",
        "CallConnected",
        "CallEnded",
    ]
