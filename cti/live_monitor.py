"""Supervisors listening to, coaching (whisper) and joining (barge) agents' calls.

The supervisor's own phone is originated into `ChanSpy(<agent leg>,<options>)`, as the
recorded chanspy-*.ami traces do: `qE` listen, `qEw` whisper, `qEB` barge (`q` quiet,
`E` end when the spied channel ends). The spied channel is the agent's leg in the
caller's bridge (the `;1` half of `Local/2001@agents`), or the agent's standing line
(its leg in the conference) when the agent is on one.

Asterisk reports no mode, and ChanSpy outlives the supervisor's phone: when a `Local`
phone hangs up, the `;1` half running ChanSpy stays until the spied leg leaves its bridge
(a surprise of the traces). So stopping hangs up the channel that runs ChanSpy (the
`OriginateResponse` channel), and a mode switch is a stop and a new originate (the
supervisor's phone rings again). A standing line outlives the call, so the spy is hung
up when the call ends. One monitoring per supervisor; each start and end is logged
(`MonitorStarted` / `MonitorEnded`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from agents.commands import Monitor, StopMonitor
from cti.call_control import CommandRefused
from cti.pbx import PbxError
from events import CallEnded, MonitorEnded, MonitorStarted, OriginateResulted

if TYPE_CHECKING:
    from cti.ami_codec import Message
    from cti.live import LiveCenter

log = structlog.get_logger()

CHANSPY_OPTIONS = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}


@dataclass(slots=True)
class Monitoring:
    supervisor: str
    agent_id: str
    call_id: str
    mode: str
    originate_id: str
    on_line: bool = False  # spying on a standing line (it outlives the call)
    channel: str = ""  # the channel running ChanSpy, once the supervisor answered


class Monitors:
    """The live loop's monitorings, by supervisor (runs inside the consumer)."""

    def __init__(self, center: LiveCenter) -> None:
        self.center = center
        self.by_supervisor: dict[str, Monitoring] = {}
        self._by_originate: dict[str, str] = {}  # originate id -> supervisor

    def spied_leg(self, agent_id: str) -> tuple[str, str, bool]:
        """(call id, the channel to spy on, whether it is a standing line) of the
        agent's connected call."""
        c = self.center
        state = next((s for s in c.calls.values() if s.agent == agent_id), None)
        if state is None:
            raise CommandRefused(f"agent {agent_id!r} is not on a call")
        line = c.lines.channel(agent_id) if c.on_line(agent_id) and c.lines is not None else ""
        leg = line or state.agent_channels.get(agent_id, "")
        if not leg:
            raise CommandRefused(f"call {state.call_id!r}: the agent's leg is not known yet; try again")
        if c.sites is not None and not c.sites.on_first(c.sites.names.pbx_of(leg)):
            # (the supervisor's phone rings on the first PBX, and ChanSpy spies on its own PBX's channels)
            raise CommandRefused(
                f"call {state.call_id!r} is on PBX {c.sites.names.pbx_of(leg)!r}: "
                f"supervisors listen to the calls of PBX {c.sites.names.first!r} only"
            )
        return state.call_id, leg, bool(line)

    async def start(self, agent_id: str, command: Monitor, now: float) -> None:
        if not command.supervisor or not command.phone:
            raise CommandRefused("monitor: the supervisor and their phone are set by the server")
        if command.supervisor == agent_id:
            raise CommandRefused("monitor: an agent cannot monitor their own call")
        call_id, leg, on_line = self.spied_leg(agent_id)
        current = self.by_supervisor.get(command.supervisor)
        if current is not None:
            if (current.agent_id, current.call_id, current.mode) == (agent_id, call_id, command.mode):
                return  # already so: nothing to do
            if not current.channel:
                raise CommandRefused("monitor: your phone is still ringing for the last monitoring; try again")
            await self._end(current, "switched", now, hang_up=True)
        originate_id = uuid.uuid4().hex
        data = f"{leg},{CHANSPY_OPTIONS[command.mode]}"
        m = Monitoring(command.supervisor, agent_id, call_id, command.mode, originate_id, on_line)
        self.by_supervisor[m.supervisor] = m
        self._by_originate[originate_id] = m.supervisor
        try:
            await self.center.pbx.originate(
                command.phone,
                application="ChanSpy",
                data=data,
                caller_id=f'"Monitor {agent_id}" <{agent_id}>',
                originate_id=originate_id,
            )
        except PbxError:
            self._forget(m)
            self._by_originate.pop(originate_id, None)
            raise
        log.info("monitor_dialled", supervisor=m.supervisor, agent_id=agent_id, call_id=call_id, mode=m.mode)

    async def stop(self, agent_id: str, command: StopMonitor, now: float) -> None:
        m = self.by_supervisor.get(command.supervisor)
        if m is None or m.agent_id != agent_id:
            raise CommandRefused(f"{command.supervisor!r} is not monitoring {agent_id!r}")
        await self._end(m, "stopped", now, hang_up=True)

    # ---------------------------------------------------------------- what the PBX reports

    async def on_originate(self, event: OriginateResulted) -> bool:
        """The supervisor's phone answered (monitoring starts) or not; False: not ours."""
        supervisor = self._by_originate.pop(event.originate_id, None)
        if supervisor is None:
            return False
        m = self.by_supervisor.get(supervisor)
        if m is None or m.originate_id != event.originate_id:
            if event.success and event.channel:  # stopped while it rang: hang it up now
                await self.center.pbx_action(self.center.pbx.hangup(event.channel), "monitor_hangup", "")
            return True
        now = self.center.now(event.at)
        if not event.success or not event.channel:
            await self._end(m, "not_answered", now, hang_up=False, started=False)
            return True
        m.channel = event.channel
        started = MonitorStarted(at=now, call_id=m.call_id, agent_id=m.agent_id, supervisor=m.supervisor, mode=m.mode)
        await self.center.record(started)
        return True

    async def on_hangup(self, message: Message) -> None:
        """The channel running ChanSpy hung up (the call ended, or the phone did)."""
        channel = message.get("Channel")
        for m in list(self.by_supervisor.values()):
            if m.channel and m.channel == channel:
                await self._end(m, "call_ended", self.center.now(), hang_up=False)

    async def on_call_ended(self, event: CallEnded) -> None:
        """The call ended: ChanSpy ends with the agent's leg, but a standing line
        outlives its call, so a spy on one is hung up here."""
        for m in [m for m in self.by_supervisor.values() if m.call_id == event.call_id]:
            await self._end(m, "call_ended", self.center.now(event.at), hang_up=m.on_line)

    # ---------------------------------------------------------------- internals

    async def _end(self, m: Monitoring, reason: str, now: float, *, hang_up: bool, started: bool = True) -> None:
        self._forget(m)
        if hang_up and m.channel:
            await self.center.pbx_action(self.center.pbx.hangup(m.channel, 16), "monitor_hangup", m.call_id)
        if started and m.channel:
            ended = MonitorEnded(at=now, call_id=m.call_id, agent_id=m.agent_id, supervisor=m.supervisor, reason=reason)
            await self.center.record(ended)
        elif reason == "not_answered":
            log.info("monitor_not_answered", supervisor=m.supervisor, agent_id=m.agent_id, call_id=m.call_id)

    def _forget(self, m: Monitoring) -> None:
        """Off the table; a phone still ringing for it stays known by its originate id
        (`on_originate` hangs it up when it answers)."""
        if self.by_supervisor.get(m.supervisor) is m:
            del self.by_supervisor[m.supervisor]
        if m.channel:
            self._by_originate.pop(m.originate_id, None)

    def view(self, agent_id: str) -> list[dict[str, str]]:
        """Who monitors the agent now, and how (for the desktops and wallboards)."""
        return [
            {"supervisor": m.supervisor, "mode": m.mode, "call_id": m.call_id}
            for m in self.by_supervisor.values()
            if m.agent_id == agent_id and m.channel
        ]
