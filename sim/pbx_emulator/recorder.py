"""MixMonitor on the emulator: each recording is a real WAV file (8 kHz, 16-bit mono).

As mixmonitor-recording.ami shows, the file exists from the start (a 44-byte WAV
header: the recorded Local channels carried no audio); here it is finished when the
recording stops (StopMixMonitor, or the channel's hang-up, which sends no event) with
a quiet 440 Hz tone for the time recorded and silence while muted (`MixMonitorMute`),
so a test can hear (read) both. The file is written where Asterisk was told, if it can
be: a path the emulator cannot write (the trace's /var/spool/...) is only logged.
"""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger()

RATE = 8000
AMPLITUDE = 2000  # of 32767: quiet
_ONE_SECOND = b"".join(struct.pack("<h", int(AMPLITUDE * math.sin(2 * math.pi * 440 * n / RATE))) for n in range(RATE))


@dataclass
class Recording:
    path: Path
    started_at: float
    muted_since: float | None = None
    silent: list[tuple[float, float]] = field(default_factory=list)  # muted spans, seconds into the file

    def start(self) -> None:
        _write(self.path, b"")

    def mute(self, on: bool, now: float) -> None:
        if on and self.muted_since is None:
            self.muted_since = now
        elif not on and self.muted_since is not None:
            self.silent.append((self.muted_since - self.started_at, now - self.started_at))
            self.muted_since = None

    def finish(self, now: float) -> None:
        self.mute(False, now)
        _write(self.path, tone(now - self.started_at, self.silent))


def tone(seconds: float, silent: list[tuple[float, float]] = ()) -> bytes:  # type: ignore[assignment]
    """16-bit samples: the tone, with silence over the `silent` spans."""
    count = max(0, int(seconds * RATE))
    data = bytearray(_ONE_SECOND * (count // RATE + 1))[: count * 2]
    for begin, end in silent:
        a, b = max(0, int(begin * RATE)) * 2, min(count, int(end * RATE)) * 2
        if b > a:
            data[a:b] = bytes(b - a)
    return bytes(data)


def _write(path: Path, frames: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(frames)
    except OSError as exc:
        log.warning("emulator_recording_not_written", path=str(path), error=str(exc))
