"""The live loop's dials on an agent's behalf: call-backs and previews.

Both are calls the router offers before anyone is on the line. When the offer lands,
`AgentDials` originates the customer into agent-connect for the agent it went to (a
call-back at once; a preview when the agent presses Dial), and from the originate's
result on, the PBX call's events speak of the call-back's or preview's own call id
(`alias`). A call-back the customer does not answer ends as deflected; a preview that
is not reached or is skipped ends with its outcome on the interaction.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from agents import commands as contract
from cti.call_control import CommandRefused
from cti.live_directory import AgentEndpoint
from cti.live_items import DialVetoed, PreviewDial
from dialer.manual import WINDOW, ManualDialRefused, manual_number
from events import CallAbandoned, CallArrived, CallEnded, CallOffered, CallQueued, OriginateResulted
from routing import Offer
from store.port import DoNotCallList

if TYPE_CHECKING:
    from cti.live import LiveCenter
    from cti.live_calls import CallState

log = structlog.get_logger()


class AgentDials:
    """Call-backs and previews, inside the center's consumer."""

    def __init__(
        self,
        center: LiveCenter,
        *,
        callback_dial: str = "Local/{number}@customers",
        callback_variables: Mapping[str, str] | None = None,
        callback_ring_s: float = 30.0,
    ) -> None:
        self.center = center
        self.callback_dial = callback_dial  # how to reach a number that asked for a call-back
        self.callback_variables = dict(callback_variables or {})
        self.callback_ring_s = callback_ring_s
        self._aliases: dict[str, str] = {}  # PBX call id of a call-back / preview -> its own call id
        self._originates: dict[str, str] = {}  # originate id -> call-back or preview call id
        self._previews: dict[str, PreviewDial] = {}  # preview call id -> how to dial it, until dialled
        self._dialled_previews: set[str] = set()  # preview calls dialled, until the originate's result
        self._kept: set[str] = set()  # previews of before a restart, until their dialer shows them again
        self._manual: set[str] = set()  # manual dials, until the originate's result
        self.dnc: DoNotCallList | None = None  # the do-not-call lists a manual dial is checked against
        self.manual_window = WINDOW  # and its calling window (set by the composition root)

    def alias(self, call_id: str) -> str:
        """The call id the center knows a PBX call by (a call-back's or preview's own)."""
        return self._aliases.get(call_id, call_id)

    def owns(self, event: OriginateResulted) -> bool:
        return event.originate_id in self._originates

    def keep_previews(self, call_ids: Iterable[str]) -> None:
        """Previews shown before a restart that their dialer shows again: not calls
        that ended while the server was down (cti/live_recovery.py)."""
        self._kept.update(call_ids)

    def keeps(self, call_id: str) -> bool:
        """Is this an undialled preview (of now, or of before a restart)?"""
        return call_id in self._previews or call_id in self._kept

    def pbx_call_of(self, call_id: str) -> str:
        """The PBX's id of a call-back's or preview's call (else `call_id` itself)."""
        return next((pbx for pbx, own in self._aliases.items() if own == call_id), call_id)

    def follow(self, pbx_call_id: str, call_id: str, channel: str) -> None:
        """A call-back dialled by the process before a restart, still on the PBX: its
        events speak of its own call id again, and `channel` is its customer's leg."""
        self._aliases[pbx_call_id] = call_id
        self.center.call(call_id).channel = channel
        log.info("callback_call_followed", call_id=call_id, pbx_call_id=pbx_call_id, channel=channel)

    # ------------------------------------------------------------ call-backs (cti/live_callbacks.py queues them)

    async def on_offer(self, state: CallState, offer: Offer, endpoint: AgentEndpoint | None, now: float) -> bool:
        """An offer of a call-back (dial the customer now) or of a preview (nothing yet:
        the agent reads the record). False: an ordinary call, the center connects it."""
        if offer.call_id in self._previews:
            return True
        if not state.attributes.get("callback") or endpoint is None:
            return False
        number = "".join(ch for ch in str(state.attributes.get("callback_number", "")) if ch.isdigit())
        # the attempt is written before the dial: the customer is dialled when it is back
        self.center.callbacks.dialling(offer.call_id, functools.partial(self._call_back, offer, endpoint, number))
        return True

    async def _call_back(self, offer: Offer, endpoint: AgentEndpoint, number: str) -> None:
        """(inside the consumer, the attempt written) Dial the customer for the agent."""
        now = self.center.now()
        if not number:
            self.center.ring_timers[offer.call_id] = (now + self.center.ring_timeout_s, offer.agent_id)
            log.error("callback_without_number", call_id=offer.call_id)
            return
        self._dial_for_agent(
            offer.call_id,
            offer.agent_id,
            endpoint,
            PreviewDial(
                endpoint=self.callback_dial.format(number=number),
                originate_id=uuid.uuid4().hex,
                timeout_s=self.callback_ring_s,
                caller_id=f'"Hotline call-back" <{number}>',
                variables=self.callback_variables,
            ),
            now,
        )

    def _dial_for_agent(
        self, call_id: str, agent_id: str, endpoint: AgentEndpoint, dial: PreviewDial, now: float
    ) -> None:
        """Originate the customer into agent-connect for the agent the call is offered to:
        the PBX call's events then speak of `call_id`."""
        c = self.center
        c.ring_timers[call_id] = (now + dial.timeout_s + c.ring_timeout_s, agent_id)
        self._originates[dial.originate_id] = call_id
        target, variables = c.connect_target(endpoint), dial.variables
        if c.sites is not None:  # an agent of another PBX: the customer is sent through the trunk
            target, variables = c.sites.via_trunk(dial.endpoint, target, variables)
        c.spawn(
            c.pbx_action(
                c.pbx.originate(
                    dial.endpoint,
                    context=target.context,
                    exten=target.exten,
                    caller_id=dial.caller_id,
                    variables=variables,
                    timeout_s=dial.timeout_s,
                    originate_id=dial.originate_id,
                ),
                "outbound-originate",
                call_id,
            ),
            "outbound-originate",
        )

    async def on_dialled(self, result: OriginateResulted) -> None:
        c = self.center
        call_id = self._originates.pop(result.originate_id)
        now = c.now(result.at)
        c.eventlog.append(result)
        preview = call_id in self._dialled_previews
        if preview:
            self._dialled_previews.discard(call_id)
            await c.notify(result)  # the dialer closes its attempt with the outcome
        if result.success and result.call_id:
            self._manual.discard(call_id)
            self._aliases[result.call_id] = call_id  # its events now speak of the call-back / preview
            if result.channel:  # the customer's leg (in agent-connect): what hold and transfers move
                c.call(call_id).channel = result.channel
            return
        c.ring_timers.pop(call_id, None)
        if call_id in self._manual:
            self._manual.discard(call_id)
            c.call(call_id).attributes["manual_outcome"] = "not_reached"
            await c.on_event(CallEnded(at=now, call_id=call_id, cause=19, cause_text="manual dial not answered"))
            return
        if preview:  # busy, no answer...: the contact was never reached, nobody abandoned
            c.call(call_id).attributes["preview_outcome"] = "not_reached"
            await c.on_event(CallEnded(at=now, call_id=call_id, cause=19, cause_text="preview dial not answered"))
            return
        # The customer did not answer the call-back: it ends here. The router drops it
        # (CallAbandoned); the KPIs count it deflected, not abandoned (nobody waited on
        # the line: reports/kpi_fold.py), and its interaction says "not_reached".
        for event in (
            CallAbandoned(at=now, call_id=call_id, queue=c.call(call_id).queue),
            CallEnded(at=now, call_id=call_id, cause=19, cause_text="call-back not answered"),
        ):
            await c.on_event(event)

    # ------------------------------------------------------------ previews

    async def queue_preview(self, event: CallQueued, number: str, dial: PreviewDial) -> None:
        """Queue an outbound contact for preview (inside the consumer): the router
        offers it like a call, the desktop pops its record, nothing is dialled yet."""
        state = self.center.call(event.call_id)
        state.caller, state.direction = number, "outbound"
        self._previews[event.call_id] = dial
        self._kept.discard(event.call_id)
        await self.center.on_event(replace(event, attributes={**event.attributes, "preview": True}))

    async def preview_command(self, agent_id: str, c: contract.PreviewDial | contract.PreviewSkip, now: float) -> None:
        call_id = c.call_id
        dial = self._previews.get(call_id)
        state = self.center.calls.get(call_id)
        if dial is None or state is None or state.offered_to != agent_id:
            verb = "dial" if isinstance(c, contract.PreviewDial) else "skip"
            raise CommandRefused(f"agent {agent_id!r} has no preview {call_id!r} to {verb}")
        if isinstance(c, contract.PreviewDial) and dial.on_dial is not None:
            try:
                await dial.on_dial(now)  # (may refuse: CommandRefused keeps the preview offered)
            except DialVetoed as exc:
                del self._previews[call_id]
                state.attributes["preview_outcome"] = "do_not_call"
                await self.center.on_event(
                    CallEnded(at=now, call_id=call_id, cause=16, cause_text=f"preview not dialled: {exc}")
                )
                raise CommandRefused(f"preview {call_id!r} not dialled: {exc}") from None
        del self._previews[call_id]
        if isinstance(c, contract.PreviewSkip):
            if dial.on_skip is not None:
                await dial.on_skip(now)
            state.attributes["preview_outcome"] = "skipped"
            await self.center.on_event(
                CallEnded(at=now, call_id=call_id, cause=16, cause_text="preview skipped", hung_up_by="agent")
            )
            return
        self._dialled_previews.add(call_id)
        self._dial_for_agent(call_id, agent_id, self.center.endpoints[agent_id], dial, now)

    # ------------------------------------------------------------ manual dials

    async def manual_dial(self, agent_id: str, c: contract.ManualDial, now: float) -> None:
        """The agent dials a number from the desktop: checked (state, do-not-call, calling
        window), the agent reserved for it (the router holds them as for a ringing
        call), the call logged as an outbound one, then the number dialled into the
        agent's phone as a call-back is. Its queue is none: not an inbound queue's call."""
        center = self.center
        state = center.router.agent_state(agent_id) or "logged_out"
        if state not in type(c).agent_states:
            raise CommandRefused(f"agent {agent_id!r} is {state.replace('_', ' ')}: dial when available or paused")
        try:
            number = await manual_number(self.dnc, c.number, now, self.manual_window)
        except ManualDialRefused as exc:
            raise CommandRefused(str(exc)) from None
        call_id = f"manual-{uuid.uuid4().hex[:12]}"
        call = center.call(call_id)
        call.caller, call.direction, call.started_at, call.customer_id = number, "outbound", now, c.customer_id
        call.attributes = {"manual": True, "direction": "outbound"}
        call.offered_to = agent_id
        await center.record(CallArrived(at=now, call_id=call_id, direction="outbound", caller=number, dialed=number))
        offered = CallOffered(at=now, call_id=call_id, agent_id=agent_id, reason="manual dial")
        await center.record(offered)
        await center.route(offered, now)  # the router adopts it: the agent is reserved
        self._manual.add(call_id)
        digits = number.lstrip("+")
        dial = PreviewDial(
            endpoint=self.callback_dial.format(number=digits),
            originate_id=uuid.uuid4().hex,
            timeout_s=self.callback_ring_s,
            caller_id=f'"{agent_id}" <{digits}>',
            variables=self.callback_variables,
        )
        log.info("manual_dial", call_id=call_id, agent_id=agent_id, number=number)
        self._dial_for_agent(call_id, agent_id, center.endpoints[agent_id], dial, now)
