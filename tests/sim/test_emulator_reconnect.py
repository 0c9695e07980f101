"""Issue 3 "done when": Hotline's real AMI adapter against the emulator over a
socket; the emulator drops the AMI connection mid-call, the call goes on, the
adapter resyncs from CoreShowChannels/Status and no Originate is sent twice."""

from __future__ import annotations

import asyncio

from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx, Target
from events import Event, kind_of
from sim.pbx_emulator import PbxEmulator

T = 5.0


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.stale: list[bool] = []
        self._changed = asyncio.Event()

    def __call__(self, events: list[Event]) -> None:
        self.events.extend(events)
        self._changed.set()

    def on_stale(self, stale: bool) -> None:
        self.stale.append(stale)
        self._changed.set()

    async def wait(self, pred) -> None:  # type: ignore[no-untyped-def]
        async def _wait() -> None:
            while not pred():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(_wait(), T)

    def kinds(self) -> list[str]:
        return [kind_of(e) for e in self.events]


async def test_drop_mid_call_resyncs_and_never_repeats_the_originate() -> None:
    emu = PbxEmulator("hotline", "hotline-secret", speed=10.0)
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
    client = AmiClient(settings, CallModel(), on_events=sink, on_stale=sink.on_stale)
    pbx = AmiPbx(client)
    try:
        await client.start()
        await client.wait_ready(T)
        queued = await asyncio.wait_for(
            pbx.originate(
                "Local/1000@inbound",
                context="caller-phone",
                exten="wait",
                caller_id='"Alice" <5551234>',
                variables={"PATIENCE": "120", "__AGENT_TALK": "4"},
            ),
            T,
        )
        await sink.wait(lambda: "CallQueued" in sink.kinds())
        arrived = next(e for e in sink.events if kind_of(e) == "CallArrived")
        await asyncio.wait_for(pbx.redirect(arrived.channel, Target("agent-connect", "2001")), T)  # type: ignore[attr-defined]
        await sink.wait(lambda: "CallConnected" in sink.kinds())
        before = len(sink.events)

        await emu.drop_connections()
        await sink.wait(lambda: True in sink.stale)
        await client.wait_ready(T)
        assert not client.stale and client.connections == 2 and client.resyncs == 2
        # the call survived as it was (the resync added no call events), and the
        # originate is found by its id instead of being sent again
        assert "CallArrived" not in [kind_of(e) for e in sink.events[before:]]
        assert "CallEnded" not in sink.kinds()
        assert await asyncio.wait_for(pbx.find_originate(queued.originate_id), T)
        # the agent hangs up after AGENT_TALK: the adapter, reconnected, sees the end
        await sink.wait(lambda: "CallEnded" in sink.kinds())
        assert sink.kinds().count("CallArrived") == 1 and sink.kinds().count("CallEnded") == 1
    finally:
        await asyncio.wait_for(client.close(), T)
        await asyncio.wait_for(emu.stop(), T)
    assert emu.ledger.summary()["created"] == 1  # exactly one Originate reached the PBX
    [call] = emu.ledger.calls.values()
    assert call.connected_at is not None and call.ended_at is not None
