"""The live loop's standing agent lines: each logged-in agent's phone kept in its own
conference, so a caller joins it with no ring (docs/asterisk.md).

`StandingLines` drives `AgentLines` (cti/agent_lines.py, the lines' pure state): it
dials a line when an agent logs in (or adopts one the PBX still has up after a
restart), hangs it up at logout, follows the line's channel in and out of its
conference (raw AMI BridgeEnter / BridgeLeave / Hangup), closes a failed dial (its
`OriginateResulted`), follows the directory (campaigns mode: who has a campaign's
skill), and says where a caller goes to reach an agent (`connect_target`). Each
change is logged (`AgentLineChanged`) and shown on the agent's view. With lines off
(`lines` None) every connect dials the agent's phone and nothing here acts.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import structlog

from cti.agent_lines import CONFERENCE_PREFIX, JOIN_CONTEXT, LINE_CONTEXT, AgentLines, conference_of
from cti.ami_codec import Message
from cti.live_directory import AgentEndpoint
from cti.live_items import InLoop
from cti.pbx import PbxError, Target
from events import AgentLineChanged, AgentLoggedIn, AgentLoggedOut, AgentStateChanged, OriginateResulted
from store.models import User

if TYPE_CHECKING:
    from cti.live import LiveCenter

log = structlog.get_logger()

LINE_DIAL_TIMEOUT_S = 60.0  # a line dialled this long ago that never joined its conference failed


class StandingLines:
    """The agents' standing lines, inside the center's consumer."""

    def __init__(self, center: LiveCenter, lines: AgentLines | None, variables: Mapping[str, str] | None) -> None:
        self.center = center
        self.lines = lines  # None: standing lines are off
        self.variables = dict(variables or {})  # the line originate's channel variables
        self._originates: dict[str, str] = {}  # originate id -> agent id

    def on_line(self, agent_id: str) -> bool:
        """Is the agent reached through its standing line now (no own leg per call)?"""
        return self.lines is not None and self.lines.is_up(agent_id)

    def connect_target(self, endpoint: AgentEndpoint) -> Target:
        """Where a caller goes to reach the agent: into the agent's conference while
        its standing line is up (no ring), else agent-connect (dial the phone)."""
        if self.on_line(endpoint.agent_id):
            return Target(JOIN_CONTEXT, endpoint.connect_exten, 1, endpoint.pbx)
        return Target(self.center.agent_connect_context, endpoint.connect_exten, 1, endpoint.pbx)

    # ---------------------------------------------------------------- what the PBX reports

    async def on_ami(self, message: Message) -> None:
        """A standing line's channel joined its conference (up) or left it (down)."""
        if self.lines is None or message.event not in ("BridgeEnter", "BridgeLeave", "Hangup"):
            return
        bridge = message.get("BridgeName")
        if message.event != "Hangup" and not bridge.startswith(CONFERENCE_PREFIX):
            return
        channel = message.get("Channel")
        directory = self.center.directory
        agent = directory.agent_of_channel(channel)
        if not agent:
            return
        now = self.center.clock()
        if message.event == "BridgeEnter":
            if bridge == conference_of(directory.endpoints[agent].connect_exten) and not self.lines.is_up(agent):
                self.lines.came_up(agent, channel, now)
                log.info("agent_line_up", agent_id=agent, channel=channel)
                await self._changed(agent, "up", channel)
        elif self.lines.went_down(agent, channel, now):
            line = self.lines.get(agent)
            log.warning("agent_line_down", agent_id=agent, channel=channel, failures=line.failures if line else 0)
            await self._changed(agent, "down", channel)

    async def on_originate(self, event: OriginateResulted) -> bool:
        """A line's originate result (logged here: True); False when not a line's."""
        agent_id = self._originates.pop(event.originate_id, None)
        if agent_id is None:
            return False
        self.center.eventlog.append(event)
        if not event.success and self.lines is not None:
            log.warning("agent_line_not_answered", agent_id=agent_id, reason=event.reason)
            self.lines.dial_failed(agent_id, event.originate_id, self.center.now(event.at))
            await self._changed(agent_id, "down")
        return True

    # ---------------------------------------------------------------- agents

    async def follow(self, event: AgentLoggedIn | AgentLoggedOut | AgentStateChanged) -> None:
        """Dial a logged-in agent's standing line (or adopt one already up); hang it up
        at logout."""
        if self.lines is None:
            return
        c = self.center
        agent_id = event.agent_id
        endpoint = c.directory.endpoints.get(agent_id)
        if endpoint is None or not endpoint.phone:
            return
        if c.sites is not None and not c.sites.on_first(endpoint.pbx):
            return  # standing lines are the first PBX's (an agent of another is dialled per call)
        if isinstance(event, AgentLoggedOut) or (isinstance(event, AgentStateChanged) and event.state == "logged_out"):
            had_line = self.lines.get(agent_id) is not None
            channel = self.lines.forget(agent_id)
            if channel:
                log.info("agent_line_closed", agent_id=agent_id, channel=channel)
                c.spawn(c.pbx_action(c.pbx.hangup(channel, 16), "line-hangup", ""), "line-hangup")
            if had_line:
                await self._changed(agent_id, "down", channel)
            return
        now = c.clock()
        for stuck in self.lines.check_dialling(now, LINE_DIAL_TIMEOUT_S):
            log.warning("agent_line_not_joined", agent_id=stuck, hint="does the dialplan have [hotline-agent-line]?")
            await self._changed(stuck, "down")
        if not self.lines.should_dial(agent_id, now):
            return
        found = c.pbx_calls.line_channel(endpoint.connect_exten)
        if found:
            self.lines.adopt(agent_id, found, now)
            log.info("agent_line_adopted", agent_id=agent_id, channel=found)
            await self._changed(agent_id, "up", found)
            return
        originate_id = uuid.uuid4().hex
        self.lines.dialling(agent_id, originate_id, now)
        self._originates[originate_id] = agent_id
        log.info("agent_line_dialling", agent_id=agent_id, phone=endpoint.phone)
        await self._changed(agent_id, "dialling")
        c.spawn(self._dial(endpoint, originate_id), "line-originate")

    async def restore(self) -> None:
        """After a (re)start and the first resync: the logged-in agents' lines, adopted
        where the PBX still has them up, else dialled (inside the consumer)."""
        if self.lines is None:
            return
        c = self.center
        now = c.now()
        for agent_id in c.directory.endpoints:
            if c.router.agent_state(agent_id) not in (None, "logged_out"):
                await self.follow(AgentLoggedIn(at=now, agent_id=agent_id))

    async def directory_changed(self, users: Sequence[User], now: float) -> None:
        """Who gets a line now (campaigns mode: who has a campaign's skill): a line no
        longer wanted is hung up."""
        if self.lines is None:
            return
        self.lines.set_agents({u.login: u.skills for u in users})
        for user in users:  # no longer on a line (campaigns mode, the skill went): hang it up
            if self.lines.get(user.login) is not None and not self.lines.wanted(user.login):
                await self.follow(AgentLoggedOut(at=now, agent_id=user.login))

    async def agent_edited(self, agent_id: str, now: float) -> None:
        """An agent added or edited in the directory: on a line now, if logged in?"""
        if self.lines is not None and self.center.router.agent_state(agent_id) not in (None, "logged_out"):
            await self.follow(AgentLoggedIn(at=now, agent_id=agent_id))

    # ---------------------------------------------------------------- internals

    async def _changed(self, agent_id: str, state: str, channel: str = "") -> None:
        """Logged and shown on the agent's desktop (and in the agents state map)."""
        c = self.center
        await c.record(AgentLineChanged(at=c.now(), agent_id=agent_id, state=state, channel=channel))
        await c.views.line_changed(agent_id, state)

    async def _dial(self, endpoint: AgentEndpoint, originate_id: str) -> None:
        c = self.center
        try:
            await c.pbx.originate(
                endpoint.phone,
                context=LINE_CONTEXT,
                exten=endpoint.connect_exten,
                caller_id=f'"Hotline line" <{endpoint.connect_exten}>',
                variables=self.variables,
                timeout_s=30.0,
                originate_id=originate_id,
            )
        except PbxError as exc:
            c.stats.actions_failed += 1
            log.warning("agent_line_originate_failed", agent_id=endpoint.agent_id, error=str(exc))
            c.submit(InLoop(functools.partial(self._dial_failed, endpoint.agent_id, originate_id)))

    async def _dial_failed(self, agent_id: str, originate_id: str) -> None:
        """(inside the consumer: line state changes only there)"""
        self._originates.pop(originate_id, None)
        assert self.lines is not None
        self.lines.dial_failed(agent_id, originate_id, self.center.clock())
        await self._changed(agent_id, "down")
