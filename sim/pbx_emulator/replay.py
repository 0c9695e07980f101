"""Replay a recorded flow's `.actions` against the emulator over a real socket.

`await run_flow("inbound-answered", speed=20)` starts an emulator (and, for the
FastAGI flow, an AGI server running the recorded IVR logic), sends each recorded
action at its recorded time divided by `speed`, rewriting channel names from the
recording to the emulator's (Local instances matched by order of appearance),
and returns every byte the emulator sent on that AMI socket, banner to Goodbye.
Compare with the recorded `.ami` using `sim.pbx_emulator.fidelity`.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path

from config.paths import ami_traces_dir
from cti.agi import AgiServer, AgiSession
from cti.ami_codec import AmiParser, Message, messages
from sim.pbx_emulator.fidelity import QUEUE_MEMBER_EVENTS, SIGNIFICANT, ChannelNamer
from sim.pbx_emulator.server import PbxEmulator

TRACES = ami_traces_dir()

LOCAL_FLOWS = (
    "status-responses",
    "inbound-answered",
    "inbound-answered-caller-hangup",
    "inbound-abandoned",
    "outbound-answered",
    "outbound-noanswer",
    "outbound-busy",
    "outbound-congestion",
    "blind-transfer",
    "blind-transfer-native",
    "attended-transfer",
    "app-queue",
    "fastagi-ivr",
    # December 2026 additions
    "status-null-vars",
    "chanspy-listen",
    "chanspy-whisper",
    "chanspy-barge",
    "mixmonitor-recording",
    "standing-line-confbridge",
    "attended-transfer-complete",
    "attended-transfer-noanswer",
    "queue-callback-hold",
)
_CHAN_RE = re.compile(r"Local/[^\s;@]+@[A-Za-z0-9_-]+-[0-9a-f]{8};[12]")
_INST_RE = re.compile(r"^(Local/[^;]*?)-([0-9a-f]{8});([12])$")


def trace_path(name: str, suffix: str) -> Path:
    return TRACES / f"{name}{suffix}"


async def recorded_ivr(session: AgiSession) -> None:
    """The IVR logic that produced fastagi-ivr.agi-sent (used by tests and replay)."""
    req = session.request
    await session.answer()
    await session.verbose(f"Hotline IVR: call {req.uniqueid} from {req.args[0] if req.args else req.callerid}", 1)
    await session.get_variable("CC_CALLID")
    await session.get_full_variable("${CALLERID(name)} <${CALLERID(num)}>")
    await session.stream_file("hello-world")
    choice = await session.get_data("vm-enter-num-to-call", 6000, 1)
    await session.set_variable("IVR_CHOICE", int(choice) if choice.isdigit() else choice)
    await session.set_variable("CC_SKILL", "support")
    await session.say_digits(choice or "0")
    await session.channel_status()


@dataclass(frozen=True, slots=True)
class TimedAction:
    at: float  # seconds after connecting, as recorded
    after_events: int  # significant events received before it was sent
    message: Message


def is_significant(msg: Message) -> bool:
    return msg.event in SIGNIFICANT or msg.event in QUEUE_MEMBER_EVENTS


def recorded_actions(name: str) -> list[TimedAction]:
    """The flow's actions with the time each was sent (from `.timeline.jsonl`)
    and how many significant events had arrived by then (a CTI reacts to events:
    replaying by the clock alone would race the emulator at high speed)."""
    acts = list(messages(trace_path(name, ".actions").read_bytes(), expect_banner=False))
    sent: dict[str, tuple[float, int]] = {}
    parser = AmiParser()
    count = 0
    for line in trace_path(name, ".timeline.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["dir"] == "in":
            for item in parser.feed(rec["data"].encode("utf-8")):
                if isinstance(item, Message) and is_significant(item):
                    count += 1
            continue
        for aid in re.findall(r"ActionID: (\S+)", rec["data"]):
            sent.setdefault(aid, (rec["t"], count))
    out = []
    last = (0.0, 0)
    for msg in acts:
        last = sent.get(msg.get("ActionID"), last)
        out.append(TimedAction(last[0], last[1], msg))
    return out


class _NameMap:
    """Recorded Local instance -> emulator instance, by order of appearance."""

    def __init__(self, recorded: bytes) -> None:
        self.recorded_order: dict[str, int] = {}
        namer = ChannelNamer()
        for msg in messages(recorded):
            for k, v in msg.headers:
                if k.endswith("Channel") and v:
                    m = _INST_RE.match(v)
                    if m:
                        self.recorded_order.setdefault(m.group(1) + "-" + m.group(2), len(self.recorded_order))
                    namer(v)
        self.live: list[str] = []

    def see(self, msg: Message) -> None:
        for k, v in msg.headers:
            if k.endswith("Channel") and v:
                m = _INST_RE.match(v)
                if m:
                    key = m.group(1) + "-" + m.group(2)
                    if key not in self.live:
                        self.live.append(key)

    def translate(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            mm = _INST_RE.match(m.group(0))
            assert mm is not None
            idx = self.recorded_order.get(mm.group(1) + "-" + mm.group(2))
            if idx is None or idx >= len(self.live):
                return m.group(0)
            return f"{self.live[idx]};{mm.group(3)}"

        return _CHAN_RE.sub(sub, text)


async def run_flow(
    name: str, speed: float = 20.0, settle: float = 1.0, max_lag: float = 5.0, confbridge_order: str = "recorded"
) -> bytes:
    """Replay one Local-channel flow; return the emulator's AMI bytes."""
    recorded = trace_path(name, ".ami").read_bytes()
    names = _NameMap(recorded)
    agi: AgiServer | None = None
    agi_url = None
    if name == "fastagi-ivr":
        agi = AgiServer({"ivr": recorded_ivr})
        await agi.start("127.0.0.1", 0)
        agi_url = f"agi://127.0.0.1:{agi.port}"
    emu = PbxEmulator("hotline", "hotline-secret", agi_url=agi_url, speed=speed, confbridge_order=confbridge_order)
    await emu.start("127.0.0.1", 0)
    received = bytearray()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
        parser = AmiParser()
        goodbye = asyncio.Event()
        progress = asyncio.Condition()
        seen = 0

        async def pump() -> None:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                received.extend(data)
                nonlocal seen
                for item in parser.feed(data):
                    if isinstance(item, Message):
                        names.see(item)
                        if is_significant(item):
                            seen += 1
                        if item.response == "Goodbye":
                            goodbye.set()
                async with progress:
                    progress.notify_all()
            goodbye.set()
            async with progress:
                progress.notify_all()

        pump_task = asyncio.create_task(pump())
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        actions = recorded_actions(name)
        for act in actions:
            delay = t0 + act.at / speed - loop.time()
            if act.message.get("Action").lower() == "logoff":
                delay += settle / speed
            if delay > 0:
                await asyncio.sleep(delay)
            async with progress:

                def caught_up(after: int = act.after_events) -> bool:
                    return seen >= after or goodbye.is_set()

                try:
                    await asyncio.wait_for(progress.wait_for(caught_up), timeout=max_lag)
                except TimeoutError:
                    pass  # the emulator fell behind the recording: send anyway, the diff will show it
            headers = [(k, names.translate(v)) for k, v in act.message.headers]
            writer.write("".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n")
            await writer.drain()
        await asyncio.wait_for(goodbye.wait(), timeout=10)
        writer.close()
        await asyncio.wait_for(pump_task, timeout=5)
    finally:
        await emu.stop()
        if agi is not None:
            await agi.stop()
    return bytes(received)
