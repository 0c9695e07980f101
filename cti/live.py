"""The live contact center: PBX events in, routing decisions out.

One `LiveCenter` per server process that leads routing. Everything that changes
state goes through one inbox and one consumer task, in order: domain events from
the call model (AMI), IVR hand-offs, agent commands from the desktops (bus), and
time (router deadlines, ring timers). The router is the pure core; this module is
its asyncio shell:

- each domain event is logged (buffered event log), published on the bus
  (`events` channel), counted, and fed to the router;
- router decisions become PBX actions: an Offer redirects the waiting caller to
  `agent-connect,<agent extension>,1`; a ring timer returns the caller to hold when
  the agent does not answer in time (RONA) before the dialplan's own Dial timeout;
- agent state changes are published in the `agents` state map for wallboards;
- one interaction row per call is written with customer, queue, agent and outcome.

PBX actions run as tasks owned by the center: a slow or failed action never stalls
the inbox. Nothing is re-sent after an AMI reconnect (see cti/ami.py).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog

from agents import commands as contract
from config.recording import RecordingConfig
from cti.agent_lines import AgentLines
from cti.ami_codec import Message
from cti.bounded import raise_if_cancelled
from cti.call_control import AgentRequest, CallControl, CommandRefused, describe
from cti.eventlog import BufferedEventLog
from cti.live_callbacks import CallbackScheduler
from cti.live_calls import AgentCalls, CallState, RingTimers
from cti.live_commands import CommandKeeper
from cti.live_directory import AgentEndpoint, Directory
from cti.live_interactions import CustomerLookup, InteractionLog
from cti.live_items import (
    CallbackRequested,
    DirectoryChanged,
    InboxItem,
    InLoop,
    IvrHandOff,
    LiveInbox,
    LoggedElsewhere,
    RulesChanged,
)
from cti.live_lines import StandingLines
from cti.live_monitor import Monitors
from cti.live_outbound import AgentDials
from cti.live_pbxs import CallSites
from cti.live_recording import Recorder
from cti.live_recovery import Recovery
from cti.live_tasks import TaskRouting
from cti.live_views import AgentViews
from cti.pbx import PbxActions, PbxError, Target
from events import (
    EVENT_TYPES,
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
    OriginateResulted,
)
from routing import Escalated, FinalStep, Offer, Overflowed, Router, Tick
from store.bus import Bus
from store.models import User
from store.port import AgentCommands, Callbacks, Interactions, Recordings, TaskRows
from store.topics import EVENTS

log = structlog.get_logger()

AGENT_FIELDS = ("agent_id", "from_agent")
# The raw AMI events the center reads besides the call model's domain events (which
# channel to redirect; an agent's leg for attended transfers; standing lines).
RAW_EVENTS = ("MusicOnHoldStart", "DialBegin", "BridgeEnter", "BridgeLeave", "Hangup")
# What a caller hears before a queue's final-step call-back hangs up (a core sound: "Thank you").
FINAL_CALLBACK_RECORDING = "auth-thankyou"
# The router's decisions about a call a written task may own, and the agent events it
# decides, as tuples made once (an `A | B | C` in the loop built a union each decision).
CALL_DECISIONS = (Offer, Escalated, Overflowed, FinalStep)
AGENT_EVENTS = (AgentStateChanged, AgentLoggedIn, AgentLoggedOut)


class PbxCalls(Protocol):
    """What the live loop asks the call model about the PBX's channels now."""

    def caller_channel(self, call_id: str) -> str:
        """The caller's channel to redirect when no MusicOnHoldStart was seen (after a
        resync), or ""."""
        ...

    def line_channel(self, exten: str) -> str:
        """A standing line already up for the agent extension (after a restart), or ""."""
        ...

    def ringing_since(self, call_id: str, context: str) -> float | None:
        """When the agent leg found ringing for the call through `context` began; None
        if it is not such a call."""
        ...

    def customer_leg(self, number: str) -> tuple[str, str] | None:
        """The PBX call with a leg dialled to `number` (a call-back's customer,
        `Local/<number>@…`) and that leg's channel; None if there is none."""
        ...


@dataclass(slots=True)
class LiveStats:
    calls_offered: int = 0
    calls_answered: int = 0
    calls_abandoned: int = 0
    rona: int = 0
    actions_failed: int = 0
    bus_failures: int = 0


class LiveCenter:
    def __init__(
        self,
        *,
        router: Router,
        pbx: PbxActions,
        pbx_calls: PbxCalls,
        eventlog: BufferedEventLog,
        bus: Bus,
        inbox: LiveInbox | None = None,
        store: Interactions | None = None,
        customer_lookup: CustomerLookup | None = None,
        clock: Callable[[], float] = time.time,
        ring_timeout_s: float | None = None,
        dial_timeout_s: float = 20.0,
        agent_connect_context: str = "agent-connect",
        outbound_context: str = "customers",
        callback_dial: str = "Local/{number}@customers",
        callback_variables: Mapping[str, str] | None = None,
        callback_ring_s: float = 30.0,
        callbacks: Callbacks | None = None,
        callback_attempts: int = 3,
        callback_retry_s: float = 600.0,
        callback_poll_s: float = 5.0,
        callback_agent_s: float = 120.0,
        commands: AgentCommands | None = None,
        command_ttl_s: float = 60.0,
        time_scale: float = 1.0,
        lines: AgentLines | None = None,
        line_variables: Mapping[str, str] | None = None,
        agents: Iterable[User] = (),
        recording: RecordingConfig | None = None,
        recordings: Recordings | None = None,
        sites: CallSites | None = None,
        tasks: TaskRows | None = None,
        task_poll_s: float = 2.0,
    ) -> None:
        self.router = router
        self.sites = sites  # several PBXs (cti/live_pbxs.py); None: one
        self.pbx = pbx
        self.pbx_calls = pbx_calls
        self.eventlog = eventlog
        self.bus = bus
        # Interaction rows in the store, and the customer a call is for (the screen-pop).
        self.interactions = InteractionLog(self, store, customer_lookup)
        self.clock = clock
        configured = ring_timeout_s if ring_timeout_s is not None else router.rules.rona.ring_timeout_s
        # Return the caller to hold before the dialplan's own Dial timeout hangs them up.
        self.ring_timeout_s = min(configured, max(dial_timeout_s - 2.0, 1.0))
        self.agent_connect_context = agent_connect_context
        self.outbound_context = outbound_context
        # Standing agent lines (cti/agent_lines.py): None = every connect dials the agent.
        self.standing = StandingLines(self, lines, line_variables)
        # Call-backs and previews: the customer dialled for the agent the call is offered to.
        self.dials = AgentDials(
            self,
            callback_dial=callback_dial,
            callback_variables=callback_variables,
            callback_ring_s=callback_ring_s,
        )
        self.recovery = Recovery(self)  # calls the log has open when this process starts
        # Call-back promises, each a row before it is acted on (None: kept in memory only).
        self.callbacks = CallbackScheduler(
            self,
            callbacks,
            attempts=callback_attempts,
            retry_s=callback_retry_s,
            poll_s=callback_poll_s,
            agent_s=callback_agent_s,
        )
        # Agent commands the web kept as rows: each applied once and answered (None: off the bus only).
        self.commands = CommandKeeper(self, commands, ttl_s=command_ttl_s)
        self.stats = LiveStats()
        self._last_now = 0.0
        self.time_scale = time_scale  # clock seconds per real second (an emulator running fast)
        # The agents' phones and profiles, as the router was given them (`agents`).
        self.directory = Directory(self, agents, sites.names if sites is not None else None)
        self._calls: dict[str, CallState] = {}
        self.agent_calls = AgentCalls()  # agent -> their calls in _calls (kept by CallState)
        self.ring_timers = RingTimers()  # call_id -> (deadline, agent)
        self._call_actions: dict[str, asyncio.Task[Any]] = {}  # call_id -> its last PBX action
        self._inbox = inbox if inbox is not None else LiveInbox()
        self._inbox.on_arrival = self.interactions.look_ahead
        self._tasks: set[asyncio.Task[Any]] = set()
        self._task_numbers = itertools.count(1)
        # Called (inside the consumer) with every event the center logs, and with events
        # logged elsewhere: the outbound dialer follows its calls this way.
        self.listeners: list[Callable[[Event], Awaitable[None]]] = [self.callbacks.on_event]
        self.monitors = Monitors(self)  # supervisors listening to agents' calls (ChanSpy)
        # MixMonitor by the queue's / campaign's policy, one recording per call
        self.recorder = Recorder(self, recording or RecordingConfig(), recordings)
        self.control = CallControl(self)
        self.views = AgentViews(self)  # what desktops and wallboards see (the bus)
        # Written contacts (tasks/desk.py rows) routed by the same router (None: off).
        self.task_routing = TaskRouting(self, tasks, poll_s=task_poll_s)
        # The inbox's dispatch table: each item type and the one handler it goes to.
        self._handlers: dict[type[Any], Callable[[Any], Awaitable[None]]] = {
            **dict.fromkeys(EVENT_TYPES.values(), self.on_event),  # the call model's, the IVR's
            Message: self._note_channel,  # raw AMI (RAW_EVENTS)
            AgentRequest: self._on_command,  # self.control's dispatch table by command type
            IvrHandOff: self._on_hand_off,
            CallbackRequested: self.callbacks.on_requested,
            LoggedElsewhere: self._on_logged_elsewhere,
            InLoop: self._in_loop,
            RulesChanged: self.directory.on_rules_changed,
            DirectoryChanged: self.directory.on_directory_changed,
        }

    # ------------------------------------------------------------ inputs (any thread-free context)

    def on_domain_events(self, events: list[Event]) -> None:
        """Domain events from the call model, in stream order (see `LiveInbox`)."""
        self._inbox.put_events(events)

    def on_ami_message(self, message: Message) -> None:
        """Raw AMI events the router's shell needs: which channel to redirect."""
        self._inbox.put(message)

    def submit(self, item: InboxItem) -> None:
        self._inbox.put(item)

    def channel_fallback(self, call_id: str) -> str:
        """The caller's channel when no MusicOnHoldStart was seen (after a resync), or ""."""
        return self.pbx_calls.caller_channel(call_id)

    async def handle_agent_command(self, message: Mapping[str, Any]) -> None:
        """A command off the bus: `agent_id`, `request_id` and the contract's fields.
        One the web kept as a row is taken from its row, once (`self.commands`)."""
        if await self.commands.on_wake(message):
            return
        request_id = str(message.get("request_id", ""))
        agent_id = message.get("agent_id")
        body = {k: v for k, v in message.items() if k not in ("agent_id", "request_id")}
        try:
            if not isinstance(agent_id, str) or not agent_id:
                raise contract.CommandError("agent_id: required")
            command = contract.parse_command(body)
        except contract.CommandError as exc:
            log.warning("agent_command_rejected", error=str(exc))
            await self._reply(request_id, False, str(exc))
            return
        self.submit(AgentRequest(agent_id, command, request_id))

    async def wait_idle(self) -> None:
        """Until the inbox is drained and its bus writes sent (tests, shutdown)."""
        await self._inbox.join()
        await self.views.outbox.sent()

    # ------------------------------------------------------------ the consumer

    async def run(self) -> None:
        """The one consumer task; owned by the server's cleanup context."""
        try:
            while True:
                # a cancel that came as a customer lookup or a dialler's store call
                # (asyncio.wait_for) answered was swallowed: the loop ends here
                raise_if_cancelled()
                # an item already queued is taken without a timeout (a due deadline is
                # handled after it, by _due, as when the queue's get did not wait)
                item = self._inbox.get_nowait()
                if item is None:
                    timeout = self._until_next_deadline()
                    try:
                        async with asyncio.timeout(timeout):
                            item = await self._inbox.get()
                    except TimeoutError:
                        await self._on_time()
                        continue
                try:
                    await self._process(item)
                except Exception:  # one bad item must not stop routing
                    log.exception("live_item_failed", item=type(item).__name__)
                finally:
                    self._inbox.task_done()
                if self._due():
                    await self._on_time()
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def now(self, at: float | None = None) -> float:
        """The router's time never goes back: an event stamped by the PBX a moment
        before the last tick or command counts as happening then."""
        self._last_now = max(self._last_now, self.clock() if at is None else at)
        return self._last_now

    def _until_next_deadline(self) -> float | None:
        # asked before and after every inbox item: the earliest of three, no list built
        first = self.ring_timers.earliest()
        task_deadline = self.task_routing.next_deadline()  # a written task's offer awaiting its accept
        if task_deadline is not None and (first is None or task_deadline < first):
            first = task_deadline
        router_deadline = self.router.next_deadline()
        if router_deadline is not None and (first is None or router_deadline < first):
            first = router_deadline
        if first is None:
            return None
        return max(0.0, first - self.clock()) / self.time_scale

    def _due(self) -> bool:
        wait = self._until_next_deadline()
        return wait is not None and wait <= 0

    async def _on_time(self) -> None:
        now = self.now()
        for call_id, (deadline, agent_id) in list(self.ring_timers.items()):
            if deadline <= now:
                await self._ring_no_answer(call_id, agent_id, now)
        await self.task_routing.on_time(now)
        await self._apply(self.router.handle(Tick(now), now), now)

    async def _process(self, item: InboxItem) -> None:
        kind = type(item)
        handler = self._handlers.get(kind)
        if handler is None:  # a subclass of a registered type (the AMI client's events are Messages)
            handler = self._handlers[kind] = next(self._handlers[k] for k in kind.__mro__ if k in self._handlers)
        await handler(item)

    async def _on_hand_off(self, item: IvrHandOff) -> None:
        await self.on_event(item.event)

    async def _on_logged_elsewhere(self, item: LoggedElsewhere) -> None:
        now = self.now(getattr(item.event, "at", None))
        await self._apply(self.router.handle(self._translate(item.event), now), now)
        await self.notify(item.event)

    async def _in_loop(self, item: InLoop) -> None:
        await item.fn()

    # ------------------------------------------------------------ channels (raw AMI)

    async def _note_channel(self, message: Message) -> None:
        name = message.event
        call_id = message.get("Linkedid")
        call_id = self.dials.alias(call_id)
        if name == "MusicOnHoldStart" and call_id:
            channel = message.get("Channel")
            if not channel.endswith(";1"):  # the ;1 half of a Local caller is the caller's phone
                self.call(call_id).channel = channel
        elif name == "DialBegin":
            dest = message.get("DestChannel")
            dest_linkedid = message.get("DestLinkedid")
            call_id = self.dials.alias(dest_linkedid) if dest_linkedid else call_id
            agent = self.directory.agent_of_channel(dest)
            if not agent and self.sites is not None:  # the trunk leg to another PBX's agent
                agent = self.sites.trunk_agent(self, call_id, dest)
            if agent and call_id in self._calls:  # (not an agent's line being dialled: no call of ours)
                self._calls[call_id].agent_channels[agent] = dest
        elif name in ("BridgeEnter", "BridgeLeave", "Hangup"):
            self._note_consultation(message, call_id)
            await self.standing.on_ami(message)
            if name == "Hangup":
                await self.monitors.on_hangup(message)

    def _note_consultation(self, message: Message, call_id: str) -> None:
        """An attended transfer's consulted party: its channel enters the consultation
        bridge (what a cancel hangs up); its hang-up ends the consultation (cancelled,
        not answered, or merged into the call: then the call model logs the transfer)."""
        state = self._calls.get(call_id)
        if state is None or not state.consult_target:
            return
        channel = message.get("Channel")
        if message.event == "BridgeEnter" and not state.consult_channel:
            if channel not in state.agent_channels.values() and channel != state.channel:
                state.consult_channel = channel
        elif message.event == "Hangup" and channel in (state.consult_channel, state.agent_channels.get(state.agent)):
            state.consult_target = state.consult_channel = ""

    # ------------------------------------------------------------ what collaborators read

    @property
    def endpoints(self) -> Mapping[str, AgentEndpoint]:
        return self.directory.endpoints

    @property
    def calls(self) -> Mapping[str, CallState]:
        return self._calls

    @property
    def lines(self) -> AgentLines | None:
        """The standing lines' state (None: off)."""
        return self.standing.lines

    def on_line(self, agent_id: str) -> bool:
        """Is the agent reached through its standing line now (no own leg per call)?"""
        return self.standing.on_line(agent_id)

    async def apply(self, decisions: list[Any], now: float) -> None:
        await self._apply(decisions, now)

    def connect_target(self, endpoint: AgentEndpoint) -> Target:
        return self.standing.connect_target(endpoint)

    def call(self, call_id: str) -> CallState:
        """The call's state, begun now if the center did not know it."""
        state = self._calls.get(call_id)
        if state is None:
            state = self._calls[call_id] = CallState(call_id, started_at=self.clock())
            self.agent_calls.add(state)
        return state

    # ------------------------------------------------------------ events

    def _translate(self, event: Event) -> Event:
        """Agent legs as the call model names them -> agent logins; a call-back's PBX
        call id -> the callback it serves."""
        changes: dict[str, Any] = {}
        call_id = getattr(event, "call_id", "")
        alias = self.dials.alias(call_id)
        if alias != call_id:
            changes["call_id"] = alias
        for name in AGENT_FIELDS:
            value = getattr(event, name, None)
            login = self.directory.login_of(value) if value else ""
            if not login and value and self.sites is not None:  # a trunk leg to another PBX's agent
                login = self.sites.trunk_agent(self, changes.get("call_id", call_id), value)
            if login:
                changes[name] = login
        event = replace(event, **changes) if changes else event
        if self.sites is not None and isinstance(event, CallQueued):
            event = self.sites.queued(event)  # which PBX, and whether only its agents may take it
        return event

    async def on_event(self, event: Event) -> None:
        if isinstance(event, OriginateResulted):
            if await self.monitors.on_originate(event):
                return
            if self.dials.owns(event):
                await self.dials.on_dialled(event)
                return
            if await self.standing.on_originate(event):
                return
        event = self._translate(event)
        transferring = self._calls.get(getattr(event, "call_id", ""))
        if (
            transferring is not None
            and transferring.queue_transfer
            and isinstance(event, CallHeld | CallResumed | CallTransferred)
        ):
            return  # the wait in the queue it was transferred to, and the agent who takes it there
        if self.recovery.already_logged(event):
            now = self.now(getattr(event, "at", None))
            if isinstance(event, CallQueued):
                self.call(event.call_id).queued = True
                event = replace(
                    event,
                    customer_id=event.customer_id or self.call(event.call_id).customer_id,
                    queue=event.queue or self.call(event.call_id).queue,
                )
            await self._apply(self.router.handle(event, now), now)
            await self._recording(event, now)
            return
        now = self.now(getattr(event, "at", None))
        if isinstance(event, CallArrived):
            state = self.call(event.call_id)
            if state.attributes.get("manual"):
                return  # our manual dial reaching the customer: logged when it was dialled
            if state.attributes.get("callback") or state.attributes.get("preview"):  # our dial reaching the customer
                event = replace(event, direction="outbound", caller=state.caller)
            else:
                state.caller, state.direction, state.started_at = event.caller, event.direction, event.at
        elif isinstance(event, CallQueued):
            state = self.call(event.call_id)
            if state.queued:
                return  # already with the router (IVR hand-off first, then the hold music)
            state.queued = True
            if not event.queue:  # held by the dialplan, not queued by the IVR: name its queue
                queue = self.router.rules.default_queue or next(iter(event.skills), "")
                event = replace(event, queue=queue)
            if not event.customer_id and state.caller:
                event = replace(event, customer_id=await self.interactions.customer_of(state.caller, event.call_id))
            state.queue, state.customer_id = event.queue, event.customer_id
            state.attributes = dict(event.attributes)
            self.stats.calls_offered += 1
        elif isinstance(event, CallOffered):
            if self.call(event.call_id).offered_to == event.agent_id:
                return  # our own Offer, already logged with the router's reason
            # rung by the PBX itself (app_queue; a call found ringing after a restart): the
            # router holds the agent for it (reserved), not free for another call
            self._publish_only(event)
            await self._apply(self.router.handle(event, now), now)
            self.recovery.found_ringing(event, now)
            return
        elif isinstance(event, CallConnected):
            state = self.call(event.call_id)
            self.ring_timers.pop(event.call_id, None)
            if state.answered and (event.agent_id or state.offered_to) == state.agent:
                # with that agent already (logged and routed): an AMI resync reporting
                # the call again, or the bridge re-made after hold. Counted once.
                log.debug("call_connected_again", call_id=event.call_id, agent_id=state.agent)
                return
            if not state.answered:
                state.answered, state.answered_at = True, event.at
                self.stats.calls_answered += 1
            state.queue_transfer = False
            if state.consult_channel and event.agent_id and event.agent_id != state.agent:
                # the consulted agent took the call (attended transfer completed): their
                # leg is the consultation's
                state.agent_channels[event.agent_id] = state.consult_channel
            state.consult_target = state.consult_channel = ""
            state.agent = event.agent_id or state.offered_to
            event = replace(event, agent_id=state.agent, queue=event.queue or state.queue)
        elif isinstance(event, CallNotAnswered):
            if event.call_id in self.ring_timers:
                return  # our own ring timer decides RONA (the Dial result may follow it)
        elif isinstance(event, CallAbandoned):
            self.ring_timers.pop(event.call_id, None)
            self.stats.calls_abandoned += 1
            event = replace(event, queue=event.queue or self.call(event.call_id).queue)
        elif isinstance(event, CallEnded):
            self.ring_timers.pop(event.call_id, None)
            ended = self._calls.pop(event.call_id, None)
            self.interactions.forget(event.call_id)
            if ended is not None:
                self.agent_calls.remove(ended)
                self.interactions.call_ended(ended, event)
            await self.monitors.on_call_ended(event)
            await self.recorder.on_ended(event.call_id, now)
        await self._record(event)
        await self._apply(self.router.handle(event, now), now)
        await self._recording(event, now)

    async def _recording(self, event: Event, now: float) -> None:
        """A connection may start the call's recording (or adopt one of an earlier process)."""
        if isinstance(event, CallConnected) and event.call_id in self._calls:
            try:
                await self.recorder.on_connected(self._calls[event.call_id], now)
            except (PbxError, CommandRefused) as exc:
                log.warning("recording_not_started", call_id=event.call_id, error=str(exc))

    def _publish_only(self, event: Event) -> None:
        write = EVENTS.write(event)  # encoded once, for the log and the bus
        self.eventlog.append(event, payload=write.text)
        self.spawn(self.views.publish(event, write), "publish")

    async def _record(self, event: Event) -> None:
        write = EVENTS.write(event)  # encoded once, for the log and the bus
        self.eventlog.append(event, payload=write.text)
        await self.views.publish(event, write)
        if isinstance(event, AGENT_EVENTS):
            await self.views.agent_changed(event)
            await self.standing.follow(event)
        await self.notify(event)

    async def record(self, event: Event) -> None:
        """Log, publish and notify an event the center does not route (the dialer's own)."""
        await self._record(event)

    def adopt_calls(self, states: Iterable[CallState]) -> None:
        """Calls the log has open (restart recovery): followed as if seen live."""
        for state in states:
            if state.call_id in self._calls:
                self.agent_calls.remove(self._calls[state.call_id])
            self._calls[state.call_id] = state
            self.agent_calls.add(state)

    async def route(self, event: Event, now: float) -> None:
        """Hand the router an event the center made itself (a manual dial's offer) and apply what it decides."""
        await self._apply(self.router.handle(event, now), now)

    async def notify(self, event: Event) -> None:
        for listener in self.listeners:
            try:
                await listener(event)
            except Exception:  # a listener's bug never stops routing
                log.exception("live_listener_failed", kind=type(event).__name__)

    async def queue_outbound(self, event: CallQueued, channel: str) -> None:
        """An answered outbound call to route (inside the consumer): `channel` is the
        customer leg to redirect to the offered agent."""
        self.call(event.call_id).channel = channel
        await self.on_event(event)

    async def withdraw(self, call_id: str, now: float) -> None:
        """Take a waiting or offered call away from the router without logging an
        abandon (the dialer dropped it and logs DialerDropped itself)."""
        self.ring_timers.pop(call_id, None)
        state = self._calls.get(call_id)
        await self._apply(
            self.router.handle(CallAbandoned(at=now, call_id=call_id, queue=state.queue if state else ""), now), now
        )

    # ------------------------------------------------------------ decisions

    async def _apply(self, decisions: list[Any], now: float) -> None:
        for decision in decisions:
            if isinstance(decision, CALL_DECISIONS) and self.task_routing.owns(decision.call_id):
                await self.task_routing.on_decision(decision, now)  # a written task: to the desktop, not the PBX
            elif isinstance(decision, Offer):
                await self._offer(decision, now)
            elif isinstance(decision, AGENT_EVENTS):
                await self._record(decision)
            elif isinstance(decision, (Escalated, Overflowed)):
                log.info(
                    "call_" + type(decision).__name__.lower(),
                    call_id=decision.call_id,
                    reason=getattr(decision, "reason", ""),
                    to_queue=getattr(decision, "to_queue", ""),
                )
                if isinstance(decision, Overflowed):
                    self.call(decision.call_id).queue = decision.to_queue
            elif isinstance(decision, FinalStep):
                await self._final_step(decision)

    async def _offer(self, offer: Offer, now: float) -> None:
        state = self.call(offer.call_id)
        endpoint = self.directory.endpoints.get(offer.agent_id)
        state.offered_to = offer.agent_id
        state.channel = state.channel or self.channel_fallback(offer.call_id)
        offered = CallOffered(
            at=now, call_id=offer.call_id, agent_id=offer.agent_id, queue=offer.queue, reason=offer.reason
        )
        await self._record(offered)
        log.info(
            "call_routed",
            call_id=offer.call_id,
            agent_id=offer.agent_id,
            wait_s=round(offer.wait_s, 3),
            reason=offer.reason,
        )
        if await self.dials.on_offer(state, offer, endpoint, now):
            return  # a preview (the agent reads the record first) or a call-back (the customer is dialled)
        self.ring_timers[offer.call_id] = (now + self.ring_timeout_s, offer.agent_id)
        if endpoint is None or not state.channel:
            log.error(
                "offer_unroutable",
                call_id=offer.call_id,
                agent_id=offer.agent_id,
                has_endpoint=endpoint is not None,
                has_channel=bool(state.channel),
            )
            return  # the ring timer returns the call to the queue
        channel, target = state.channel, self.standing.connect_target(endpoint)
        self._in_order(offer.call_id, lambda: self.pbx.redirect(channel, target), "redirect")

    async def _ring_no_answer(self, call_id: str, agent_id: str, now: float) -> None:
        self.ring_timers.pop(call_id, None)
        state = self._calls.get(call_id)
        self.stats.rona += 1
        if state is not None and state.channel:
            channel = state.channel
            self._in_order(call_id, lambda: self.pbx.hold(channel), "hold")
        event = CallNotAnswered(at=now, call_id=call_id, agent_id=agent_id, queue=state.queue if state else "")
        await self._record(event)
        await self._apply(self.router.handle(event, now), now)

    async def _final_step(self, step: FinalStep) -> None:
        log.info("call_final_step", call_id=step.call_id, action=step.action, queue=step.queue)
        # logged as a transfer out of the queue: reports count the call as deflected, not abandoned
        await self._record(
            CallTransferred(
                at=self.now(), call_id=step.call_id, mode=step.action, from_agent="", target=step.destination
            )
        )
        state = self._calls.get(step.call_id)
        if state is not None:
            state.attributes["final_step"] = step.action
        if step.action == "voicemail" and state is not None and state.channel:
            channel, recording = state.channel, step.destination or "vm-intro"
            self._in_order(step.call_id, lambda: self.pbx.play(channel, recording), "play")
        elif step.action == "callback" and state is not None:
            await self._final_call_back(step, state)

    async def _final_call_back(self, step: FinalStep, state: CallState) -> None:
        """The queue gave up on the caller: tell them they will be called back, hang up
        (hotline-play: Playback, Hangup), and promise the call-back in their place."""
        number = "".join(ch for ch in state.caller if ch.isdigit() or ch == "+")
        if state.channel:
            channel, recording = state.channel, step.destination or FINAL_CALLBACK_RECORDING
            self._in_order(step.call_id, lambda: self.pbx.play(channel, recording), "play")
        if not number:
            log.error("final_callback_without_number", call_id=step.call_id)
            return
        await self.callbacks.on_requested(
            CallbackRequested(
                call_id=step.call_id,
                number=number,
                queue=step.queue,
                customer_id=state.customer_id,
                attributes={k: v for k, v in state.attributes.items() if k != "final_step"},
                kind="final_step",
            )
        )

    def _in_order(self, call_id: str, action: Callable[[], Awaitable[Any]], name: str) -> None:
        """Run a PBX action on a call's channel after the ones already sent for it: a
        RONA's return to hold must land before the next offer's redirect, never after."""
        previous = self._call_actions.get(call_id)

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)  # its errors are logged
            await self.pbx_action(action(), name, call_id)

        task = self.spawn(run(), name)
        self._call_actions[call_id] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if self._call_actions.get(call_id) is done:
                del self._call_actions[call_id]

        task.add_done_callback(forget)

    async def pbx_action(self, action: Awaitable[Any], name: str, call_id: str) -> None:
        try:
            await action
        except PbxError as exc:
            self.stats.actions_failed += 1
            log.warning("pbx_action_failed", action=name, call_id=call_id, error=str(exc))

    # ------------------------------------------------------------ agent commands

    async def _on_command(self, request: AgentRequest) -> None:
        if await self.commands.repeat(request):
            return  # answered already (a second wake-up): not applied twice
        now = self.now()
        try:
            await self.control.handle(request, now)
        except (PbxError, CommandRefused, ValueError, LookupError) as exc:
            log.info("agent_command_refused", agent_id=request.agent_id, error=str(exc), **describe(request.command))
            await self._reply(request.request_id, False, str(exc))
            return
        await self._reply(request.request_id, True)

    async def agent_event(self, event: Event, now: float) -> None:
        """Log an agent's own event (availability, wrap-up) and route it."""
        await self._record(event)
        await self._apply(self.router.handle(event, now), now)

    async def _reply(self, request_id: str, ok: bool, error: str = "") -> None:
        if not request_id:
            return
        await self.commands.answered(request_id, ok, error)  # on its row first (a kept command)
        await self.publish_reply(request_id, ok, error)

    async def publish_reply(self, request_id: str, ok: bool, error: str = "") -> None:
        body: dict[str, Any] = {"request_id": request_id, "ok": ok}
        if error:
            body["error"] = error
        try:
            await self.bus.publish("agent-replies", body)
        except Exception as exc:  # noqa: BLE001  a lost bus must not stop the loop (the web reads the row)
            log.warning("bus_reply_failed", error=type(exc).__name__)

    # ------------------------------------------------------------ tasks

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"live-{name}-{next(self._task_numbers)}")  # (a uuid4 each was a syscall per task)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live_task_failed", task=task.get_name(), error=repr(task.exception()))
