"""The live loop's agent directory: who the agents are, as the router has them.

`Directory` keeps each agent's phone (`AgentEndpoint`: how the PBX reaches the agent,
how the call model names the agent's leg) and routing profile. It handles two inbox
items: `DirectoryChanged` (the admin added, edited or removed agents: the router, the
standing lines and the dialers follow without a restart) and `RulesChanged` (a new
routing rules version). Runs inside the center's consumer, like every collaborator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import structlog

from cti.call_model import AGENT, ModelConfig, classify
from cti.pbxs import PbxNames
from events import AgentLoggedOut
from routing import AgentProfile
from store.models import User

if TYPE_CHECKING:
    from cti.live import LiveCenter
    from cti.live_items import DirectoryChanged, RulesChanged

log = structlog.get_logger()

_CHANNEL_NAMES = ModelConfig()  # how agent legs are named (the recorded dialplan's conventions)


@dataclass(frozen=True, slots=True)
class AgentEndpoint:
    """How the PBX reaches an agent: `connect_exten` in the agent-connect context;
    `model_id` is how the call model names the agent's leg; `phone` is the dial string
    of the agent's phone (what a standing line originates)."""

    agent_id: str
    connect_exten: str
    model_id: str
    phone: str = ""
    pbx: str = ""  # several PBXs: the one the phone is on (its model_id is scoped: cti/pbxs.py)


def endpoint_of(user: User) -> AgentEndpoint | None:
    """`Local/2001@agents` -> exten 2001 (leg "2001"); `SIP/agent1001` -> exten 1001
    (leg "agent1001"), as the recorded dialplan's agent-connect context dials them."""
    tech, _, rest = user.phone_endpoint.partition("/")
    if tech == "Local" and "@" in rest:
        exten = rest.split("@", 1)[0]
        return AgentEndpoint(user.login, exten, exten, user.phone_endpoint)
    if tech in ("SIP", "PJSIP") and rest:
        peer = rest.split("/", 1)[0]
        exten = peer.removeprefix("agent")
        return AgentEndpoint(user.login, exten, peer, user.phone_endpoint)
    return None


def endpoints_of(users: Iterable[User], names: PbxNames | None = None) -> dict[str, AgentEndpoint]:
    """Login -> phone, for the users whose phone endpoint Hotline can dial; with
    several PBXs (`names`), each on its user's PBX, its leg name scoped."""
    found = {e.agent_id: e for e in (endpoint_of(u) for u in users) if e}
    if names is None or not names.several:
        return found
    pbx_of = {u.login: u.pbx or names.first for u in users}
    return {
        login: replace(e, pbx=pbx_of[login], model_id=names.scoped(pbx_of[login], e.model_id))
        for login, e in found.items()
    }


def profile_of(user: User, names: PbxNames | None = None) -> AgentProfile:
    """The router's view of an agent; with several PBXs, attribute `pbx` names the
    agent's (a call restricted to its own PBX's agents reads it: routing/router.py)."""
    attributes = {"pbx": user.pbx or names.first} if names is not None and names.several else {}
    return AgentProfile(
        agent_id=user.login,
        skills=dict(user.skills),
        languages=tuple(user.languages),
        team=user.team,
        attributes=attributes,
    )


class Directory:
    """The agents' phones and profiles (those the router was given at start), followed
    through `DirectoryChanged`; `listeners` are told the new agents (the dialers)."""

    def __init__(self, center: LiveCenter, users: Iterable[User], names: PbxNames | None = None) -> None:
        self.center = center
        self.names = names  # several PBXs: each agent's phone on its own
        users = list(users)
        self._profiles: dict[str, AgentProfile] = {u.login: profile_of(u, names) for u in users}
        self._endpoints: dict[str, AgentEndpoint] = {}
        self._by_model_id: dict[str, str] = {}
        self._set_endpoints(users)
        # Called (inside the consumer) with the agents after a directory change: the
        # outbound dialers follow which agents they dial for.
        self.listeners: list[Callable[[tuple[User, ...]], None]] = []

    @property
    def endpoints(self) -> Mapping[str, AgentEndpoint]:
        return self._endpoints

    def login_of(self, model_id: str) -> str:
        """The agent whose leg the call model names `model_id`, or ""."""
        return self._by_model_id.get(model_id, "")

    def agent_of_channel(self, channel: str) -> str:
        """The agent whose phone leg `channel` is, or ""."""
        pbx = ""
        if self.names is not None:
            pbx, channel = self.names.split(channel)
        role, model_id = classify(channel, _CHANNEL_NAMES)
        if self.names is not None:
            model_id = self.names.scoped(pbx, model_id)
        return self._by_model_id.get(model_id, "") if role == AGENT else ""

    def _set_endpoints(self, users: Iterable[User]) -> None:
        self._endpoints = endpoints_of(users, self.names)
        self._by_model_id = {e.model_id: e.agent_id for e in self._endpoints.values()}

    async def on_rules_changed(self, item: RulesChanged) -> None:
        c = self.center
        now = c.now()
        decisions = c.router.swap_rules(item.rules, now)
        log.info("routing_rules_applied", version=c.router.rules_version, decisions=len(decisions))
        await c.apply(decisions, now)

    async def on_directory_changed(self, item: DirectoryChanged) -> None:
        """New agents join the router (logged out until they log in); edited ones keep
        their state with the new skills (an available agent may take a waiting call at
        once); agents no longer in the directory are logged out and removed. Phones
        and standing lines follow."""
        c, users = self.center, item.users
        now = c.now()
        profiles = {u.login: profile_of(u, self.names) for u in users}
        added = [p for login, p in profiles.items() if login not in self._profiles]
        edited = [p for login, p in profiles.items() if login in self._profiles and self._profiles[login] != p]
        removed = [login for login in self._profiles if login not in profiles]
        if not (added or edited or removed) and endpoints_of(users, self.names) == self._endpoints:
            return
        for login in removed:
            if c.router.agent_state(login) not in (None, "logged_out"):
                await c.agent_event(AgentLoggedOut(at=now, agent_id=login), now)
            await c.apply(c.router.remove_agent(login, now), now)
        self._set_endpoints(users)
        self._profiles = profiles
        await c.standing.directory_changed(users, now)
        for profile in added + edited:
            await c.apply(c.router.add_agent(profile, now), now)
            await c.standing.agent_edited(profile.agent_id, now)  # now on a line?
        for listener in self.listeners:
            try:
                listener(users)
            except Exception:  # a listener's bug never stops routing
                log.exception("directory_listener_failed")
        log.info(
            "agent_directory_changed",
            added=[p.agent_id for p in added],
            edited=[p.agent_id for p in edited],
            removed=removed,
        )
