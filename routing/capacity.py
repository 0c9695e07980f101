"""How many contacts of each channel an agent may hold at once (issue 18).

An agent's capacity is a list of allowed combinations ("combos"), each a mapping
channel -> most at once: `[{voice = 1}, {chat = 3}, {voice = 1, email = 2}]` reads "one
call, or up to three chats, or one call and up to two e-mails". What the agent holds
(ringing, connected or wrapping up; its "load") is allowed when one combo covers it
(every channel's count within that combo's). A new contact of channel C may be offered
when the load plus one C is allowed. A channel no combo names is never offered.

`voice_first`: when the agent has a free slot, a waiting call is offered before any
written task, whatever their priorities (else: priority, then the oldest, as ever).

Configured in the routing rules (routing/rules.py, `[capacity]`): a default, per team
and per agent (the agent's wins, then the team's, then the default); an
`AgentProfile.channels` set by the caller wins over all. No capacity anywhere: the
agent holds `AgentProfile.capacity` contacts of any channel (voice: 1), as before.

Pure: no I/O; the router (routing/router.py) calls `fits` and `has_room` on its hot
paths only for agents that have combos.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CHANNELS = ("voice", "chat", "email", "callback")
VOICE = "voice"

Combo = Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Capacity:
    combos: tuple[Combo, ...]
    voice_first: bool = False


@dataclass(frozen=True, slots=True)
class CapacityRules:
    """The `[capacity]` table: `default` (None: the old single capacity), per team and
    per agent."""

    default: Capacity | None = None
    teams: Mapping[str, Capacity] = field(default_factory=dict)
    agents: Mapping[str, Capacity] = field(default_factory=dict)

    def resolve(self, agent_id: str, team: str) -> Capacity | None:
        found = self.agents.get(agent_id)
        if found is None and team:
            found = self.teams.get(team)
        return found if found is not None else self.default


def fits(combos: tuple[Combo, ...], load: Mapping[str, int], channel: str) -> bool:
    """May one more contact of `channel` join `load` under one of `combos`?"""
    for combo in combos:
        if load.get(channel, 0) + 1 > combo.get(channel, 0):
            continue
        for name, count in load.items():
            if count > combo.get(name, 0):
                break
        else:
            return True
    return False


def has_room(combos: tuple[Combo, ...], load: Mapping[str, int]) -> bool:
    """May the agent take one more contact of some channel?"""
    for combo in combos:
        for name in combo:
            if fits((combo,), load, name):
                return True
    return False


class CapacityError(ValueError):
    """A bad `[capacity]` value: `path` (keys and list indexes) and `reason`."""

    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.reason = reason


def parse_capacity(value: Any, where: tuple[str | int, ...]) -> Capacity:
    """One `{combos = [...], voice_first = bool}` table; CapacityError names the key."""
    if not isinstance(value, Mapping):
        raise CapacityError(where, "must be a table with 'combos'")
    unknown = sorted(set(value) - {"combos", "voice_first"})
    if unknown:
        raise CapacityError((*where, unknown[0]), "unknown key (allowed: combos, voice_first)")
    raw = value.get("combos")
    if not isinstance(raw, list) or not raw:
        raise CapacityError((*where, "combos"), "must be a non-empty list of tables like {voice = 1, email = 2}")
    combos: list[dict[str, int]] = []
    for i, combo in enumerate(raw):
        here = (*where, "combos", i)
        if not isinstance(combo, Mapping) or not combo:
            raise CapacityError(here, "must be a table like {chat = 3}")
        parsed: dict[str, int] = {}
        for name, count in combo.items():
            if name not in CHANNELS:
                raise CapacityError((*here, name), f"unknown channel (one of {', '.join(CHANNELS)})")
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 50:
                raise CapacityError((*here, name), "must be an integer 1-50")
            parsed[name] = count
        combos.append(parsed)
    voice_first = value.get("voice_first", False)
    if not isinstance(voice_first, bool):
        raise CapacityError((*where, "voice_first"), "must be true or false")
    return Capacity(tuple(combos), voice_first)


def parse_capacity_rules(value: Any, where: tuple[str | int, ...] = ("capacity",)) -> CapacityRules:
    """The `[capacity]` table: `default`, `teams.<team>`, `agents.<login>`."""
    if not isinstance(value, Mapping):
        raise CapacityError(where, "must be a table")
    unknown = sorted(set(value) - {"default", "teams", "agents"})
    if unknown:
        raise CapacityError((*where, unknown[0]), "unknown key (allowed: default, teams, agents)")
    default = parse_capacity(value["default"], (*where, "default")) if "default" in value else None
    named: dict[str, dict[str, Capacity]] = {"teams": {}, "agents": {}}
    for part, found in named.items():
        table = value.get(part, {})
        if not isinstance(table, Mapping):
            raise CapacityError((*where, part), "must be a table")
        for name, body in table.items():
            found[str(name)] = parse_capacity(body, (*where, part, str(name)))
    return CapacityRules(default, named["teams"], named["agents"])


__all__ = [
    "CHANNELS",
    "Capacity",
    "CapacityError",
    "CapacityRules",
    "Combo",
    "fits",
    "has_room",
    "parse_capacity",
    "parse_capacity_rules",
]
