"""Wires the live loop into `hotline serve`: AMI -> call model -> event log and bus ->
router -> PBX actions, the FastAGI IVR, and agent commands from the desktops.

Enabled by `[pbx] enabled = true`. Everything started here is owned by the app's
cleanup context and stopped in reverse order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiohttp import web

from config.schema import HotlineConfig
from cti.agent_lines import LINE_CONTEXT, lines_for
from cti.agi import AgiServer
from cti.ami import AmiClient, AmiSettings
from cti.call_model import CUSTOMER, CallModel, ModelConfig, classify
from cti.eventlog import BufferedEventLog
from cti.live import (
    RAW_EVENTS,
    CallbackRequested,
    DirectoryChanged,
    IvrHandOff,
    LiveCenter,
    LoggedElsewhere,
    RulesChanged,
    profile_of,
)
from cti.pbx import AmiPbx
from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged, CallQueued, Event, IvrStepped, from_record
from routing import Router, RuleError, load_rules, rules_from_data
from store import Bus, SqlStore
from store.models import User

log = structlog.get_logger()

LIVE = web.AppKey("live", LiveCenter)
AMI = web.AppKey("ami", AmiClient)
EVENTLOG = web.AppKey("eventlog", BufferedEventLog)


async def recent_events(store: SqlStore, now: float, horizon_s: float = 86_400) -> list[Event]:
    """The event log's last `horizon_s` seconds, in order (restart recovery)."""
    events: list[Event] = []
    after = 0
    while True:
        page = await store.events_between(now - horizon_s, now + 1, after_seq=after, limit=5000)
        if not page:
            return events
        events.extend(s.event for s in page)
        after = page[-1].seq


def restore_agent_states(history: list[Event], router: Router, now: float) -> int:
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


def _customer_channel(model: CallModel, call_id: str) -> str:
    """The customer channel to redirect when no MusicOnHoldStart was seen (after a resync)."""
    view = model.call(call_id)
    if view is None:
        return ""
    for name in view.channels:
        role, _ = classify(name, model.config)
        if role == CUSTOMER and not name.endswith(";1"):
            return name
    return ""


def live_health(app: web.Application, config: HotlineConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pbx status, live figures) for /healthz."""
    if not config.pbx.enabled or AMI not in app:
        return {"status": "disabled" if not config.pbx.enabled else "starting"}, {}
    client, center, eventlog = app[AMI], app[LIVE], app[EVENTLOG]
    status = "ok" if client.connected and not client.stale else ("stale" if client.connected else "down")
    pbx = {"status": status, "connections": client.connections, "resyncs": client.resyncs}
    stats = center.stats
    live = {
        "calls_offered": stats.calls_offered,
        "calls_answered": stats.calls_answered,
        "calls_abandoned": stats.calls_abandoned,
        "event_log": eventlog.health(),
        "bus_failures": stats.bus_failures,
    }
    if center.lines is not None:
        live["standing_lines"] = center.lines.health()
    return pbx, live


def setup_live(app: web.Application, config: HotlineConfig) -> None:
    if config.pbx.enabled:
        app.cleanup_ctx.append(_live_context(config))


def _live_context(config: HotlineConfig) -> Any:
    from cti.server import BUS, STORE

    async def context(app: web.Application) -> AsyncIterator[None]:
        store: SqlStore = app[STORE]
        bus: Bus = app[BUS]
        users = await store.list_users("agent")
        router = Router(await load_live_rules(store, config), seed=0)
        for user in users:
            router.add_agent(profile_of(user))
        now = time.time()
        history = await recent_events(store, now)
        restored = restore_agent_states(history, router, now)
        eventlog = BufferedEventLog(store)
        model = CallModel(ModelConfig())
        pbx_cfg = config.pbx
        center = LiveCenter(
            router=router,
            pbx=None,
            eventlog=eventlog,
            bus=bus,  # type: ignore[arg-type]
            store=store,
            customer_lookup=_lookup_customer(store),
            callback_dial=config.pbx.callback_dial,
            lines=lines_for(
                pbx_cfg.standing_lines,
                {u.login: u.skills for u in users},
                _campaign_skills(config) if pbx_cfg.standing_lines == "campaigns" else (),
            ),
            line_variables=pbx_cfg.line_variables,
        )
        center.know_agents(users)  # (the router has them: add_agent above)
        client = AmiClient(
            AmiSettings(
                pbx_cfg.ami_host,
                pbx_cfg.ami_port,
                pbx_cfg.ami_username,
                pbx_cfg.ami_secret.get_secret_value(),
                action_timeout_s=pbx_cfg.action_timeout_s,
                ping_interval_s=pbx_cfg.ping_interval_s,
            ),
            model,
            center.on_domain_events,
        )
        center.pbx = AmiPbx(client)
        open_calls = center.preload(history)
        center.channel_fallback = lambda call_id: _customer_channel(model, call_id)
        center.line_lookup = lambda exten: model.channel_at(LINE_CONTEXT, exten)
        center.ring_began = lambda call_id: model.ringing_since(call_id, center.agent_connect_context)
        for name in RAW_EVENTS:
            client.subscribe(name, center.on_ami_message)
        agi = await start_ivr(config.ivr, config.pbx.agi_bind, store, center)
        app[LIVE], app[AMI], app[EVENTLOG] = center, client, eventlog
        tasks = [
            asyncio.create_task(center.run(), name="live-center"),
            asyncio.create_task(eventlog.run(), name="event-log"),
            asyncio.create_task(_bus_inputs(bus, center, store, config), name="bus-inputs"),
            asyncio.create_task(_directory_watch(store, center, users), name="directory-watch"),
        ]
        await client.start()
        tasks.append(
            asyncio.create_task(_end_vanished_after_resync(client, center, model, open_calls), name="restart-recovery")
        )
        if config.campaigns:  # outbound campaigns (dialer/live.py), after the AMI link is up
            from dialer.live import start_dialers

            dialers = await start_dialers(
                config.campaigns, center, client, store, users, pbx_ready=lambda: client.connected and not client.stale
            )
            tasks += [asyncio.create_task(d.run(), name=f"dialer-{d.campaign.id}") for d in dialers]
        log.info(
            "live_started",
            agents=len(users),
            restored_agents=restored,
            rules_version=router.rules_version,
            ami=f"{pbx_cfg.ami_host}:{pbx_cfg.ami_port}",
            ivr=agi is not None,
        )
        try:
            yield
        finally:
            await client.close()
            if agi is not None:
                await agi.stop()
            try:
                await asyncio.wait_for(eventlog.flushed(), timeout=5)
            except TimeoutError:
                log.error("event_log_not_flushed", backlog=eventlog.backlog)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return context


def _campaign_skills(config: HotlineConfig) -> set[str]:
    """The skills of the enabled campaigns (their agents get standing lines)."""
    if not config.campaigns:
        return set()
    from dialer.live import parse_live_campaigns

    return {c.live.skill for c in parse_live_campaigns(config.campaigns) if c.live.enabled}


async def _end_vanished_after_resync(
    client: AmiClient, center: LiveCenter, model: CallModel, open_calls: list[str]
) -> None:
    await client.wait_ready(timeout=3600)
    center.restore_lines()  # the model knows the PBX's channels now: adopt lines still up
    if not open_calls:
        return
    await center.wait_idle()
    ended = center.end_vanished(open_calls, lambda call_id: model.call(call_id) is not None, time.time())
    log.info("restart_recovered_calls", open_in_log=len(open_calls), ended_while_down=ended)


def _lookup_customer(store: SqlStore) -> Any:
    async def lookup(caller: str) -> str:
        try:
            found = await store.find_customers_by_phone(caller)
        except ValueError:
            return ""
        return found[0].id if found else ""

    return lookup


async def load_live_rules(store: SqlStore, config: HotlineConfig) -> Any:
    """The admin's latest applied routing version, else the configuration file's."""
    stored = await store.get_settings_version("routing")
    if stored is not None:
        return load_rules(stored.body, f"routing v{stored.version}")
    return rules_from_data(config.routing, filename="hotline.toml") if config.routing else rules_from_data({})


async def _bus_inputs(bus: Bus, center: LiveCenter, store: SqlStore, config: HotlineConfig) -> None:
    """From desktops and admins (any server process) to the live loop: agent commands,
    wrap-ups the web logged itself, and applied routing rule versions."""
    while True:
        try:
            async with bus.subscribe("agent-commands", "config-changes", "events") as sub:
                async for channel, message in sub:
                    if channel == "agent-commands":
                        await center.handle_agent_command(message)
                    elif channel == "events" and message.get("kind") == "WrapUpEnded":
                        center.submit(LoggedElsewhere(from_record(message)))
                    elif channel == "config-changes" and message.get("section") == "users":
                        center.submit(DirectoryChanged(tuple(await store.list_users("agent"))))
                    elif channel == "config-changes" and message.get("section") == "routing":
                        try:
                            center.submit(RulesChanged(await load_live_rules(store, config)))
                        except RuleError as exc:  # validated before it was stored; never crash on it
                            log.error("routing_rules_rejected", problems=str(exc)[:500])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the bus went away: try again, routing goes on meanwhile
            log.warning("agent_commands_lost", error=type(exc).__name__)
            await asyncio.sleep(1.0)


async def _directory_watch(store: SqlStore, center: LiveCenter, users: list[User], every_s: float = 30.0) -> None:
    """Agents edited where no bus message tells the live loop (`hotline user add` on a
    server with the in-process bus, another tool writing the store): it compares the
    stored directory every `every_s` and hands a change to the loop."""
    last = tuple(users)
    while True:
        await asyncio.sleep(every_s)
        try:
            now = tuple(await store.list_users("agent"))
        except Exception as exc:  # the store is away: routing goes on with what it knows
            log.warning("agent_directory_unavailable", error=type(exc).__name__)
            continue
        if now != last:
            last = now
            center.submit(DirectoryChanged(now))


async def start_ivr(ivr: dict[str, Any], bind: str, store: SqlStore, center: LiveCenter) -> AgiServer | None:
    """The FastAGI IVR from the `[ivr]` table, handing callers to the live loop."""
    if not ivr:
        return None
    from ivr.agi_driver import IvrService, customer_lookup_from_store
    from ivr.engine import IvrOutcome
    from ivr.flow import parse_flow

    flow = parse_flow(ivr)

    async def on_step(event: IvrStepped) -> None:
        center.submit(event)

    async def on_outcome(call_id: str, caller: str, outcome: IvrOutcome) -> None:
        if outcome.action not in ("queue", "callback"):
            return
        attributes = dict(outcome.attributes)
        if outcome.language:
            attributes["language"] = outcome.language
        if outcome.action == "callback":
            center.submit(
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
        center.submit(
            IvrHandOff(
                CallQueued(
                    at=time.time(),
                    call_id=call_id,
                    queue=outcome.queue,
                    skills=outcome.skills,
                    priority=outcome.priority,
                    customer_id=outcome.customer_id,
                    attributes=attributes,
                )
            )
        )

    service = IvrService(flow, customer_lookup_from_store(store), on_step, on_outcome)
    host, _, port = bind.rpartition(":")
    server = AgiServer({"ivr": service.handle})
    await server.start(host, int(port))
    return server
