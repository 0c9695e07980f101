"""Agent commands in the live loop: one handler per command type of the contract
(agents/commands.py), run inside the consumer, in order with everything else.

What the PBX reports is what gets logged: a hold, a resume, a transfer to an agent is
logged by the call model when Asterisk's events show it (MusicOnHoldStart, the new
agent's Dial and bridge), never a second time here. Only what Asterisk cannot show is
logged here: a transfer to a queue or to an outside number (the agent's part of the
call ends; the call model sees no agent take it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from agents.commands import (
    AttendedTransfer,
    Available,
    BlindTransfer,
    CallKind,
    CancelTransfer,
    Command,
    CompleteTransfer,
    ForceLogout,
    ForcePause,
    Hangup,
    Hold,
    Login,
    Logout,
    ManualDial,
    Monitor,
    Pause,
    PauseRecording,
    PreviewDial,
    PreviewSkip,
    Record,
    Resume,
    ResumeRecording,
    StopMonitor,
    WrapUpDone,
    refusal,
)
from cti.pbx import Target
from events import (
    AgentForced,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallEnded,
    CallNotAnswered,
    CallQueued,
    CallTransferred,
    WrapUpEnded,
)

if TYPE_CHECKING:
    from cti.live import LiveCenter
    from cti.live_calls import CallState

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """A command for an agent, as it came off the bus (`request_id` keys the reply)."""

    agent_id: str
    command: Command
    request_id: str = ""


class CommandRefused(Exception):
    """The command cannot apply now; the message says why (sent back to the desktop)."""


def call_kind(state: CallState) -> CallKind:
    if state.attributes.get("preview"):
        return "preview"
    if state.attributes.get("callback"):
        return "callback"
    return "outbound" if state.direction == "outbound" else "inbound"


def phone_side(leg: str) -> str:
    """The agent's phone end of an agent leg: `Local/2001@agents-..;1` (the half bridged
    with the caller) -> its `;2` (the half that rang the phone); a SIP leg is the phone."""
    return leg[:-1] + "2" if leg.startswith("Local/") and leg.endswith(";1") else leg


Handler = Callable[[AgentRequest, float], Awaitable[None]]


class CallControl:
    """The live loop's dispatch table for agent commands (one handler per type)."""

    def __init__(self, center: LiveCenter) -> None:
        self.center = center
        self.handlers: dict[type[Command], Handler] = {
            Login: self._login,
            Available: self._available,
            Pause: self._pause,
            Logout: self._logout,
            Hold: self._hold,
            Resume: self._resume,
            Hangup: self._hangup,
            BlindTransfer: self._blind_transfer,
            AttendedTransfer: self._attended_transfer,
            CompleteTransfer: self._complete_transfer,
            CancelTransfer: self._cancel_transfer,
            PreviewDial: self._preview,
            PreviewSkip: self._preview,
            WrapUpDone: self._wrap_up_done,
            Record: self._record,
            PauseRecording: self._pause_recording,
            ResumeRecording: self._pause_recording,
            Monitor: self._monitor,
            StopMonitor: self._stop_monitor,
            ForcePause: self._force,
            ForceLogout: self._force,
            ManualDial: self._manual_dial,
        }

    async def handle(self, request: AgentRequest, now: float) -> None:
        """Apply the command; raises CommandRefused (or a PbxError) with the reason."""
        c = self.center
        if request.agent_id not in c.endpoints and not isinstance(request.command, Logout | ForceLogout):
            raise CommandRefused(f"agent {request.agent_id!r} has no phone endpoint configured")
        await self.handlers[type(request.command)](request, now)

    # ---------------------------------------------------------------- availability

    async def _ensure_logged_in(self, agent_id: str, now: float) -> None:
        if self.center.router.agent_state(agent_id) in (None, "logged_out"):
            await self.center.agent_event(AgentLoggedIn(at=now, agent_id=agent_id), now)

    async def _login(self, r: AgentRequest, now: float) -> None:
        await self.center.agent_event(AgentLoggedIn(at=now, agent_id=r.agent_id), now)

    async def _available(self, r: AgentRequest, now: float) -> None:
        await self._ensure_logged_in(r.agent_id, now)
        await self.center.agent_event(AgentStateChanged(at=now, agent_id=r.agent_id, state="available"), now)

    async def _pause(self, r: AgentRequest, now: float) -> None:
        assert isinstance(r.command, Pause)
        await self._ensure_logged_in(r.agent_id, now)
        event = AgentStateChanged(at=now, agent_id=r.agent_id, state="paused", reason=r.command.reason)
        await self.center.agent_event(event, now)

    async def _logout(self, r: AgentRequest, now: float) -> None:
        await self.center.agent_event(AgentLoggedOut(at=now, agent_id=r.agent_id), now)

    async def _wrap_up_done(self, r: AgentRequest, now: float) -> None:
        assert isinstance(r.command, WrapUpDone)
        cmd = r.command
        wrapping = self.center.router.wrapping_up(r.agent_id)
        if cmd.call_id not in wrapping:
            now_on = f"wrapping up {', '.join(map(repr, wrapping))}" if wrapping else "not in wrap-up"
            raise CommandRefused(f"agent {r.agent_id!r} is {now_on}, not call {cmd.call_id!r}")
        event = WrapUpEnded(
            at=now, call_id=cmd.call_id, agent_id=r.agent_id, disposition=cmd.disposition, notes=cmd.notes
        )
        await self.center.agent_event(event, now)

    async def _record(self, r: AgentRequest, now: float) -> None:
        await self.center.recorder.record(self._held_call(r), now)

    async def _pause_recording(self, r: AgentRequest, now: float) -> None:
        await self.center.recorder.pause(self._held_call(r), isinstance(r.command, PauseRecording))

    async def _monitor(self, r: AgentRequest, now: float) -> None:
        assert isinstance(r.command, Monitor)
        await self.center.monitors.start(r.agent_id, r.command, now)

    async def _stop_monitor(self, r: AgentRequest, now: float) -> None:
        assert isinstance(r.command, StopMonitor)
        await self.center.monitors.stop(r.agent_id, r.command, now)

    async def _force(self, r: AgentRequest, now: float) -> None:
        """A supervisor's force pause or logout: logged (who, what) just before the state
        change, which then goes the way the agent's own pause or logout goes."""
        assert isinstance(r.command, ForcePause | ForceLogout)
        cmd, what = r.command, "pause" if isinstance(r.command, ForcePause) else "logout"
        state = self.center.router.agent_state(r.agent_id)
        if state in (None, "logged_out"):
            raise CommandRefused(f"agent {r.agent_id!r} is not logged in")
        if state in ("reserved", "on_call"):
            shown = "being offered a call" if state == "reserved" else "on a call"
            raise CommandRefused(f"agent {r.agent_id!r} is {shown}: force the {what} when it ends")
        reason = cmd.reason if isinstance(cmd, ForcePause) else ""
        await self.center.record(
            AgentForced(at=now, agent_id=r.agent_id, supervisor=cmd.supervisor, action=what, reason=reason)
        )
        if isinstance(cmd, ForcePause):
            await self.center.agent_event(
                AgentStateChanged(at=now, agent_id=r.agent_id, state="paused", reason=reason), now
            )
        else:
            await self.center.agent_event(AgentLoggedOut(at=now, agent_id=r.agent_id), now)
        log.info("agent_forced", agent_id=r.agent_id, supervisor=cmd.supervisor, action=what, reason=reason)

    async def _manual_dial(self, r: AgentRequest, now: float) -> None:
        assert isinstance(r.command, ManualDial)
        await self.center.dials.manual_dial(r.agent_id, r.command, now)

    async def _preview(self, r: AgentRequest, now: float) -> None:
        assert isinstance(r.command, PreviewDial | PreviewSkip)
        await self.center.dials.preview_command(r.agent_id, r.command, now)

    # ---------------------------------------------------------------- call controls

    def _held_call(self, r: AgentRequest) -> CallState:
        """The call the command names, which must be the agent's, with a channel to act on."""
        call_id = getattr(r.command, "call_id", "")
        state = self.center.calls.get(call_id)
        if state is None or r.agent_id not in (state.agent, state.offered_to):
            raise CommandRefused(f"agent {r.agent_id!r} has no call {call_id!r}")
        if state.agent != r.agent_id:
            raise CommandRefused(f"call {call_id!r} is not connected to {r.agent_id!r} yet")
        why = refusal(r.command, call_kind(state), self.center.on_line(r.agent_id))
        if why:
            raise CommandRefused(why)
        state.channel = state.channel or self.center.channel_fallback(state.call_id)
        if not state.channel:
            raise CommandRefused(f"call {state.call_id!r}: the caller's channel is not known yet; try again")
        return state

    async def _hangup(self, r: AgentRequest, now: float) -> None:
        state = self._held_call(r)
        await self.center.pbx.hangup(state.channel, 16)

    async def _hold(self, r: AgentRequest, now: float) -> None:
        state = self._held_call(r)
        if state.consult_target:
            raise CommandRefused("the caller is already on hold during the consultation")
        await self.center.pbx.hold(state.channel)  # the call model logs CallHeld

    async def _resume(self, r: AgentRequest, now: float) -> None:
        state = self._held_call(r)
        if state.consult_target:
            raise CommandRefused("complete or cancel the attended transfer first")
        endpoint = self.center.endpoints[r.agent_id]
        await self.center.pbx.redirect(state.channel, self.center.connect_target(endpoint))  # logs CallResumed

    async def _blind_transfer(self, r: AgentRequest, now: float) -> None:
        assert isinstance(r.command, BlindTransfer)
        state = self._held_call(r)
        if state.consult_target:
            raise CommandRefused("complete or cancel the attended transfer first")
        kind, name = r.command.target_kind, r.command.target
        c = self.center
        if kind == "agent":
            target = c.endpoints.get(name)
            if target is None:
                raise CommandRefused(f"blind_transfer: unknown agent {name!r}")
            if name == r.agent_id:
                raise CommandRefused("blind_transfer: the call is already with you")
            # the call model logs CallTransferred when the PBX dials the new agent
            await c.pbx.redirect(state.channel, c.connect_target(target))
        elif kind == "queue":
            if name not in c.router.rules.queues:
                raise CommandRefused(f"blind_transfer: unknown queue {name!r}")
            await self._transfer_to_queue(state, r.agent_id, name, now)
        else:
            if not name.isdigit():
                raise CommandRefused(f"blind_transfer: a number is digits only, not {name!r}")
            await c.pbx.redirect(state.channel, Target(c.outbound_context, name, 1))
            await self._agent_part_ends(state, r.agent_id, f"number:{name}", "transferred to a number", now)

    async def _transfer_to_queue(self, state: CallState, agent_id: str, queue: str, now: float) -> None:
        """Back to hold and into another queue: the agent's part of the call ends."""
        c = self.center
        state.queue_transfer = True  # the hold music that follows is the queue's wait
        await c.pbx.hold(state.channel)
        await self._agent_part_ends(state, agent_id, f"queue:{queue}", "transferred to queue", now)
        queued = CallQueued(
            at=now,
            call_id=state.call_id,
            queue=queue,
            customer_id=state.customer_id,
            attributes={**state.attributes, "transferred_by": agent_id},
        )
        state.queue = queue
        await c.record(queued)
        await c.apply(c.router.handle(queued, now), now)

    async def _agent_part_ends(self, state: CallState, agent_id: str, target: str, why: str, now: float) -> None:
        """Logged as a transfer (the call model cannot see one: no agent takes the call
        on the PBX); the router ends the agent's part (wrap-up) without ending the call."""
        c = self.center
        await c.record(CallTransferred(at=now, call_id=state.call_id, mode="blind", from_agent=agent_id, target=target))
        ended = CallEnded(at=now, call_id=state.call_id, cause=16, cause_text=why, hung_up_by="agent")
        await c.apply(c.router.handle(ended, now), now)  # the agent goes to wrap-up
        state.agent, state.offered_to = "", ""

    async def _attended_transfer(self, r: AgentRequest, now: float) -> None:
        assert isinstance(r.command, AttendedTransfer)
        state = self._held_call(r)
        if state.consult_target:
            raise CommandRefused("an attended transfer is already in progress")
        c = self.center
        leg = state.agent_channels.get(r.agent_id)
        if not leg:
            raise CommandRefused(f"call {state.call_id!r}: the agent's leg is not known; use blind_transfer")
        kind, name = r.command.target_kind, r.command.target
        if kind == "agent":
            target = c.endpoints.get(name)
            if target is None:
                raise CommandRefused(f"attended_transfer: unknown agent {name!r}")
            if name == r.agent_id:
                raise CommandRefused("attended_transfer: the call is already with you")
            await c.pbx.attended_transfer(leg, target.connect_exten, "agents")
        elif kind == "number":
            if not name.isdigit():
                raise CommandRefused(f"attended_transfer: a number is digits only, not {name!r}")
            await c.pbx.attended_transfer(leg, name, c.outbound_context)
        else:
            raise CommandRefused("attended_transfer: a queue cannot be consulted; use blind_transfer to a queue")
        state.consult_target = f"{kind}:{name}"
        state.consult_channel = ""
        log.info("attended_transfer_started", call_id=state.call_id, agent_id=r.agent_id, target=state.consult_target)

    async def _complete_transfer(self, r: AgentRequest, now: float) -> None:
        """The transferring agent's phone leaves: Asterisk merges the consultation into
        the caller's bridge (the call model logs the transfer and the new agent)."""
        state = self._held_call(r)
        leg = state.agent_channels.get(r.agent_id)
        if not state.consult_target or not leg:
            raise CommandRefused(f"call {state.call_id!r}: no attended transfer in progress")
        await self.center.pbx.hangup(phone_side(leg), 16)

    async def _cancel_transfer(self, r: AgentRequest, now: float) -> None:
        """The consulted party is hung up: Asterisk puts the agent back with the caller."""
        state = self._held_call(r)
        if not state.consult_target:
            raise CommandRefused(f"call {state.call_id!r}: no attended transfer in progress")
        if not state.consult_channel:
            raise CommandRefused("the consulted party's phone is not ringing yet; try again")
        await self.center.pbx.hangup(state.consult_channel, 16)
        kind, _, consulted = state.consult_target.partition(":")
        state.consult_target = state.consult_channel = ""
        if kind == "agent":
            # the consulted agent's ring/consultation for the call ends: free again, no miss
            # (the router treats a transfer's CallNotAnswered so; not logged: nobody missed)
            released = CallNotAnswered(at=now, call_id=state.call_id, agent_id=consulted, queue=state.queue)
            await self.center.apply(self.center.router.handle(released, now), now)


def describe(command: Command) -> dict[str, Any]:
    """Log fields of a command (no notes: they may hold customer data)."""
    fields = command.model_dump(exclude={"notes"})
    return {k: v for k, v in fields.items() if v not in ("", None)}
