"""Runs the pure IVR engine over a FastAGI session.

The engine's commands become AGI commands; customer lookups go to the store; each
finished node is reported as an `IvrStepped` event. When the flow hands the call to
the router, the channel gets the routing variables and is sent to the hold context
(`SET CONTEXT/EXTENSION/PRIORITY`: the dialplan continues there once the AGI script
ends), and `on_outcome` tells the live loop to queue it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from cti.agi import AgiSession
from events import IvrStepped
from ivr.engine import Collect, IvrOutcome, Lookup, Play, SayDigits, Stepped, run
from ivr.flow import IvrFlow
from store.phone_lookups import CoalescedLookup

log = structlog.get_logger()

CustomerLookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]
StepSink = Callable[[IvrStepped], Awaitable[None]]
OutcomeSink = Callable[[str, str, IvrOutcome], Awaitable[None]]

HOLD_CONTEXT = "hotline-queue"
VOICEMAIL_CONTEXT = "hotline-voicemail"


@dataclass(slots=True)
class IvrService:
    flow: IvrFlow
    lookup: CustomerLookup
    on_step: StepSink
    on_outcome: OutcomeSink  # (call_id, caller, outcome)
    clock: Callable[[], float] = time.time

    async def handle(self, session: AgiSession) -> None:
        await session.answer()
        # Calls are keyed by Linkedid everywhere (the call model groups channels by it).
        call_id = (
            await session.get_full_variable("${CHANNEL(linkedid)}")
            or await session.get_variable("CC_CALLID")
            or session.request.uniqueid
        )
        caller = session.request.callerid if session.request.callerid not in ("", "unknown") else ""
        engine = run(self.flow, caller, self.clock())
        result: Any = None
        try:
            command = next(engine)
            while True:
                result = await self._execute(session, call_id, command)
                command = engine.send(result)
        except StopIteration as stop:
            outcome: IvrOutcome = stop.value
        if outcome.action == "callback":
            # Registered before the line is released, so the call's end is known as a callback.
            await self.on_outcome(call_id, caller, outcome)
            await self._hand_off(session, call_id, outcome)
        else:
            # The channel is on its way to hold before the router may offer it.
            await self._hand_off(session, call_id, outcome)
            await self.on_outcome(call_id, caller, outcome)

    async def _execute(self, session: AgiSession, call_id: str, command: Any) -> Any:
        if isinstance(command, Play):
            await session.stream_file(command.prompt)
            return None
        if isinstance(command, Collect):
            return await session.get_data(command.prompt, int(command.timeout_s * 1000), command.max_digits)
        if isinstance(command, SayDigits):
            await session.say_digits(command.digits)
            return None
        if isinstance(command, Lookup):
            try:
                return await self.lookup(command.by, command.value)
            except Exception as exc:  # noqa: BLE001 - a CRM outage must not drop the caller: route unidentified
                log.warning("ivr_lookup_failed", call_id=call_id, by=command.by, error=type(exc).__name__)
                return None
        if isinstance(command, Stepped):
            await self.on_step(IvrStepped(at=self.clock(), call_id=call_id, node=command.node, result=command.result))
            return None
        raise TypeError(f"unknown IVR command {command!r}")

    async def _hand_off(self, session: AgiSession, call_id: str, outcome: IvrOutcome) -> None:
        if outcome.action == "callback":
            # Virtual hold: the caller's place is kept by the router, the line is freed;
            # the live loop calls back when an agent is free.
            await session.hangup()
        elif outcome.action == "queue":
            skill = next(iter(outcome.skills), outcome.queue)
            await session.set_variable("CC_SKILL", skill)
            await session.set_variable("CC_QUEUE", outcome.queue)
            await session.set_variable("CC_PRIORITY", outcome.priority)
            if outcome.customer_id:
                await session.set_variable("CC_CUSTOMER", outcome.customer_id)
            await _continue_at(session, HOLD_CONTEXT, "s")
        elif outcome.action == "voicemail":
            await _continue_at(session, VOICEMAIL_CONTEXT, outcome.mailbox or "s")
        log.info("ivr_done", call_id=call_id, action=outcome.action, queue=outcome.queue, priority=outcome.priority)


async def _continue_at(session: AgiSession, context: str, extension: str) -> None:
    await session.command(f"SET CONTEXT {context}")
    await session.command(f"SET EXTENSION {extension}")
    await session.command("SET PRIORITY 1")


def customer_lookup_from_store(store: Any) -> CustomerLookup:
    """Adapter: the IVR's lookups answered by the Store (phone first, then account).
    Sessions greeting callers at the same moment share one phone query."""
    phones = CoalescedLookup(store)

    async def lookup(by: str, value: str) -> dict[str, Any] | None:
        if by == "phone":
            try:
                found = await phones.find_customers_by_phone(value)
            except ValueError:  # an unparseable caller ID is simply unknown
                return None
            customer = found[0] if found else None
        else:
            customer = await store.find_customer_by_account(value)
        if customer is None:
            return None
        return {
            "id": customer.id,
            "name": customer.name,
            "tier": customer.tier,
            "account_number": customer.account_number,
            "attributes": dict(customer.attributes),
        }

    return lookup
