"""Screen-pop hub: folds the `events` channel into what each call is about and pushes
the customer card to the offered agent's desktop websocket(s) only.

- CallArrived / CallQueued: remembered per call (caller, queue, IVR path, attributes).
- CallOffered: the customer is resolved (external CRM if configured, else the built-in
  record by customer id, account number or caller number: what the live loop of this
  process found for the caller moments before is taken as it is, store/phone_matches.py),
  their last interactions are read, and the pop goes to that agent's sockets. An unknown caller gets
  `new_customer: true` (the desktop shows the quick form).
- The offered agent also receives the events of their own state and call (connected,
  held, ended...) so the desktop follows the call; entering wrap-up comes with the live
  loop's view of the agent (`desktop_view`: which call, how long the wrap-up lasts).

- A written task's change (`TASK_CHANGES`, agents/task_push.py) goes to the desktops of
  the agents it concerns: they reload their tasks at once (no polling).

Each process runs one hub and pushes to its own sockets; with several processes on
one Redis every hub sees every event, so a desktop may connect to any of them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

import structlog

from agents.call_agents import CallAgents
from agents.crm import CrmLookup
from agents.task_push import RESYNC, desktop_push
from events import (
    AgentForced,
    AgentLineChanged,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallHeld,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    CallResumed,
    CallTransferred,
    Event,
    MonitorEnded,
    MonitorStarted,
    WrapUpEnded,
    agent_id_of,
    call_id_of,
    to_record,
)
from store.bus import Bus
from store.models import Customer, Interaction
from store.phone_matches import PhoneMatches
from store.phones import InvalidPhone
from store.port import CustomerDirectory, EventLog, Interactions, NotFound
from store.topics import AGENT_VIEWS, EVENTS, TASK_CHANGES, BusMessage, Inbox, TaskNote, subscribe

log = structlog.get_logger()

MAX_CALLS = 50_000
GAP_CHECK_S = 1.0  # how often the hub looks whether the bus lost messages
CATCH_UP_MARGIN_S = 5.0  # read the log from this long before the last event seen
# forwarded to the agent's desktop: their own state, and the events of their call
AGENT_EVENTS = (AgentLoggedIn, AgentLoggedOut, AgentStateChanged, AgentLineChanged, WrapUpEnded, AgentForced)
CALL_EVENTS = (CallConnected, CallNotAnswered, CallAbandoned, CallHeld, CallResumed, CallTransferred, CallEnded)


class Socket(Protocol):
    async def send_str(self, data: str) -> None: ...


class HubStore(CustomerDirectory, Interactions, EventLog, Protocol):
    """What the hub reads: the customer and their last interactions; the event log
    after the bus lost messages."""


def customer_card(c: Customer, source: str) -> dict[str, Any]:
    card = asdict(c)
    card["phones"] = list(c.phones)
    card["source"] = source
    return card


def interaction_row(i: Interaction) -> dict[str, Any]:
    return {
        "id": i.id,
        "started_at": i.started_at,
        "queue": i.queue,
        "agent_id": i.agent_id,
        "direction": i.direction,
        "outcome": i.outcome,
        "disposition": i.disposition,
        "notes": i.notes,
    }


class ScreenPopHub:
    def __init__(
        self,
        store: HubStore,
        bus: Bus,
        crm: CrmLookup | None = None,
        clock: Callable[[], float] = time.time,
        history_limit: int = 5,
        tell_monitoring: frozenset[str] = frozenset({"whisper", "barge"}),
        matches: PhoneMatches | None = None,
    ) -> None:
        self._store = store
        # the live loop's caller lookups in this process (store/phone_matches.py)
        self._matches = matches
        self._bus = bus
        self._crm = crm
        self._clock = clock
        self._history_limit = history_limit
        self._calls: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._sockets: dict[str, set[Socket]] = {}
        self._last_pop: dict[str, dict[str, Any]] = {}
        self._agent_call = CallAgents()  # agent <-> current call
        self.ready = asyncio.Event()
        self.closing = False  # the server stops: a socket registered now is closed at once
        self.pops_sent = 0
        self._seen_at = 0.0  # the latest event time seen on the bus
        self.catch_ups = 0
        # monitoring (config/monitor.py): the modes the agent is told of; who monitors
        # each agent now in such a mode; the mode of each monitoring started (its end is
        # told when its start was)
        self._tell = tell_monitoring
        self._monitored: dict[str, dict[str, str]] = {}  # agent -> supervisor -> mode
        self._monitor_modes: dict[tuple[str, str], str] = {}

    # ------------------------------------------------------------ sockets

    def register(self, agent_id: str, socket: Socket) -> None:
        self._sockets.setdefault(agent_id, set()).add(socket)

    def unregister(self, agent_id: str, socket: Socket) -> None:
        sockets = self._sockets.get(agent_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[agent_id]

    def connected(self) -> int:
        return sum(len(s) for s in self._sockets.values())

    def sockets(self) -> list[Socket]:
        return [s for group in self._sockets.values() for s in group]

    def last_pop(self, agent_id: str) -> dict[str, Any] | None:
        return self._last_pop.get(agent_id)

    def call_info(self, call_id: str) -> dict[str, Any] | None:
        return self._calls.get(call_id)

    def current_call(self, agent_id: str) -> str | None:
        return self._agent_call.call_of(agent_id)

    async def desktop_view(self, agent_id: str, with_pop: bool = True) -> dict[str, Any]:
        """What the agent's desktop shows when it (re)connects: the live loop's view of
        the agent (`state`: the agents state map's AgentView, None before the loop set
        one), the seconds of wrap-up left (by this clock: the browser's may differ), and
        the screen-pop of the call the view names (without a view: the hub's own idea
        of the agent's call)."""
        view = await AGENT_VIEWS.get(self._bus, agent_id)
        doc: dict[str, Any] = {"state": None if view is None else view.to_wire(), "wrap_up_left_s": None}
        if view is not None and view.wrap_up_until is not None:
            doc["wrap_up_left_s"] = round(max(0.0, view.wrap_up_until - self._clock()), 1)
        doc["monitored"] = [{"supervisor": s, "mode": m} for s, m in self._monitored.get(agent_id, {}).items()]
        if not with_pop:
            return doc
        if view is None:
            call_id = self.current_call(agent_id) or ""
        elif view.state in ("available", "paused", "logged_out"):
            call_id = ""
        else:
            call_id = view.call_id or self.current_call(agent_id) or ""
        pop = self._last_pop.get(agent_id)
        if pop is not None and call_id and pop.get("call_id") == call_id:
            doc["screen_pop"] = pop
        return doc

    async def _push(self, agent_id: str, message: dict[str, Any]) -> int:
        sockets = list(self._sockets.get(agent_id, ()))
        if not sockets:
            return 0
        data = json.dumps(message)
        sent = 0
        for socket in sockets:
            try:
                await socket.send_str(data)
                sent += 1
            except (ConnectionError, RuntimeError) as exc:  # closing socket: drop it
                log.info("screen_pop_socket_dropped", agent_id=agent_id, error=type(exc).__name__)
                self.unregister(agent_id, socket)
        return sent

    async def _push_all(self, message: dict[str, Any]) -> None:
        for agent_id in list(self._sockets):
            await self._push(agent_id, message)

    async def _forward_task(self, note: TaskNote) -> None:
        """A written task's change to the desktops of the agents it concerns
        (agents/task_push.py): they reload their tasks now."""
        push = desktop_push(note)
        if push is None:
            return
        agents, message = push
        for agent_id in agents:
            if agent_id in self._sockets:
                await self._push(agent_id, message)

    # ------------------------------------------------------------ the loop

    async def run(self, retry_s: float = 2.0) -> None:
        """Runs until cancelled; a failure of the subscription restarts it."""
        while True:
            try:
                await self._run_once()
            except Exception:
                log.exception("screen_pop_hub_failed", retry_s=retry_s)
                await asyncio.sleep(retry_s)

    async def _run_once(self) -> None:
        async with subscribe(self._bus, EVENTS, TASK_CHANGES) as inbox:
            self.ready.set()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._watch_gaps(inbox))
                async for event in inbox:
                    if isinstance(event, TaskNote):
                        await self._forward_task(event)
                        continue
                    if not isinstance(event, Event):  # (only events and task notes come here)
                        continue
                    self._seen_at = max(self._seen_at, event.at)
                    if isinstance(event, CallOffered):
                        tasks.create_task(self._offer_safely(event))
                    else:
                        self.note(event)
                        await self._forward(event)

    async def _watch_gaps(self, inbox: Inbox[BusMessage], every_s: float = GAP_CHECK_S) -> None:
        seen = inbox.gaps
        while True:
            await asyncio.sleep(every_s)
            if inbox.gaps != seen:
                seen = inbox.gaps
                await self._push_all(RESYNC)  # task notes may be lost too: every desktop reloads its tasks
                await self.catch_up(self._seen_at - CATCH_UP_MARGIN_S if self._seen_at else self._clock() - 3600)

    async def catch_up(self, since: float) -> None:
        """The bus lost messages (it went away and came back): fold what the log holds
        since `since` and pop each agent's latest offer still open that they were not
        shown (an offer made while the bus was away)."""
        offers: dict[str, CallOffered] = {}
        closed: set[str] = set()
        async for stored in self._store.iter_events(since, self._clock() + 86400):
            event = stored.event
            self.note(event)
            self._seen_at = max(self._seen_at, event.at)
            if isinstance(event, CallOffered):
                offers[event.agent_id] = event
            elif isinstance(event, (CallEnded, CallAbandoned, CallNotAnswered)):
                closed.add(event.call_id)
        self.catch_ups += 1
        log.info("screen_pop_hub_caught_up", since=since, offers=len(offers))
        for agent_id, offer in offers.items():
            shown = (self._last_pop.get(agent_id) or {}).get("call_id")
            if offer.call_id not in closed and shown != offer.call_id:
                await self._offer_safely(offer)

    def note(self, event: Event) -> None:
        """Fold one event into what the hub knows of calls and agents."""
        call_id = call_id_of(event)
        if isinstance(event, CallArrived):
            info = self._calls.setdefault(call_id, {})
            info.update(
                caller=event.caller,
                caller_name=event.caller_name,
                arrived_at=event.at,
                direction=event.direction,
                dialed=event.dialed,
            )
            self._calls.move_to_end(call_id)
            while len(self._calls) > MAX_CALLS:
                self._calls.popitem(last=False)
        elif isinstance(event, CallQueued):
            info = self._calls.setdefault(call_id, {})
            info.update(
                queue=event.queue,
                queued_at=event.at,
                skills=dict(event.skills),
                priority=event.priority,
                customer_id=event.customer_id,
                attributes=dict(event.attributes),
            )
        elif isinstance(event, CallConnected) and event.agent_id:
            self._agent_call.bind(event.agent_id, call_id)
        elif isinstance(event, MonitorStarted):
            self._monitor_modes[(event.agent_id, event.supervisor)] = event.mode
            if event.mode in self._tell:
                self._monitored.setdefault(event.agent_id, {})[event.supervisor] = event.mode
        elif isinstance(event, MonitorEnded):
            told = self._monitored.get(event.agent_id, {})
            told.pop(event.supervisor, None)
            if not told:
                self._monitored.pop(event.agent_id, None)

    def _told(self, event: MonitorStarted | MonitorEnded) -> bool:
        """Is the agent told of this monitoring (its start's mode is one told)?"""
        if isinstance(event, MonitorStarted):
            return event.mode in self._tell
        return self._monitor_modes.pop((event.agent_id, event.supervisor), "") in self._tell

    async def _forward(self, event: Event) -> None:
        agent_id = agent_id_of(event)
        if isinstance(event, CALL_EVENTS):
            if not agent_id:
                agent_id = self._agent_call.agent_on(event.call_id)
                if not agent_id:
                    agent_id = str(self._calls.get(event.call_id, {}).get("offered_to", ""))
            if isinstance(event, (CallEnded, CallAbandoned)) and agent_id:
                if self._agent_call.call_of(agent_id) == event.call_id:
                    self._agent_call.unbind(agent_id)
        elif isinstance(event, MonitorStarted | MonitorEnded):
            if not self._told(event):  # never reaches the agent's browser
                return
        elif not isinstance(event, AGENT_EVENTS):
            return
        if agent_id and agent_id in self._sockets:
            message: dict[str, Any] = {"type": "event", "event": to_record(event)}
            if isinstance(event, AgentStateChanged) and event.state == "wrap_up":
                # the loop set the view before it published the event (cti/live_views.py)
                message["view"] = await self.desktop_view(agent_id, with_pop=False)
            await self._push(agent_id, message)

    async def _offer_safely(self, offer: CallOffered) -> None:
        try:
            await self.offer(offer)
        except Exception:  # one bad offer must not stop the hub
            log.exception("screen_pop_failed", call_id=offer.call_id, agent_id=offer.agent_id)

    async def offer(self, offer: CallOffered) -> dict[str, Any]:
        """Build the pop for an offer, remember it, push it; returns it."""
        agent_id = offer.agent_id
        call_id = offer.call_id
        info = self._calls.setdefault(call_id, {})
        info["offered_to"] = agent_id
        info["offered_at"] = offer.at
        self._agent_call.bind(agent_id, call_id)
        pop = await self.build(offer, info)
        self._last_pop[agent_id] = pop
        sent = await self._push(agent_id, pop)
        self.pops_sent += sent
        log.info(
            "screen_pop",
            call_id=call_id,
            agent_id=agent_id,
            customer_id=(pop["customer"] or {}).get("id", ""),
            source=pop["customer_source"],
            sockets=sent,
        )
        return pop

    async def build(self, offer: CallOffered, info: dict[str, Any]) -> dict[str, Any]:
        attributes = dict(info.get("attributes") or {})
        # a preview or a call-back is offered before it is dialled: show the number to call
        caller = str(
            info.get("caller", "")
            or (attributes.get("phone", "") if attributes.get("preview") else "")
            or attributes.get("callback_number", "")
        )
        account = str(attributes.get("account_number", "") or "")
        customer: dict[str, Any] | None = None
        candidates: list[Customer] = []
        source = "none"
        if self._crm is not None and self._crm.config.enabled:
            card = await self._crm.lookup(self._e164(caller), account)
            if card is not None:
                customer, source = {**card, "source": "crm"}, "crm"
        if customer is None:
            found, candidates = await self._builtin(str(info.get("customer_id", "") or ""), account, caller)
            if found is not None:
                customer, source = customer_card(found, "store"), "store"
        history: list[dict[str, Any]] = []
        if customer is not None and customer.get("id"):
            rows = await self._store.interactions_for_customer(str(customer["id"]), self._history_limit)
            history = [interaction_row(i) for i in rows]
        offered_at = float(offer.at or self._clock())
        queued_at = info.get("queued_at")
        return {
            "type": "screen_pop",
            "call_id": offer.call_id,
            "agent_id": offer.agent_id,
            "queue": offer.queue or info.get("queue", ""),
            "reason": offer.reason,
            "caller": caller,
            "caller_name": info.get("caller_name", ""),
            "direction": info.get("direction", "inbound"),
            "offered_at": offered_at,
            "queued_at": queued_at,
            "wait_s": round(offered_at - float(queued_at), 1) if queued_at is not None else None,
            "ivr_path": list(attributes.get("ivr_path") or []),
            "attributes": attributes,
            "skills": info.get("skills", {}),
            "priority": info.get("priority", 0),
            "customer": customer,
            "customer_source": source,
            "candidates": [customer_card(c, "store") for c in candidates[1:]],
            "history": history,
            "new_customer": customer is None,
        }

    @staticmethod
    def _e164(caller: str) -> str:
        from store.phones import normalize_phone

        try:
            return normalize_phone(caller) if caller else ""
        except InvalidPhone:
            return caller

    async def _builtin(self, customer_id: str, account: str, caller: str) -> tuple[Customer | None, list[Customer]]:
        # what the live loop's lookup of the caller found moments ago (None: not known here)
        known = self._matches.recent(caller) if self._matches is not None and caller else None
        if customer_id:
            same = next((c for c in known or () if c.id == customer_id), None)
            if same is not None:
                return same, []
            try:
                return await self._store.get_customer(customer_id), []
            except NotFound:
                log.info("screen_pop_customer_id_unknown", customer_id=customer_id)
        if account:
            found = await self._store.find_customer_by_account(account)
            if found is not None:
                return found, []
        if caller:
            try:
                matches = list(known) if known is not None else await self._store.find_customers_by_phone(caller)
            except InvalidPhone:
                matches = []
            if matches:
                return matches[0], matches
        return None, []
