"""The live loop's interactions: one row per call in the store (store.port.Interactions),
and the customer a call is for (what the agent's screen-pop shows).

`InteractionLog` looks the caller up when a call is queued without a customer (a slow
or failing CRM never holds a call back: 0.5 s, then none), and writes the call's row
when it ends: direction, queue, agent, customer, caller, times and outcome. The write
runs as a task of the center; the store's upsert keeps a disposition and notes the
agent already saved; a database outage is waited out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from events import CallEnded
from store.models import Interaction
from store.port import Interactions

if TYPE_CHECKING:
    from cti.live import LiveCenter
    from cti.live_calls import CallState

log = structlog.get_logger()

CustomerLookup = Callable[[str], Awaitable[str]]  # caller number -> customer id ("" unknown)
LOOKUP_TIMEOUT_S = 0.5


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

    async def customer_of(self, caller: str) -> str:
        """The customer id for a caller's number; "" when unknown, slow or failing."""
        if self.customer_lookup is None or not caller:
            return ""
        try:
            return await asyncio.wait_for(self.customer_lookup(caller), timeout=LOOKUP_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a slow or failing CRM never holds a call back
            log.warning("customer_lookup_failed", error=type(exc).__name__)
            return ""

    def call_ended(self, state: CallState, event: CallEnded) -> None:
        """Write the call's row (a task of the center)."""
        if self.store is None:
            return
        interaction = Interaction(
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
        self.center.spawn(self._write(self.store, interaction), "interaction")

    async def _write(self, store: Interactions, interaction: Interaction, give_up_after_s: float = 600.0) -> None:
        """The store's upsert keeps a disposition and notes the agent already saved. A
        database outage is waited out (with backoff) like the event log's."""
        delay, waited = 0.2, 0.0
        while True:
            try:
                await store.put_interaction(interaction)
                return
            except (TypeError, ValueError) as exc:  # unencodable: retrying cannot help
                log.error("interaction_unwritable", call_id=interaction.id, error=str(exc)[:200])
                return
            except Exception as exc:  # noqa: BLE001 - any store failure: wait it out, then give up (logged)
                if waited >= give_up_after_s:
                    log.error("interaction_write_failed", call_id=interaction.id, error=type(exc).__name__)
                    return
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)
