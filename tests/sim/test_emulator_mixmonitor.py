"""MixMonitor on the emulator (issue 17 item 3): the actions of mixmonitor-recording.ami
over real AMI, and the real WAV file it leaves: a header from the start, then the
tone for the time recorded, silent while muted."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx, PbxError, Target
from sim.pbx_emulator.server import PbxEmulator

SPEED = 4.0


async def test_mixmonitor_writes_a_wav_with_the_muted_part_silent(tmp_path: Path) -> None:
    emu = PbxEmulator("hotline", "s", speed=SPEED)
    await emu.start("127.0.0.1", 0)
    client = AmiClient(AmiSettings("127.0.0.1", emu.port, "hotline", "s"), CallModel())
    await client.start()
    try:
        await client.wait_ready(10)
        pbx = AmiPbx(client)
        await pbx.originate(
            "Local/1000@inbound",
            context="caller-phone",
            exten="wait",
            caller_id='"Alice" <5551234>',
            variables={"PATIENCE": "120", "__AGENT_TALK": "60"},
        )

        async def caller() -> str:
            while True:
                found = [n for n, c in emu.pbx.channels.items() if n.startswith("Local/1000@inbound") and c.moh]
                if found:
                    return found[0]
                await asyncio.sleep(0.02)

        channel = await asyncio.wait_for(caller(), 10)
        await pbx.redirect(channel, Target("agent-connect", "2001", 1))
        while emu.pbx.channels[channel].bridge is None:
            await asyncio.sleep(0.02)

        path = tmp_path / "rec" / "call.wav"
        await pbx.record(channel, str(path))
        assert path.stat().st_size == 44  # a WAV header only, as the recorded Asterisk left it
        assert emu.pbx.channels[channel].vars["MIXMONITOR_FILENAME"] == str(path)
        await asyncio.sleep(1 / SPEED)  # 1 s of tone
        await pbx.mute_recording(channel, True)
        await asyncio.sleep(4 / SPEED)  # 4 s muted: silence
        await pbx.mute_recording(channel, False)
        await asyncio.sleep(1 / SPEED)
        await pbx.stop_recording(channel)
        try:
            await pbx.stop_recording(channel)
            raise AssertionError("a second StopMixMonitor was accepted")
        except PbxError:
            pass

        with wave.open(str(path)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
            seconds = wav.getnframes() / 8000
            frames = wav.readframes(wav.getnframes())
        assert 5.5 <= seconds <= 8, seconds

        def loud(at: float) -> bool:
            chunk = frames[int(at * 8000) * 2 : int((at + 0.1) * 8000) * 2]
            return any(chunk)

        assert loud(0.3) and not loud(2.5) and not loud(4.0) and loud(seconds - 0.3)
    finally:
        await client.close()
        await emu.stop()
