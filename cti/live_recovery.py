"""The live loop's restart recovery: calls the event log has open when a process starts.

A restarted (or newly leading) process reads the log's open calls (`preload`), lets the
PBX's resync report them again, routes those reports without logging them a second
time (`already_logged`), restores the ring timer of a call found ringing at an agent
(`found_ringing`), and closes in the log the calls the PBX no longer has
(`end_vanished`).

What is restored is what the log says happened, not the restart's view of it:

- only calls the PBX had are open: a dialer attempt, a standing line's originate or a
  wrap-up names a call id too, but no call (`CALL_EVENTS` open one), so nothing ends
  "while Hotline was down" for them;
- a call the log has waiting keeps its wait: the first resync (`resynced`) puts it back
  in the router as the log queued it (queue, skills, priority, attributes, customer)
  and when (`waiting_since`; the root restores the agents no later than that), before
  the resync's reports; no agent takes a call until the PBX has said who is busy
  (the agents free meanwhile wait, `_held`), so the router's offer says the real wait;
- the day's counters (`count_today`: calls offered, answered, abandoned since local
  midnight) are read from the log, not started again from zero.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import structlog

from cti.live_calls import CallState
from cti.live_items import InboxItem, InLoop
from events import (
    EVENT_TYPES,
    AgentStateChanged,
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallOffered,
    CallQueued,
    CallTransferred,
    Event,
)
from reports.web_live import day_start  # the wallboard's day
from routing.rules import FINAL_ACTIONS
from store.port import NotFound

if TYPE_CHECKING:
    from cti.live import LiveCenter

log = structlog.get_logger()

# The events of a call the PBX had (CallArrived ... CallTransferred): any of them opens
# it. A call id seen only in a dialer attempt, an originate's result or a wrap-up is no
# call of the PBX's.
CALL_EVENTS = tuple(cls for name, cls in EVENT_TYPES.items() if name.startswith("Call") and cls is not CallEnded)
# The calls ended in the log's last this many seconds have their rows checked at a
# restart (rows are written as calls end: only the last moments' can be lost).
ENDED_RECHECK_S = 120.0
# Calls another part restores itself (cti/live_callbacks.py, cti/live_outbound.py).
OWN_RECOVERY = ("callback", "preview")


def fold_call(state: CallState, event: Event) -> None:
    """What the log says of a call, from one of its events (a restart's view: the row
    written from it names the caller, queue, customer, agent and times as the live
    loop's did)."""
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
    elif isinstance(event, CallTransferred) and event.mode in FINAL_ACTIONS:
        state.attributes["final_step"] = event.mode  # a queue's final step (voicemail...)


def open_waiting(history: Iterable[Event]) -> dict[str, tuple[float, CallQueued]]:
    """Calls the log has waiting in a queue (queued, not connected, abandoned, ended or
    sent to a final step since): call id -> (when it first queued, its last CallQueued)."""
    waiting: dict[str, tuple[float, CallQueued]] = {}
    first: dict[str, float] = {}
    for event in history:
        call_id = getattr(event, "call_id", "")
        if not call_id:
            continue
        if isinstance(event, CallQueued):
            first.setdefault(call_id, event.at)
            if not any(event.attributes.get(k) for k in OWN_RECOVERY):
                waiting[call_id] = (first[call_id], event)
        elif isinstance(event, CallConnected | CallAbandoned | CallTransferred | CallEnded):
            waiting.pop(call_id, None)
            if isinstance(event, CallEnded):
                first.pop(call_id, None)
    return waiting


def waiting_since(history: Iterable[Event]) -> float | None:
    """When the longest-waiting call of the log began to wait (None: none waits): the
    router must not be past it when the waiting calls are put back."""
    return min((since for since, _ in open_waiting(history).values()), default=None)


class Recovery:
    """What survives a restart of the live loop, inside the center's consumer."""

    def __init__(self, center: LiveCenter) -> None:
        self.center = center
        self.waiting: dict[str, tuple[float, CallQueued]] = {}  # open_waiting() of the log at start
        self._resynced = False  # the first resync after start was handled
        self._held: list[str] = []  # agents kept from taking calls until the resync's reports are in
        self.ended: dict[str, tuple[CallState, CallEnded]] = {}  # ended just before the start (preload)

    def preload(self, history: Iterable[Event]) -> list[str]:
        """Open calls from the event log: returns their ids. Their state is restored so
        the resync's events route them without logging them twice. The calls that
        ended in the log's last `ENDED_RECHECK_S` are kept aside (`ended`): their rows
        may have been lost with the process (`write_lost_rows`)."""
        history = list(history)
        open_calls: dict[str, CallState] = {}
        newest = max((event.at for event in history), default=0.0)
        self.ended = {}
        for event in history:
            call_id = getattr(event, "call_id", "")
            if not call_id:
                continue
            if isinstance(event, CallEnded):
                state = open_calls.pop(call_id, None)
                if state is not None and event.at >= newest - ENDED_RECHECK_S:
                    state.queued = ("CallQueued", "") in state.logged  # (abandoned, not just ended)
                    self.ended[call_id] = (state, event)
                continue
            state = open_calls.get(call_id)
            if state is None:
                if not isinstance(event, CALL_EVENTS):
                    continue  # a dialer attempt, a line's originate, a wrap-up: no call of the PBX's
                state = open_calls[call_id] = CallState(call_id, started_at=event.at)
            fold_call(state, event)
        self.waiting = {k: v for k, v in open_waiting(history).items() if k in open_calls}
        self.center.adopt_calls(open_calls.values())
        return list(open_calls)

    async def write_lost_rows(self) -> int:
        """The interaction rows of the calls that ended just before the process stopped
        (logged, but the row's write was still queued or under way when it was
        killed), written from what the log says of them; an agent's wrap-up then finds
        its call. Returns how many were missing."""
        interactions, store = self.center.interactions, self.center.interactions.store
        ended, self.ended = self.ended, {}
        if not ended or store is None:
            return 0
        try:
            missing = await store.interactions_missing(list(ended))
        except Exception:  # the database away at start: the rest of recovery goes on
            log.exception("interaction_rows_not_checked", calls=len(ended))
            return 0
        for call_id in missing:
            state, event = ended[call_id]
            if not state.answered and await self._promised_callback(call_id):
                state.attributes["callback_requested"] = True  # (not in the log: the promise's row says it)
            interactions.call_ended(state, event)
        if missing:
            log.warning("interaction_rows_written_again", calls=len(missing), checked=len(ended))
        return len(missing)

    async def _promised_callback(self, call_id: str) -> bool:
        """Was the caller promised a call-back on this call (virtual hold, a queue's
        final step: the promise row `cb-<call>` the live loop wrote before the caller
        heard it)?"""
        store = self.center.callbacks.store
        if store is None:
            return False
        try:
            row = await store.get_callback(f"cb-{call_id}")
        except NotFound:
            return False
        except Exception:  # noqa: BLE001 - the database away: the row says abandoned rather than nothing
            log.warning("callback_promise_not_checked", call_id=call_id)
            return False
        return row.call_id == call_id

    def count_today(self, history: Iterable[Event], now: float) -> None:
        """The day's calls offered, answered and abandoned (each call once, as the live
        loop counts them) from the log, for /healthz: a restart does not reset them."""
        since = day_start(now)
        offered: set[str] = set()
        answered: set[str] = set()
        abandoned: set[str] = set()
        for event in history:
            if event.at < since:
                continue
            if isinstance(event, CallQueued):
                offered.add(event.call_id)
            elif isinstance(event, CallConnected):
                answered.add(event.call_id)
            elif isinstance(event, CallAbandoned):
                abandoned.add(event.call_id)
        stats = self.center.stats
        stats.calls_offered, stats.calls_answered, stats.calls_abandoned = len(offered), len(answered), len(abandoned)

    def resynced(self, events: list[Event]) -> list[InboxItem]:
        """What the inbox gets for a resync's events (the AMI client's `on_resync`, run
        when the call model has the PBX's channels). The first after start follows
        again the call-backs the log has open whose customer the PBX still has (their
        PBX call's events speak of the call-back's id, as before the restart), puts the
        log's waiting calls the PBX still has back in the router first (their own
        reports of waiting are then not routed again), and frees the agents only after
        the resync's reports (who is on a call, who is ringing)."""
        if self._resynced:
            return list(events)
        self._resynced = True
        calls = self.center.pbx_calls
        items: list[InboxItem] = []
        followed = self._callbacks_on_pbx()
        if followed:
            items.append(InLoop(functools.partial(self._follow, followed)))
        found = {call_id: queued for call_id, queued in self.waiting.items() if calls.caller_channel(call_id)}
        if not found:
            return [*items, *events]
        kept = [e for e in events if not (isinstance(e, CallQueued) and e.call_id in found)]
        return [*items, InLoop(functools.partial(self._requeue, found)), *kept, InLoop(self._release)]

    def _callbacks_on_pbx(self) -> dict[str, tuple[str, str]]:
        """The call-backs the log has open whose customer's leg the PBX has: call-back
        call id -> (the PBX's call id, the leg)."""
        found: dict[str, tuple[str, str]] = {}
        for call_id, state in self.center.calls.items():
            number = str(state.attributes.get("callback_number", "")) if state.attributes.get("callback") else ""
            leg = self.center.pbx_calls.customer_leg(number) if number else None
            if leg is not None and leg[0] != call_id:
                found[call_id] = leg
        return found

    async def _follow(self, followed: dict[str, tuple[str, str]]) -> None:
        for call_id, (pbx_call_id, channel) in followed.items():
            self.center.dials.follow(pbx_call_id, call_id, channel)

    async def _requeue(self, found: dict[str, tuple[float, CallQueued]]) -> None:
        """(inside the consumer, before the resync's reports) The agents free in the
        router wait; each waiting call goes back in line as the log queued it, at the
        time it first queued (the router keeps that as its wait)."""
        c = self.center
        router = c.router
        earliest = min(since for since, _ in found.values())
        for agent_id in c.directory.endpoints:
            if router.agent_state(agent_id) == "available":
                router.handle(AgentStateChanged(at=earliest, agent_id=agent_id, state="paused"), earliest)
                self._held.append(agent_id)
        for call_id, (since, queued) in sorted(found.items(), key=lambda item: item[1][0]):
            state = c.call(call_id)
            state.queued = True
            state.channel = state.channel or c.channel_fallback(call_id)
            await c.apply(router.handle(queued, since), c.now(since))
        log.info("restart_calls_requeued", calls=len(found), agents_held=len(self._held))

    async def _release(self) -> None:
        """(inside the consumer, after the resync's reports) The held agents are free
        again: the router offers them the waiting calls."""
        c = self.center
        held, self._held = self._held, []
        for agent_id in held:
            info = c.router.agent_info(agent_id)
            if info is None or not info["paused"] or info["pause_reason"]:
                continue  # the agent changed their state meanwhile
            now = c.now()
            await c.apply(c.router.handle(AgentStateChanged(at=now, agent_id=agent_id, state="available"), now), now)

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
            if c.callbacks.owns(call_id):
                continue  # a call-back promise still kept: its row says what becomes of it (cti/live_callbacks.py)
            if c.dials.keeps(call_id):
                continue  # a preview shown again by its dialer (dialer/live.py): never dialled, nothing ended
            outbound = state.attributes.get("preview") or state.attributes.get("callback")
            if not state.answered and not outbound and ("CallAbandoned", "") not in state.logged and state.logged:
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
