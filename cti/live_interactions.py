"""The live loop's interactions: one row per call in the store (store.port.Interactions),
and the customer a call is for (what the agent's screen-pop shows).

`InteractionLog` looks the caller up when a call is queued without a customer (a slow
or failing CRM never holds a call back: 0.5 s, then none): the lookup starts when the
call's arrival enters the live loop's inbox (`look_ahead`), so that a slow answer holds
up that call only, not every call queued behind it in the one consumer. It writes the call's row
when it ends: direction, queue, agent, customer, caller, times and outcome. The rows
of calls ending together are written in one batch by a task of the center
(cti/interaction_rows.py); the store's upsert keeps a disposition and notes the
agent already saved; a database outage is waited out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from cti.interaction_rows import InteractionRows
from events import CallArrived, CallEnded
from store.models import Interaction
from store.port import Interactions

if TYPE_CHECKING:
    from cti.live import LiveCenter
    from cti.live_calls import CallState

log = structlog.get_logger()

CustomerLookup = Callable[[str], Awaitable[str]]  # caller number -> customer id ("" unknown)
LOOKUP_TIMEOUT_S = 0.5
AHEAD_MAX = 10_000  # lookups started ahead and not used yet (calls that never queue), at most


def outcome_of(state: CallState) -> str:
    """How the call ended, for the interaction row (and the reports)."""
    if state.answered:
        return "answered"
    if state.attributes.get("callback_requested"):
        return "callback_requested"
    if state.attributes.get("preview"):
        return str(state.attributes.get("preview_outcome", "not_reached"))
    if state.attributes.get("callback"):
        return "not_reached"  # a call-back that never reached the customer
    if state.attributes.get("final_step"):
        return str(state.attributes["final_step"])  # e.g. voicemail
    return "abandoned" if state.queued else "ended"


class InteractionLog:
    """Interaction rows and customer lookups (inside the consumer; writes as tasks)."""

    def __init__(self, center: LiveCenter, store: Interactions | None, customer_lookup: CustomerLookup | None) -> None:
        self.center = center
        self.store = store
        self.customer_lookup = customer_lookup
        # rows of calls ending together go in one batch, by tasks of the center
        self.rows = InteractionRows(store, center.spawn) if store is not None else None
        # call id -> (caller, its lookup started at the arrival), oldest first
        self._ahead: dict[str, tuple[str, asyncio.Task[str]]] = {}

    def look_ahead(self, event: CallArrived) -> None:
        """Start the caller's lookup as the arrival is queued (LiveInbox.on_arrival): an
        inbound call is looked up when it queues, and by then the answer is usually in."""
        if self.customer_lookup is None or not event.caller or event.direction != "inbound":
            return
        if len(self._ahead) >= AHEAD_MAX:  # (the oldest, left to end by its own timeout)
            del self._ahead[next(iter(self._ahead))]
        self._ahead[event.call_id] = (event.caller, self.center.spawn(self._lookup(event.caller), "lookup"))

    def forget(self, call_id: str) -> None:
        """The call ended: a lookup started ahead for it is not needed any more."""
        ahead = self._ahead.pop(call_id, None)
        if ahead is not None:
            ahead[1].cancel()

    async def customer_of(self, caller: str, call_id: str = "") -> str:
        """The customer id for a caller's number; "" when unknown, slow or failing."""
        if self.customer_lookup is None or not caller:
            return ""
        ahead = self._ahead.pop(call_id, None) if call_id else None
        if ahead is not None and ahead[0] == caller:
            return await ahead[1]  # (its half second counted from the arrival)
        if ahead is not None:
            ahead[1].cancel()
        return await self._lookup(caller)

    async def _lookup(self, caller: str) -> str:
        assert self.customer_lookup is not None
        try:
            return await asyncio.wait_for(self.customer_lookup(caller), timeout=LOOKUP_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a slow or failing CRM never holds a call back
            log.warning("customer_lookup_failed", error=type(exc).__name__)
            return ""

    def call_ended(self, state: CallState, event: CallEnded) -> None:
        """Queue the call's row (written with those of the calls ending with it)."""
        if self.rows is None:
            return
        self.rows.add(
            Interaction(
                id=event.call_id,
                direction=state.direction,
                queue=state.queue,
                agent_id=state.agent,
                customer_id=state.customer_id,
                caller=state.caller,
                started_at=state.started_at,
                answered_at=state.answered_at,
                ended_at=event.at,
                outcome=outcome_of(state),
                attributes={k: v for k, v in state.attributes.items() if isinstance(v, (str, int, float, list))},
            )
        )

    async def written(self) -> None:
        """Until the rows of the calls ended so far are written (each batch after its linger)."""
        if self.rows is not None:
            await self.rows.written()

    async def flushed(self) -> None:
        """Until the rows of the calls ended so far are written (a clean stop)."""
        if self.rows is not None:
            await self.rows.flushed()
