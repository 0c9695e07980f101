"""Call recording in the live loop: MixMonitor on the customer's channel when the
customer is first bridged with an agent (mixmonitor-recording.ami), by the queue's or
campaign's policy (config/recording.py), or when the agent asks (`record`).

One recording per interaction: MixMonitor stays on the customer's channel across
transfers (a new agent is a new bridge, the same channel), so a call is started once;
a process that starts while a call is recorded adopts the open row (no second
MixMonitor) when it sees the call connected.
The agent pauses and resumes it (`MixMonitorMute` both directions: the file keeps its
length, silent meanwhile). Each recording is a row (`store.port.Recordings`) linked to
the call id, the agent who took it and the queue; its file is `<dir>/<day>/<call>.wav`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import structlog

from config.recording import RecordingConfig, records
from cti.call_control import CommandRefused
from store.models import Recording
from store.port import NotFound

if TYPE_CHECKING:
    from cti.live import LiveCenter
    from cti.live_calls import CallState
    from store.port import Recordings

log = structlog.get_logger()


@dataclass(slots=True)
class Active:
    row: Recording
    channel: str
    paused: bool = False


class Recorder:
    def __init__(self, center: LiveCenter, config: RecordingConfig, store: Recordings | None) -> None:
        self.center = center
        self.config = config
        self.store = store
        self.active: dict[str, Active] = {}  # call id -> its recording
        self._decided: set[str] = set()  # calls whose policy was applied (at their first connection)

    def policy(self, state: CallState) -> str:
        return self.config.policy(state.queue, str(state.attributes.get("campaign", "")))

    async def on_connected(self, state: CallState, now: float) -> None:
        """The customer is bridged with an agent: record by policy, once per call."""
        if state.call_id in self._decided:
            return
        self._decided.add(state.call_id)
        # Only a call already in the log when this process took over (restart recovery,
        # a standby's takeover) can have a recording of an earlier process to adopt: a
        # call first seen here needs no read of the store.
        kept = await self._kept(state.call_id) if state.logged else None
        if kept is not None:  # recorded before this process started: the PBX still is
            channel = state.channel or self.center.channel_fallback(state.call_id)
            self.active[state.call_id] = Active(kept, channel)
            log.info("recording_adopted", call_id=state.call_id, path=kept.path)
        elif records(self.policy(state), state.call_id):
            await self.start(state, now)

    async def start(self, state: CallState, now: float) -> None:
        if state.call_id in self.active:
            raise CommandRefused(f"call {state.call_id!r} is being recorded already")
        channel = state.channel or self.center.channel_fallback(state.call_id)
        if not channel:
            raise CommandRefused(f"call {state.call_id!r}: the customer's channel is not known yet; try again")
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        path = self.config.dir.resolve() / day / f"{_safe(state.call_id)}.wav"
        await self.center.pbx.record(channel, str(path))
        row = Recording(state.call_id, str(path), state.agent, state.queue, now)
        self.active[state.call_id] = Active(row, channel)
        await self._keep(row)
        log.info("recording_started", call_id=state.call_id, path=str(path), policy=self.policy(state))

    async def record(self, state: CallState, now: float) -> None:
        """The agent's `record`: only where the policy leaves it to them."""
        policy = self.policy(state)
        if policy == "never":
            raise CommandRefused(f"record: calls of {state.queue or 'this queue'!r} are never recorded")
        await self.start(state, now)

    async def pause(self, state: CallState, paused: bool) -> None:
        active = self.active.get(state.call_id)
        if active is None:
            raise CommandRefused(f"call {state.call_id!r} is not being recorded")
        if active.paused == paused:
            raise CommandRefused(f"the recording of {state.call_id!r} is {'paused' if paused else 'running'} already")
        await self.center.pbx.mute_recording(active.channel, paused)
        active.paused = paused

    async def on_ended(self, call_id: str, now: float) -> None:
        """The call is over: so is its recording (the PBX finished the file)."""
        self._decided.discard(call_id)
        active = self.active.pop(call_id, None)
        if active is not None:
            await self._keep(replace(active.row, ended_at=now))

    async def _kept(self, call_id: str) -> Recording | None:
        """The call's recording row of an earlier process, if one is open."""
        if self.store is None:
            return None
        try:
            row = await self.store.get_recording(call_id)
        except NotFound:
            return None
        except Exception as exc:  # noqa: BLE001 - the store is away: decide by policy
            log.warning("recording_row_unreadable", call_id=call_id, error=type(exc).__name__)
            return None
        return row if row.ended_at is None else None

    async def _keep(self, row: Recording) -> None:
        if self.store is None:
            return
        try:
            await self.store.put_recording(row)
        except Exception as exc:  # noqa: BLE001 - the file is there; the log line keeps the link
            log.error("recording_not_kept", call_id=row.call_id, path=row.path, error=type(exc).__name__)


def _safe(call_id: str) -> str:
    """A call id as a file name (Asterisk's are `<epoch>.<n>`; a call-back's `cb-...`)."""
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in call_id) or "call"
