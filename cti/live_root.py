"""The live loop's composition root: `build_live` wires one server process's live
contact center, and `hotline serve` (cti/live_app.py), the live test rig (sim/rig.py)
and the soak runs (sim/soak.py, through the rig) all take it from here.

What it builds, in the order that breaks the construction cycle (the AMI client feeds
the center; the center acts through the AMI client):

1. the router (the agents from the store, the admin's routing rules) and each agent's
   last state from the event log (restart recovery);
2. the center's inbox (`LiveInbox`) and the call model, then the AMI client with the
   inbox as its event sink, then the PBX actions over that client;
3. the `LiveCenter`, given all of the above and the call model's answers about the
   PBX's channels (`ModelCalls`), the customer lookup, call-backs and standing lines
   from the configuration: nothing is assigned to it afterwards.

`Live.start()` starts the FastAGI IVR, the consumer, the event-log writer, the bus
inputs (agent commands, wrap-ups logged by the web, admin changes), the directory
check, the AMI link, restart recovery (adopt standing lines, close calls that ended
while down) and the configured campaigns' dialers; `stop()` closes them in reverse;
`kill()` drops everything as SIGKILL would (the rig's restart tests).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from agents.team_moves import users_today
from config.recording import RecordingConfig
from config.schema import HotlineConfig
from cti.agent_lines import LINE_CONTEXT, lines_for
from cti.agi import AgiServer
from cti.ami import AmiClient
from cti.bounded import cancel_within
from cti.call_model import CUSTOMER, CallModel, ModelConfig, classify
from cti.eventlog import BufferedEventLog
from cti.live import RAW_EVENTS, LiveCenter, PbxCalls
from cti.live_directory import profile_of
from cti.live_interactions import CustomerLookup
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
from cti.live_pbxs import (
    CallSites,
    IvrServices,
    OtherPbxs,
    PbxLink,
    PbxRouter,
    ScopedCalls,
    ami_settings,
    other_link,
    split_open_calls,
)
from cti.live_recovery import waiting_since
from cti.pbx import AmiPbx, PbxActions
from cti.pbxs import PbxNames
from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged, CallQueued, Event, IvrStepped, WrapUpEnded
from routing import Router, RuleError, load_rules, rules_from_data
from store.bus import Bus
from store.models import User
from store.phone_lookups import CoalescedLookup, PhoneLookup
from store.phone_matches import PhoneMatches
from store.port import EventLog, Store
from store.topics import AGENT_COMMANDS, CONFIG_CHANGES, EVENTS, BadMessage, ConfigChanged, Topic

if TYPE_CHECKING:
    from cti.log_snapshot import LogSnapshot
    from dialer.live import DialerRunner
    from ivr.agi_driver import IvrService
    from ivr.flow import IvrFlow

log = structlog.get_logger()

# The live loop's parts in the aiohttp application (cti/live_app.py puts them there).
LIVE = web.AppKey("live", LiveCenter)
AMI = web.AppKey("ami", AmiClient)
EVENTLOG = web.AppKey("eventlog", BufferedEventLog)

RECOVERY_HORIZON_S = 86_400.0  # how far back the event log is read at start
KILL_WAIT_S = 0.5  # how long a killed live loop's tasks are waited for
STOP_WAIT_S = 5.0  # how long a stopped live loop's cancelled tasks are waited for


# ---------------------------------------------------------------- what the call model tells the loop


class ModelCalls:
    """`PbxCalls` answered by the call model (the PBX's channels as last seen)."""

    def __init__(self, model: CallModel) -> None:
        self.model = model

    def caller_channel(self, call_id: str) -> str:
        view = self.model.call(call_id)
        if view is None:
            return ""
        for name in view.channels:
            role, _ = classify(name, self.model.config)
            if role == CUSTOMER and not name.endswith(";1"):
                return name
        return ""

    def line_channel(self, exten: str) -> str:
        return self.model.channel_at(LINE_CONTEXT, exten)

    def ringing_since(self, call_id: str, context: str) -> float | None:
        return self.model.ringing_since(call_id, context)

    def customer_leg(self, number: str) -> tuple[str, str] | None:
        digits = "".join(ch for ch in number if ch.isdigit())
        if not digits:
            return None
        prefix = f"Local/{digits}@"
        for view in self.model.calls():
            legs = sorted(name for name in view.channels if name.startswith(prefix))
            if legs:
                return view.call_id, legs[0]  # (the ;1 half, as the originate reports it)
        return None

    def customer_leg_up(self, number: str) -> bool:
        """Is there a channel dialled to `number` (a call-back's customer)?"""
        return self.customer_leg(number) is not None


# ---------------------------------------------------------------- what is read at start


async def recent_events(log_: EventLog, now: float, horizon_s: float = RECOVERY_HORIZON_S) -> list[Event]:
    """The event log's last `horizon_s` seconds, in order (restart recovery)."""
    return [stored.event async for stored in log_.iter_events(now - horizon_s, now + 1)]


def restore_agent_states(history: Iterable[Event], router: Router, now: float) -> int:
    """After a restart: each agent's last login/state from the event log."""
    last: dict[str, Event] = {}
    for event in history:
        if isinstance(event, (AgentLoggedIn, AgentLoggedOut, AgentStateChanged)):
            last[event.agent_id] = event
    restored = 0
    for agent_id, event in last.items():
        if isinstance(event, AgentLoggedOut) or router.agent_state(agent_id) is None:
            continue
        router.handle(AgentLoggedIn(at=now, agent_id=agent_id), now)
        if isinstance(event, AgentStateChanged) and event.state == "paused":
            router.handle(AgentStateChanged(at=now, agent_id=agent_id, state="paused", reason=event.reason), now)
        restored += 1
    return restored


async def load_live_ivr(store: Store, config: HotlineConfig) -> IvrFlow | None:
    """The admin's latest applied IVR version, else the configuration file's flow; a
    stored version that no longer validates is logged and the file's flow kept."""
    stored = await store.get_settings_version("ivr")
    if stored is None:
        return config.ivr
    from ivr.text import check

    flow, problems = check(stored.body)
    if flow is None:
        log.error("ivr_flow_rejected", version=stored.version, problems=[p["message"] for p in problems][:5])
        return config.ivr
    return flow


async def load_live_rules(store: Store, config: HotlineConfig) -> Any:
    """The admin's latest applied routing version, else the configuration file's."""
    stored = await store.get_settings_version("routing")
    if stored is not None:
        return load_rules(stored.body, f"routing v{stored.version}")
    return rules_from_data(config.routing, filename="hotline.toml") if config.routing else rules_from_data({})


def customer_lookup(directory: PhoneLookup, matches: PhoneMatches | None = None) -> CustomerLookup:
    """A caller's number -> the first customer with it ("" when none or unreadable).
    What it found is noted in `matches` (the screen pop of the offer then reads it
    there instead of looking the number up again). `build_live` gives it a
    `CoalescedLookup`: lookups that overlap share one query."""

    async def lookup(caller: str) -> str:
        try:
            found = await directory.find_customers_by_phone(caller)
        except ValueError:
            return ""
        if matches is not None:
            matches.note(caller, found)
        return found[0].id if found else ""

    return lookup


async def campaign_skills(config: HotlineConfig, store: Store) -> set[str]:
    """The skills of the enabled campaigns, hotline.toml's and the admin's as they are
    at the start (their agents get standing lines)."""
    from dialer.definitions import campaign_set, live_section
    from dialer.live import parse_live_campaigns

    section = live_section(await campaign_set(store, config.campaigns))
    return {c.live.skill for c in parse_live_campaigns(section) if c.live.enabled} if section else set()


# ---------------------------------------------------------------- the root


@dataclass(eq=False)
class Live:
    """One process's live loop as `build_live` wired it; `start`/`stop`/`kill` own
    everything it runs."""

    config: HotlineConfig
    store: Store
    bus: Bus
    users: list[User]
    center: LiveCenter
    model: CallModel
    client: AmiClient
    eventlog: BufferedEventLog
    open_calls: list[str]  # open in the event log at start: closed if the PBX no longer has them
    restored_agents: int
    clock: Callable[[], float]
    directory_every_s: float = 30.0
    ivr: AgiServer | None = None
    ivr_service: IvrService | None = None  # its flow is swapped when the admin applies a new version
    dialers: list[DialerRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    recovery: asyncio.Task[None] | None = None
    others: OtherPbxs | None = None  # the PBXs after the first (`[[pbx]]`), each its own link
    # the dialers are started and changed one at a time (the start's, an admin's edits)
    _campaigns_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # set once the start's dialers exist: they name the previews kept across a restart,
    # which restart recovery must not end (it waited only for the AMI resync, and a
    # quick resync ended a kept preview as "ended while Hotline was down")
    _dialers_built: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pbx_links(self) -> list[PbxLink]:
        """Every PBX's link, the first first (/healthz)."""
        first = PbxLink(self.config.pbx, self.client, self.model, AmiPbx(self.client))
        return [first, *(self.others.links if self.others is not None else ())]

    async def start(self) -> None:
        """Start everything; returns once the AMI link is connecting (see `recovered`)."""
        center, pbx = self.center, self.config.pbx
        flow = await load_live_ivr(self.store, self.config) if self.config.ivr is not None else None
        services: IvrServices | None = None
        if flow is not None:  # (an IVR is configured: the admin's latest version of it, else the file's)
            self.ivr, self.ivr_service = await start_ivr(flow, pbx.agi_bind, self.store, center.submit, self.clock)
            services = IvrServices([self.ivr_service])  # (and the other PBXs' IVRs, below)
        self.tasks = [
            asyncio.create_task(center.run(), name="live-center"),
            asyncio.create_task(self.eventlog.run(), name="event-log"),
            asyncio.create_task(
                bus_inputs(
                    self.bus, center, self.store, self.config, services, lambda: self.dialers, self.apply_campaigns
                ),
                name="bus-inputs",
            ),
            asyncio.create_task(
                directory_watch(self.store, center, self.users, self.directory_every_s), name="directory-watch"
            ),
        ]
        # written contacts: the open ones back from the store, then the bus and the poll
        log.info("tasks_restored", open=await center.task_routing.restore())
        self.tasks.append(asyncio.create_task(center.task_routing.run(), name="task-routing"))
        await self.client.start()
        if self.others is not None:
            await self.others.start(center, self._ivr_starter(flow), services)
        self.recovery = asyncio.create_task(self._recover(), name="restart-recovery")
        self.tasks.append(self.recovery)
        # outbound campaigns (dialer/live.py), after the AMI link is up: the file's and
        # the admin's (dialer/definitions.py)
        from dialer.control import apply_paused, paused_campaigns
        from dialer.definitions import campaign_set, live_section
        from dialer.live import start_dialers

        async with self._campaigns_lock:
            try:
                campaigns = live_section(await campaign_set(self.store, self.config.campaigns))
                if campaigns:
                    self.dialers = await start_dialers(
                        campaigns, center, self.client, self.store, self.users, pbx_ready=self._pbx_ready
                    )
            finally:
                self._dialers_built.set()
            if self.dialers:
                apply_paused(self.dialers, await paused_campaigns(self.store))  # a pause outlives restarts
                self.tasks += [asyncio.create_task(d.run(), name=f"dialer-{d.campaign.id}") for d in self.dialers]
        log.info(
            "live_started",
            agents=len(self.users),
            restored_agents=self.restored_agents,
            rules_version=center.router.rules_version,
            ami=f"{pbx.ami_host}:{pbx.ami_port}",
            ivr=self.ivr is not None,
            campaigns=len(self.dialers),
        )

    def _pbx_ready(self) -> bool:
        return self.client.connected and not self.client.stale

    async def apply_campaigns(self) -> None:
        """An admin created or edited a campaign (`ConfigChanged("campaigns")`): a new
        enabled one starts dialling (unless paused), an edited one dials by its new
        settings from its next tick, a stopped one dials nothing new (its calls in
        progress finish; it is not started again at the next start)."""
        from dialer.campaign import CampaignConfigError
        from dialer.control import apply_paused, paused_campaigns
        from dialer.definitions import campaign_set, live_section
        from dialer.live import parse_live_campaigns, start_dialer

        async with self._campaigns_lock:
            found = await campaign_set(self.store, self.config.campaigns)
            try:
                campaigns = parse_live_campaigns(live_section(found))
            except CampaignConfigError as exc:  # validated before it was stored; never crash on it
                log.error("campaigns_rejected", problems=str(exc)[:500])
                return
            paused = await paused_campaigns(self.store)
            users = await self.store.list_users("agent")
            running = {d.campaign.id: d for d in self.dialers}
            for campaign in campaigns:
                runner = running.get(campaign.id)
                if runner is None and campaign.live.enabled:
                    runner = await start_dialer(
                        campaign, self.center, self.client, self.store, users, pbx_ready=self._pbx_ready
                    )
                    apply_paused([runner], paused)
                    self.dialers.append(runner)
                    self.tasks.append(asyncio.create_task(runner.run(), name=f"dialer-{campaign.id}"))
                    log.info("campaign_started_live", campaign=campaign.id, paused=runner.paused)
                elif runner is not None and (runner.campaign != campaign or runner.deleted):  # (or back by a restore)
                    self.center.submit(InLoop(functools.partial(_reconfigure, runner, campaign, users, paused)))
            listed = {c.id for c in campaigns}
            for runner in self.dialers:  # gone from the definitions (a restore, a delete): stopped
                if runner.campaign.id not in listed and runner.campaign.live.enabled:
                    stopped = replace(runner.campaign, live=runner.campaign.live.model_copy(update={"enabled": False}))
                    self.center.submit(
                        InLoop(functools.partial(_reconfigure, runner, stopped, users, paused, listed=False))
                    )
                if runner.campaign.id in found.deleted and not runner.deleted:
                    self.center.submit(InLoop(runner.retire))  # (not started at the next start either)

    def _ivr_starter(self, flow: IvrFlow | None) -> Callable[[str, Callable[[InboxItem], None]], Any] | None:
        """Another PBX's FastAGI IVR: the same flow on its own `agi_bind`."""
        if flow is None:
            return None

        async def start(bind: str, submit: Callable[[InboxItem], None]) -> tuple[AgiServer, IvrService]:
            return await start_ivr(flow, bind, self.store, submit, self.clock)

        return start

    async def _recover(self) -> None:
        """After the first resync: adopt the standing lines still up, take back the
        call-back promises from the store, and close the calls the log has open that
        the PBX no longer has (not a call-back followed again); then take back the
        agent commands sent while the loop was down (applied in order, or expired) and
        poll for both."""
        await self.center.recovery.write_lost_rows()  # (the store's, the PBX not needed)
        await self.client.wait_ready(timeout=3600)
        self.center.submit(InLoop(self.center.standing.restore))
        model, center = self.model, self.center
        # (the promises first: a call-back the PBX still has is followed, not ended)
        promises = await center.callbacks.restore(ModelCalls(model).customer_leg_up)
        log.info("callbacks_restored", open=promises)
        if self.open_calls:
            await self._dialers_built.wait()  # (their kept previews are not calls that ended)
            await center.wait_idle()
            ended = center.recovery.end_vanished(
                self.open_calls, lambda call_id: model.call(center.dials.pbx_call_of(call_id)) is not None, self.clock()
            )
            log.info("restart_recovered_calls", open_in_log=len(self.open_calls), ended_while_down=ended)
        commands = await center.commands.restore()
        log.info("agent_commands_restored", pending=commands)
        self.tasks.append(asyncio.create_task(center.commands.poll(), name="command-poll"))
        self.tasks.append(asyncio.create_task(self.center.callbacks.poll(), name="callback-poll"))

    async def recovered(self, timeout: float) -> None:
        """Until restart recovery ran (the AMI link is up and resynced)."""
        assert self.recovery is not None, "start() first"
        await asyncio.wait_for(asyncio.shield(self.recovery), timeout)

    async def stop(self, flush_timeout_s: float = 5.0) -> bool:
        """Close the AMI link and the IVR, flush the event log (False if it could not
        within `flush_timeout_s`: logged), then cancel the tasks."""
        flushed = True
        try:
            if self.others is not None:
                await self.others.stop()
            await self.client.close()
            if self.ivr is not None:
                await self.ivr.stop()
            try:
                await asyncio.wait_for(self.eventlog.flushed(), timeout=flush_timeout_s)
            except TimeoutError:
                flushed = False
                log.error("event_log_not_flushed", backlog=self.eventlog.backlog)
            try:  # the interaction rows of the calls ended so far (queued for a batch)
                await asyncio.wait_for(self.center.interactions.flushed(), timeout=flush_timeout_s)
            except TimeoutError:
                flushed = False
                log.error("interactions_not_flushed")
        finally:
            await self._cancel_tasks()
        return flushed

    async def kill(self) -> None:
        """As SIGKILL would: no AMI Logoff, no flush; the PBX and the store live on. (The
        AMI link first, and tasks that do not end at once are left to end: on a silent
        network cut a cancelled store call does not, and a deposed leader must not wait.)"""
        self.client.abort()
        left = await cancel_within(self.tasks, KILL_WAIT_S)
        if left:
            log.warning("live_tasks_left_ending", tasks=left)
        if self.ivr is not None:
            await self.ivr.stop()
        if self.others is not None:
            await self.others.kill()

    async def _cancel_tasks(self) -> None:
        """Bounded: a task that does not end at its cancel (one a library's
        `asyncio.wait_for` swallowed on Python 3.11) is left to end in the background,
        and the server stops all the same."""
        left = await cancel_within(self.tasks, STOP_WAIT_S)
        if left:
            log.warning("live_tasks_left_ending", tasks=left)


async def build_live(
    config: HotlineConfig,
    store: Store,
    bus: Bus,
    *,
    clock: Callable[[], float] = time.time,
    time_scale: float = 1.0,
    events: list[Event] | None = None,
    reconnect_s: tuple[float, float] | None = None,
    seed: int = 0,
    line_skills: Collection[str] | None = None,
    directory_every_s: float = 30.0,
    fence: Callable[[], str | None] | None = None,
    epoch: int = 0,
    snapshot: LogSnapshot | None = None,
    phone_matches: PhoneMatches | None = None,
) -> Live:
    """Wire the live loop from the validated configuration (`[pbx]`, `[routing]`,
    `[ivr]`, `[campaigns]`), the store and the bus. Nothing runs until `Live.start()`.

    The rig's conveniences: `clock` and `time_scale` (an emulator running fast),
    `events` (every domain event the call model reports is appended to it),
    `reconnect_s` (the AMI client's (min, max) reconnect delays), the router's `seed`,
    `line_skills` (skills whose agents get standing lines in "campaigns" mode, for
    campaigns run outside the configuration; default: the campaigns' at the start).
    `fence`: None while this process may act on the PBX, else why not (the leader's
    term, cti/leadership.py); every PBX action checks it first, and the event log writes
    nothing once it says no. `epoch`: the leader's term, on every event it logs.
    `snapshot`: the log as a hot standby followed it (cti/log_snapshot.py), read
    instead of the last 24 hours of the log. `phone_matches`: where the caller lookups'
    results are noted for this process's screen pops (store/phone_matches.py)."""
    pbx = config.pbx
    names = PbxNames(p.name for p in config.pbxs)
    users = await users_today(store, clock(), "agent")  # (an agent moved for the day: that team)
    router = Router(await load_live_rules(store, config), seed=seed)
    for user in users:
        router.add_agent(profile_of(user, names))
    now = clock()
    history = snapshot.events(now) if snapshot is not None else await recent_events(store, now)
    # (the agents no later than the longest-waiting call began to wait: it goes back in
    # line at that time after the first resync, cti/live_recovery.py)
    since = waiting_since(history)
    restored = restore_agent_states(history, router, now if since is None else min(now, since))

    inbox = LiveInbox()
    model = CallModel(ModelConfig())
    on_events = inbox.put_events if events is None else _recorded(events, inbox.put_events)
    settings = ami_settings(pbx, reconnect_s)

    def on_resync(batch: list[Event]) -> None:
        """A resync's events: restart recovery acts around the first one's."""
        if events is not None:
            events.extend(batch)
        for item in center.recovery.resynced(batch):
            inbox.put(item)

    client = AmiClient(settings, model, on_events, clock=clock, on_resync=on_resync)
    for name in RAW_EVENTS:
        client.subscribe(name, inbox.put)
    skills = line_skills if line_skills is not None else await campaign_skills(config, store)
    first = AmiPbx(client, fence=fence)
    actions: PbxActions = first
    calls: PbxCalls = ModelCalls(model)
    others: OtherPbxs | None = None
    if names.several:  # several Asterisks: one link each, one router (cti/live_pbxs.py)
        links = [
            other_link(
                cfg,
                names,
                on_events=on_events,
                on_message=inbox.put,
                on_resync=on_resync,
                raw_events=RAW_EVENTS,
                clock=clock,
                fence=fence,
                reconnect_s=reconnect_s,
            )
            for cfg in config.pbxs[1:]
        ]
        others = OtherPbxs(names, links)
        by_name = {names.first: PbxLink(pbx, client, model, first), **{link.name: link for link in links}}
        actions = PbxRouter(names, by_name)
        calls = ScopedCalls(
            names,
            {name: ModelCalls(link.model) for name, link in by_name.items()},
            {name: link.model for name, link in by_name.items()},
        )
    center = LiveCenter(
        router=router,
        pbx=actions,
        pbx_calls=calls,
        eventlog=BufferedEventLog(store, epoch=epoch, fence=fence),
        bus=bus,
        inbox=inbox,
        store=store,
        customer_lookup=customer_lookup(CoalescedLookup(store), phone_matches),
        clock=clock,
        time_scale=time_scale,
        callback_dial=pbx.callback_dial,
        callback_variables=pbx.callback_variables,
        callbacks=store,
        callback_attempts=pbx.callback_attempts,
        callback_retry_s=pbx.callback_retry_s,
        callback_poll_s=pbx.callback_poll_s,
        callback_agent_s=pbx.callback_agent_s,
        commands=store,
        command_ttl_s=pbx.command_ttl_s,
        lines=lines_for(pbx.standing_lines, {u.login: u.skills for u in users}, skills),
        line_variables=pbx.line_variables,
        agents=users,  # (the router has them: add_agent above)
        recording=await _recording_policy(store, config),
        recordings=store,
        sites=CallSites(names, {p.name: p for p in config.pbxs}) if names.several else None,
        tasks=store,
    )
    center.dials.dnc, center.dials.manual_window = store, pbx.manual_dial_window  # (manual dials)
    open_calls = center.recovery.preload(history)
    if others is not None:
        open_calls, others.open_calls = split_open_calls(names, open_calls)
    if snapshot is not None:  # /healthz: the day's calls, not this process's
        snapshot.count_today(center.stats, now)
    else:
        center.recovery.count_today(history, now)
    return Live(
        config=config,
        store=store,
        bus=bus,
        users=users,
        center=center,
        model=model,
        client=client,
        eventlog=center.eventlog,
        open_calls=open_calls,
        restored_agents=restored,
        clock=clock,
        directory_every_s=directory_every_s,
        others=others,
    )


def _recorded(record: list[Event], sink: Callable[[list[Event]], None]) -> Callable[[list[Event]], None]:
    def on_events(batch: list[Event]) -> None:
        record.extend(batch)
        sink(batch)

    return on_events


# ---------------------------------------------------------------- inputs from other processes


async def bus_inputs(
    bus: Bus,
    center: LiveCenter,
    store: Store,
    config: HotlineConfig,
    ivr: IvrService | IvrServices | None = None,
    dialers: Callable[[], list[DialerRunner]] = list,
    campaigns_changed: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """From desktops and admins (any server process) to the live loop: agent commands
    (the contract, agents/commands.py, parses them: a malformed one is answered),
    wrap-ups the web logged itself, and admin changes (agents, routing rules,
    campaigns: `campaigns_changed`, `Live.apply_campaigns`)."""
    typed: dict[str, Topic[Any]] = {CONFIG_CHANGES.name: CONFIG_CHANGES, EVENTS.name: EVENTS}
    while True:
        try:
            async with bus.subscribe(AGENT_COMMANDS.name, *typed, wanted=_wrap_ups_only) as sub:
                async for channel, raw in sub:
                    if channel == AGENT_COMMANDS.name:
                        await center.handle_agent_command(raw)
                        continue
                    topic = typed.get(channel)
                    if topic is None:
                        continue
                    if channel == EVENTS.name and not (isinstance(raw, dict) and raw.get("kind") == "WrapUpEnded"):
                        continue  # the loop's own events coming back: only the web's wrap-ups matter here
                    try:
                        message = topic.decode(raw)
                    except BadMessage as exc:
                        log.warning("bus_message_malformed", channel=channel, error=exc.reason)
                        continue
                    if (
                        campaigns_changed is not None
                        and isinstance(message, ConfigChanged)
                        and message.section == "campaigns"
                    ):
                        await campaigns_changed()
                        continue
                    await _on_bus_message(message, center, store, config, ivr, dialers)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the bus went away: try again, routing goes on meanwhile
            log.warning("agent_commands_lost", error=type(exc).__name__)
            await asyncio.sleep(1.0)


def _wrap_ups_only(channel: str, data: bytes) -> bool:
    """Of the events channel only the web's wrap-ups are read here: the loop's own events
    coming back (every one of them) are not decoded. A text naming WrapUpEnded is decoded
    and its kind checked as before."""
    return channel != EVENTS.name or b"WrapUpEnded" in data


async def _on_bus_message(
    message: Event | ConfigChanged,
    center: LiveCenter,
    store: Store,
    config: HotlineConfig,
    ivr: IvrService | IvrServices | None = None,
    dialers: Callable[[], list[DialerRunner]] = list,
) -> None:
    match message:
        case WrapUpEnded():  # the web logged it (the desktop's wrap-up form): route it, do not log it again
            center.submit(LoggedElsewhere(message))
        case ConfigChanged(section="users"):
            center.submit(DirectoryChanged(tuple(await users_today(store, center.now(), "agent"))))
        case ConfigChanged(section="routing"):
            try:
                center.submit(RulesChanged(await load_live_rules(store, config)))
            except RuleError as exc:  # validated before it was stored; never crash on it
                log.error("routing_rules_rejected", problems=str(exc)[:500])
        case ConfigChanged(section="campaign_control"):
            from dialer.control import paused_campaigns

            paused = await paused_campaigns(store)
            center.submit(InLoop(functools.partial(_pause_dialers, dialers(), paused)))
        case ConfigChanged(section="recording_policy"):
            from cti.recording_policy import live_recording

            recording, version = await live_recording(store, config.recording)
            center.submit(InLoop(functools.partial(_set_recording, center, recording)))
            log.info("recording_policy_applied", version=version)
        case ConfigChanged(section=name) if name.startswith("campaign_leads."):  # leads uploaded (dialer/uploads.py)
            from dialer.uploads import uploaded_leads

            for runner in dialers():
                if name == f"campaign_leads.{runner.campaign.id}":
                    leads = await uploaded_leads(store, runner.campaign.id, runner.campaign.config.default_region)
                    center.submit(InLoop(functools.partial(runner.add_uploaded, leads)))
        case ConfigChanged(section="ivr") if ivr is not None:
            flow = await load_live_ivr(store, config)
            if flow is not None:  # the next caller walks the new flow; those in the IVR finish the old one
                ivr.flow = flow
                log.info("ivr_flow_applied", version=message.version)


async def _recording_policy(store: Store, config: HotlineConfig) -> RecordingConfig:
    """`[recording]` with an admin's policy (cti/recording_policy.py): it outlives restarts."""
    from cti.recording_policy import live_recording

    return (await live_recording(store, config.recording))[0]


async def _set_recording(center: LiveCenter, recording: RecordingConfig) -> None:
    """Inside the consumer: the next call connected is recorded by the new policy."""
    center.recorder.config = recording


async def _reconfigure(
    runner: DialerRunner, campaign: Any, users: list[User], paused: set[str], listed: bool = True
) -> None:
    """Inside the consumer: an edited campaign (a stopped one is paused); `listed`: in
    the definitions (a deleted one back by a restore is no longer deleted)."""
    from dialer.control import apply_paused

    if listed:
        runner.deleted = False
    runner.reconfigure(campaign, users)
    apply_paused([runner], paused)


async def _pause_dialers(runners: list[DialerRunner], paused: set[str]) -> None:
    """Inside the consumer (the dialers' ticks run there too)."""
    from dialer.control import apply_paused

    apply_paused(runners, paused)


async def directory_watch(store: Store, center: LiveCenter, users: list[User], every_s: float = 30.0) -> None:
    """Agents edited where no bus message tells the live loop (`hotline user add` on a
    server with the in-process bus, another tool writing the store), and the day's team
    moves ending at midnight (agents/team_moves.py): it compares the stored directory
    every `every_s` and hands a change to the loop."""
    last = tuple(users)
    while True:
        await asyncio.sleep(every_s)
        try:
            now = tuple(await users_today(store, center.now(), "agent"))
        except Exception as exc:  # noqa: BLE001 - the store is away: routing goes on with what it knows
            log.warning("agent_directory_unavailable", error=type(exc).__name__)
            continue
        if now != last:
            last = now
            center.submit(DirectoryChanged(now))


async def start_ivr(
    flow: IvrFlow,
    bind: str,
    store: Store,
    submit: Callable[[InboxItem], Awaitable[None] | None],
    clock: Callable[[], float] = time.time,
) -> tuple[AgiServer, IvrService]:
    """The FastAGI IVR (the validated `[ivr]` flow) on `bind`, handing callers to the
    live loop through `submit`; and its service (whose `flow` a new version replaces).
    A `submit` that returns an awaitable (a standby's, cti/handoffs.py) is awaited
    before the session goes on."""
    from ivr.agi_driver import IvrService, customer_lookup_from_store
    from ivr.engine import IvrOutcome

    async def hand(item: InboxItem) -> None:
        handed = submit(item)
        if handed is not None:
            await handed

    async def on_step(event: IvrStepped) -> None:
        await hand(event)

    async def on_outcome(call_id: str, caller: str, outcome: IvrOutcome) -> None:
        if outcome.action not in ("queue", "callback"):
            return
        attributes = dict(outcome.attributes)
        if outcome.language:
            attributes["language"] = outcome.language
        if outcome.action == "callback":
            await hand(
                CallbackRequested(
                    call_id=call_id,
                    number=caller,
                    queue=outcome.queue,
                    skills=dict(outcome.skills),
                    priority=outcome.priority,
                    customer_id=outcome.customer_id,
                    attributes=attributes,
                )
            )
            return
        await hand(
            IvrHandOff(
                CallQueued(
                    at=clock(),
                    call_id=call_id,
                    queue=outcome.queue,
                    skills=outcome.skills,
                    priority=outcome.priority,
                    customer_id=outcome.customer_id,
                    attributes=attributes,
                )
            )
        )

    service = IvrService(flow, customer_lookup_from_store(store), on_step, on_outcome, clock=clock)
    host, _, port = bind.rpartition(":")
    server = AgiServer({"ivr": service.handle})
    await server.start(host, int(port))
    return server, service
