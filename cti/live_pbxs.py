"""Several Asterisks behind one live loop (`[[pbx]]` entries): one AMI link and call
model per PBX, one router for all.

- `PbxLink`: one PBX's AMI client, call model, actions and FastAGI IVR. Each link
  connects, reconnects and resyncs on its own: one PBX's link down stops nothing on
  the others (its calls wait for its resync; the router goes on routing the rest).
- `PbxRouter`: the `PbxActions` port over the links. Channels and endpoints are
  scoped (`NAME:...`, cti/pbxs.py): an action goes to the PBX its channel is on.
  A Redirect to an agent of another PBX (`Target.pbx`) goes through the channel's
  PBX's trunk: `Setvar HOTLINE_TRUNK_DIAL=<trunk_dial with the agent's extension>`,
  then `Redirect` to `hotline-trunk,<extension>,1`, whose dialplan Dials it
  (docs/asterisk.md). A PBX without a `trunk_dial` refuses it (PbxError).
- `ScopedCalls`: the `PbxCalls` questions asked of the right PBX's call model.
- `CallSites`: what the center asks about PBXs: the call attribute `pbx` on every
  queued call, and `agent_pbx` (routing/router.py: only that PBX's agents) on the
  calls of a PBX with `cross_pbx = "same_pbx"`; and who a trunk leg is: the call
  model of PBX A names the leg towards PBX B after the trunk's endpoint, not the
  agent, so it is the agent of B the call was offered to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from config.schema import PbxConfig
from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel, ModelConfig
from cti.pbx import ActionDone, AmiPbx, OriginateQueued, PbxError, Target, VariableValue
from cti.pbxs import PbxNames
from events import CallQueued, Event

if TYPE_CHECKING:
    from cti.agi import AgiServer
    from cti.live import LiveCenter, PbxCalls
    from cti.live_items import InboxItem
    from ivr.agi_driver import IvrService
    from ivr.flow import IvrFlow

log = structlog.get_logger()

# Each PBX's link in the aiohttp application (/healthz), the first first (cti/live_app.py).
PBX_LINKS = web.AppKey("pbx_links", list)

TRUNK_CONTEXT = "hotline-trunk"  # where a caller is sent to reach another PBX's agent
TRUNK_VARIABLE = "HOTLINE_TRUNK_DIAL"  # the dial string it Dials


# ---------------------------------------------------------------- one PBX


@dataclass(eq=False)
class PbxLink:
    """One PBX: its configuration, AMI client, call model and actions."""

    config: PbxConfig
    client: AmiClient
    model: CallModel
    pbx: AmiPbx
    ivr: AgiServer | None = None
    ivr_service: IvrService | None = None

    @property
    def name(self) -> str:
        return self.config.name

    def health(self) -> dict[str, Any]:
        client = self.client
        status = "ok" if client.connected and not client.stale else ("stale" if client.connected else "down")
        return {
            "name": self.name,
            "status": status,
            "ami": f"{self.config.ami_host}:{self.config.ami_port}",
            "connections": client.connections,
            "resyncs": client.resyncs,
            "event_filter": client.event_filter_state,
        }


def pbxs_health(links: list[PbxLink]) -> dict[str, Any]:
    """/healthz with several PBXs: `status` is "ok" only if every link is, "degraded"
    if some are (routing goes on for their calls), else the first's; `pbxs` lists each."""
    each = [link.health() for link in links]
    up = sum(1 for h in each if h["status"] == "ok")
    out: dict[str, Any] = {"pbxs": each}
    if 0 < up < len(each):
        out["status"] = "degraded"
    return out


def ami_settings(pbx: PbxConfig, reconnect_s: tuple[float, float] | None = None) -> AmiSettings:
    settings = AmiSettings(
        pbx.ami_host,
        pbx.ami_port,
        pbx.ami_username,
        pbx.ami_secret.get_secret_value(),
        action_timeout_s=pbx.action_timeout_s,
        ping_interval_s=pbx.ping_interval_s,
        event_filter=pbx.ami_event_filter,
    )
    if reconnect_s is not None:
        settings = replace(settings, reconnect_min_s=reconnect_s[0], reconnect_max_s=reconnect_s[1])
    return settings


def other_link(
    config: PbxConfig,
    names: PbxNames,
    *,
    on_events: Callable[[list[Event]], None],
    on_message: Callable[[Any], None],
    on_resync: Callable[[list[Event]], None],
    raw_events: tuple[str, ...],
    clock: Callable[[], float],
    fence: Callable[[], str | None] | None,
    reconnect_s: tuple[float, float] | None = None,
) -> PbxLink:
    """A PBX after the first: what it reports reaches the loop scoped (cti/pbxs.py)."""
    name = config.name
    model = CallModel(ModelConfig())

    def scoped_events(batch: list[Event]) -> None:
        on_events([names.event(name, event) for event in batch])

    def scoped_resync(batch: list[Event]) -> None:
        on_resync([names.event(name, event) for event in batch])

    client = AmiClient(ami_settings(config, reconnect_s), model, scoped_events, clock=clock, on_resync=scoped_resync)
    for event_name in raw_events:
        client.subscribe(event_name, lambda message: on_message(names.message(name, message)))
    return PbxLink(config, client, model, AmiPbx(client, fence=fence))


# ---------------------------------------------------------------- actions


def trunk_dial(pbx: PbxConfig, target: Target, action: str) -> str:
    """How `pbx` dials the agent `target` of another PBX (its `trunk_dial` filled in)."""
    if not pbx.trunk_dial:
        raise PbxError(action, f"the agent is on PBX {target.pbx!r} and PBX {pbx.name!r} has no trunk_dial")
    return pbx.trunk_dial.format(exten=target.exten, pbx=target.pbx)


class PbxRouter:
    """`PbxActions` over several PBXs (see the module docstring)."""

    def __init__(self, names: PbxNames, links: Mapping[str, PbxLink]) -> None:
        self.names = names
        self.links = dict(links)

    def _on(self, scoped: str) -> tuple[PbxLink, str]:
        pbx, own = self.names.split(scoped)
        return self.links[pbx], own

    async def originate(self, endpoint: str, **kwargs: Any) -> OriginateQueued:
        link, own = self._on(endpoint)
        return await link.pbx.originate(own, **kwargs)

    async def find_originate(self, originate_id: str) -> list[str]:
        found: list[str] = []
        for link in self.links.values():
            try:
                found += [self.names.scoped(link.name, c) for c in await link.pbx.find_originate(originate_id)]
            except PbxError as exc:
                log.warning("find_originate_failed", pbx=link.name, error=str(exc))
        return found

    async def redirect(
        self, channel: str, target: Target, *, extra_channel: str | None = None, extra_target: Target | None = None
    ) -> ActionDone:
        link, own = self._on(channel)
        extra = self._on(extra_channel)[1] if extra_channel else None
        if target.pbx and target.pbx != link.name:
            dial = trunk_dial(link.config, target, "Redirect")
            await link.pbx.setvar(own, TRUNK_VARIABLE, dial)
            log.info("call_via_trunk", pbx=link.name, to_pbx=target.pbx, exten=target.exten, dial=dial)
            target = Target(TRUNK_CONTEXT, target.exten, 1)
        return await link.pbx.redirect(own, target, extra_channel=extra, extra_target=extra_target)

    async def hangup(self, channel: str, cause: int = 16) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.hangup(own, cause)

    async def blind_transfer(self, channel: str, context: str, exten: str) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.blind_transfer(own, context, exten)

    async def attended_transfer(self, channel: str, exten: str, context: str | None = None) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.attended_transfer(own, exten, context)

    async def hold(self, channel: str) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.hold(own)

    async def resume(self, channel: str, agent_exten: str) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.resume(own, agent_exten)

    async def getvar(self, channel: str, name: str) -> VariableValue:
        link, own = self._on(channel)
        value = await link.pbx.getvar(own, name)
        return replace(value, channel=channel)

    async def setvar(self, channel: str, name: str, value: str) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.setvar(own, name, value)

    async def bridge(self, channel1: str, channel2: str, *, tone: bool = False) -> ActionDone:
        link, own1 = self._on(channel1)
        other, own2 = self._on(channel2)
        if other is not link:
            raise PbxError("Bridge", "the two channels are on different PBXs")
        return await link.pbx.bridge(own1, own2, tone=tone)

    async def play(self, channel: str, recording: str) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.play(own, recording)

    async def record(self, channel: str, path: str) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.record(own, path)

    async def mute_recording(self, channel: str, muted: bool) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.mute_recording(own, muted)

    async def stop_recording(self, channel: str) -> ActionDone:
        link, own = self._on(channel)
        return await link.pbx.stop_recording(own)


# ---------------------------------------------------------------- what the call models know


class ScopedCalls:
    """`PbxCalls` over each PBX's own (`calls`: name -> that PBX's ModelCalls)."""

    def __init__(self, names: PbxNames, calls: Mapping[str, PbxCalls], models: Mapping[str, CallModel]) -> None:
        self.names = names
        self.calls = dict(calls)
        self.models = dict(models)

    def caller_channel(self, call_id: str) -> str:
        pbx, own = self.names.split(call_id)
        return self.names.scoped(pbx, self.calls[pbx].caller_channel(own))

    def line_channel(self, exten: str) -> str:
        return self.calls[self.names.first].line_channel(exten)  # standing lines: the first PBX's

    def ringing_since(self, call_id: str, context: str) -> float | None:
        pbx, own = self.names.split(call_id)
        return self.calls[pbx].ringing_since(own, context)

    def customer_leg(self, number: str) -> tuple[str, str] | None:
        for pbx, calls in self.calls.items():
            found = calls.customer_leg(number)
            if found is not None:
                return self.names.scoped(pbx, found[0]), self.names.scoped(pbx, found[1])
        return None

    def customer_leg_up(self, number: str) -> bool:
        return self.customer_leg(number) is not None

    def has_call(self, call_id: str) -> bool:
        pbx, own = self.names.split(call_id)
        return self.models[pbx].call(own) is not None


# ---------------------------------------------------------------- what the center asks


class CallSites:
    """Which PBX a call is on, and who a trunk leg is (see the module docstring)."""

    def __init__(self, names: PbxNames, configs: Mapping[str, PbxConfig]) -> None:
        self.names = names
        self.configs = dict(configs)
        self.cross_pbx = {name: pbx.cross_pbx for name, pbx in configs.items()}  # "same_pbx" | "trunk"

    def queued(self, event: CallQueued) -> CallQueued:
        pbx = self.names.pbx_of(event.call_id)
        attributes = dict(event.attributes)
        if attributes.get("pbx") == pbx and ("agent_pbx" in attributes) == (self.cross_pbx.get(pbx) == "same_pbx"):
            return event
        attributes["pbx"] = pbx
        if self.cross_pbx.get(pbx, "same_pbx") == "same_pbx":
            attributes["agent_pbx"] = pbx
        else:
            attributes.pop("agent_pbx", None)
        return replace(event, attributes=attributes)

    def via_trunk(
        self, endpoint: str, target: Target, variables: Mapping[str, str]
    ) -> tuple[Target, Mapping[str, str]]:
        """Where an Originate of `endpoint` (on its PBX) goes to reach `target`: the
        target itself, or for another PBX's agent `hotline-trunk` with the trunk's dial
        string as HOTLINE_TRUNK_DIAL (as a Redirect does, PbxRouter)."""
        pbx = self.names.pbx_of(endpoint)
        if not target.pbx or target.pbx == pbx:
            return target, variables
        dial = trunk_dial(self.configs[pbx], target, "Originate")
        return Target(TRUNK_CONTEXT, target.exten, 1), {**variables, TRUNK_VARIABLE: dial}

    def on_first(self, pbx: str) -> bool:
        """Is `pbx` ("" = unnamed) the first PBX (where standing lines are kept)?"""
        return pbx in ("", self.names.first)

    def trunk_agent(self, center: LiveCenter, call_id: str, leg: str) -> str:
        """The agent a call's unknown agent leg stands for: the agent of another PBX
        the call was offered to (or is with), reached through this PBX's trunk; "" if
        the call is with no such agent."""
        state = center.calls.get(call_id)
        if state is None:
            return ""
        pbx = self.names.pbx_of(call_id)
        if self.names.pbx_of(leg) != pbx:
            return ""
        for agent in (state.offered_to, state.agent):
            endpoint = center.endpoints.get(agent) if agent else None
            if endpoint is not None and endpoint.pbx and endpoint.pbx != pbx:
                return agent
        return ""


# ---------------------------------------------------------------- the PBXs after the first


@dataclass(eq=False)
class OtherPbxs:
    """The links after the first (which `Live` runs as before), started, recovered and
    stopped along with it; `open_calls`: their calls the log has open at start."""

    names: PbxNames
    links: list[PbxLink]
    open_calls: dict[str, list[str]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(
        self,
        center: LiveCenter,
        start_ivr: Callable[[str, Callable[[InboxItem], None]], Any] | None,
        services: IvrServices | None = None,
    ) -> None:
        """Each link's IVR (on its own agi_bind; its service joins `services`), AMI link
        and restart recovery."""
        for link in self.links:
            if start_ivr is not None:
                link.ivr, link.ivr_service = await start_ivr(
                    link.config.agi_bind, self._scoped_submit(link.name, center.submit)
                )
                if services is not None:
                    services.services.append(link.ivr_service)
            await link.client.start()
            self.tasks.append(asyncio.create_task(self._recover(center, link), name=f"recovery-{link.name}"))

    def _scoped_submit(self, pbx: str, submit: Callable[[InboxItem], None]) -> Callable[[InboxItem], None]:
        """The IVR of a PBX hands its calls to the loop with their ids scoped."""
        from cti.live_items import CallbackRequested, IvrHandOff

        names = self.names

        def scoped(item: InboxItem) -> None:
            if isinstance(item, IvrHandOff):
                item = IvrHandOff(names.event(pbx, item.event))
            elif isinstance(item, CallbackRequested):
                item = replace(item, call_id=names.scoped(pbx, item.call_id))
            else:
                item = names.event(pbx, item)
            submit(item)

        return scoped

    async def _recover(self, center: LiveCenter, link: PbxLink) -> None:
        """After this PBX's first resync: the calls the log has open on it that it no
        longer has ended (each PBX on its own: one that is down delays only its own)."""
        await link.client.wait_ready(timeout=3600)
        open_calls = self.open_calls.get(link.name, [])
        if not open_calls:
            return
        await center.wait_idle()
        model, names = link.model, self.names
        ended = center.recovery.end_vanished(
            open_calls, lambda call_id: model.call(names.split(call_id)[1]) is not None, center.clock()
        )
        log.info("restart_recovered_calls", pbx=link.name, open_in_log=len(open_calls), ended_while_down=ended)

    async def stop(self) -> None:
        for link in self.links:
            await link.client.close()
            if link.ivr is not None:
                await link.ivr.stop()
        await self._cancel()

    async def kill(self) -> None:
        await self._cancel()
        for link in self.links:
            link.client.abort()
            if link.ivr is not None:
                await link.ivr.stop()

    async def _cancel(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class IvrServices:
    """Every PBX's IVR service, as one: the admin's new flow version goes to all."""

    def __init__(self, services: list[IvrService]) -> None:
        self.services = services

    @property
    def flow(self) -> IvrFlow:
        return self.services[0].flow

    @flow.setter
    def flow(self, flow: IvrFlow) -> None:
        for service in self.services:
            service.flow = flow


def split_open_calls(names: PbxNames, open_calls: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """(the first PBX's open calls, the others' by PBX)."""
    first: list[str] = []
    others: dict[str, list[str]] = {}
    for call_id in open_calls:
        pbx = names.pbx_of(call_id)
        if pbx == names.first:
            first.append(call_id)
        else:
            others.setdefault(pbx, []).append(call_id)
    return first, others
