"""The emulator's Dial() bridges an answered leg in the same step as its DialEnd, as
Asterisk's app_dial does (inbound-answered.ami: DialEnd, BridgeCreate, BridgeEnter within
0.1 ms): a caller who hangs up right after the answer was connected first. (With a gap,
a loaded test machine let hang-ups in between: the ledger said "not connected" for a
call Asterisk would have connected, and the log, which read the answer, disagreed.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sim.pbx_emulator import PbxEmulator


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_a_caller_hanging_up_just_after_the_agent_answers_was_connected() -> None:
    emu = PbxEmulator("hotline", "secret", speed=20.0)
    await emu.start()
    try:
        p = emu.pbx
        seen: list[str] = []
        await p.originate(
            "Local/1000@inbound",
            "a1",
            context="caller-phone",
            exten="wait",
            variables=[("PATIENCE", "600"), ("__AGENT_TALK", "600"), ("__AGENT_RING", "0.5")],
        )
        await _until(lambda: any(ch.name.endswith(";2") and ch.moh for ch in p.channels.values()))
        two = next(ch for ch in p.channels.values() if ch.name.endswith(";2"))
        phone = two.partner
        assert phone is not None

        def sink(data: bytes) -> None:
            text = data.decode()
            seen.append(text.split("\r\n", 1)[0])
            if "Event: DialEnd" in text and "DialStatus: ANSWER" in text:
                # the caller's hang-up is the very next thing the PBX does
                p.loop.call_soon(p.hangup, phone, 16)

        p.sinks.append(sink)
        p.redirect(two, "agent-connect", "2001")
        record = p.ledger.calls[two.linkedid]
        await _until(lambda: record.ended_at is not None)
        answer = seen.index("Event: DialEnd", seen.index("Event: DialBegin"))
        assert seen[answer + 1 : answer + 3] == ["Event: BridgeCreate", "Event: BridgeEnter"]
        assert record.connected_at is not None
    finally:
        await emu.stop()
