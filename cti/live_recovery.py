"""The live loop's restart recovery: calls the event log has open when a process starts.

A restarted (or newly leading) process reads the log's open calls (`preload`), lets the
PBX's resync report them again, routes those reports without logging them a second
time (`already_logged`), restores the ring timer of a call found ringing at an agent
(`found_ringing`), and closes in the log the calls the PBX no longer has
(`end_vanished`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import structlog

from cti.live_calls import CallState
from events import CallAbandoned, CallArrived, CallConnected, CallEnded, CallOffered, CallQueued, Event

if TYPE_CHECKING:
    from cti.live import LiveCenter

log = structlog.get_logger()


class Recovery:
    """What survives a restart of the live loop, inside the center's consumer."""

    def __init__(self, center: LiveCenter) -> None:
        self.center = center

    def preload(self, history: Iterable[Event]) -> list[str]:
        """Open calls from the event log: returns their ids. Their state is restored so
        the resync's events route them without logging them twice."""
        open_calls: dict[str, CallState] = {}
        for event in history:
            call_id = getattr(event, "call_id", "")
            if not call_id:
                continue
            if isinstance(event, CallEnded):
                open_calls.pop(call_id, None)
                continue
            state = open_calls.get(call_id)
            if state is None:
                state = open_calls[call_id] = CallState(call_id, started_at=event.at)
            if isinstance(event, CallArrived):
                state.caller, state.direction, state.started_at = event.caller, event.direction, event.at
                state.logged.add(("CallArrived", ""))
            elif isinstance(event, CallQueued):
                state.queue, state.customer_id = event.queue, event.customer_id
                state.attributes = dict(event.attributes)
                state.logged.add(("CallQueued", ""))
            elif isinstance(event, CallConnected):
                state.answered, state.answered_at, state.agent = True, state.answered_at or event.at, event.agent_id
                state.logged.add(("CallConnected", event.agent_id))
            elif isinstance(event, CallAbandoned):
                state.logged.add(("CallAbandoned", ""))
        self.center.adopt_calls(open_calls.values())
        return list(open_calls)

    def already_logged(self, event: Event) -> bool:
        """Is this the resync reporting again what the log already has?"""
        state = self.center.calls.get(getattr(event, "call_id", ""))
        if state is None or not state.logged:
            return False
        agent = getattr(event, "agent_id", "") if isinstance(event, CallConnected) else ""
        return (type(event).__name__, agent) in state.logged

    def end_vanished(self, call_ids: Iterable[str], is_live: Callable[[str], bool], now: float) -> int:
        """After the first resync: preloaded calls the PBX no longer has ended while
        this process was down; close them in the log (abandoned if they were waiting)."""
        c = self.center
        ended = 0
        for call_id in call_ids:
            state = c.calls.get(call_id)
            if state is None or is_live(call_id):
                continue
            if state.attributes.get("callback") and c.callbacks.durable:
                continue  # a call-back promise: its row says what became of it (cti/live_callbacks.py)
            if not state.answered and ("CallAbandoned", "") not in state.logged and state.logged:
                c.submit(CallAbandoned(at=now, call_id=call_id, queue=state.queue))
            c.submit(CallEnded(at=now, call_id=call_id, cause=0, cause_text="ended while Hotline was down"))
            ended += 1
        return ended

    def found_ringing(self, event: CallOffered, now: float) -> None:
        """A call found ringing at an agent through agent-connect: our ring timer, lost
        with the old process, is set again from when the agent's leg began ringing, so
        the caller goes back to hold before the dialplan's Dial timeout hangs them up.
        (app_queue's own ringing is the PBX's to time.)"""
        c = self.center
        began = c.pbx_calls.ringing_since(event.call_id, c.agent_connect_context)
        info = c.router.call_info(event.call_id)
        if began is None or event.call_id in c.ring_timers or info is None or info.get("state") != "offered":
            return
        state = c.call(event.call_id)
        state.offered_to = event.agent_id
        state.channel = state.channel or c.channel_fallback(event.call_id)
        c.ring_timers[event.call_id] = (max(now, began + c.ring_timeout_s), event.agent_id)
        log.info("ring_timer_restored", call_id=event.call_id, agent_id=event.agent_id, ringing_s=round(now - began, 1))
