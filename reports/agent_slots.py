"""The logged-in agents' current states in numpy arrays, for the live wallboard.

Each push sums every agent's open time (now - since, per state and team) for the
day's report and the window's. At 10,000 agents that pass, in Python over the fold's
dicts, was half of a push (about 10 ms, twice a second). Here each agent keeps one slot
for the life of the fold (its first log-in's), so the sums are two `np.bincount`s in
slot order: the same order whichever pushes came between the events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

OpenTime = dict[tuple[str, str], float]  # (state, team or "") -> seconds

_OUT = -1  # the state code of a slot whose agent is logged out


class AgentSlots:
    """Agent -> slot, with the slot's state code and since (set by the fold)."""

    __slots__ = ("_codes", "_since", "_slot", "_state", "agents", "states")

    def __init__(self, states: Sequence[str]) -> None:
        self.states = tuple(states)
        self._codes = {s: i for i, s in enumerate(self.states)}
        self.agents: list[str] = []  # slot -> agent
        self._slot: dict[str, int] = {}
        self._state: npt.NDArray[np.int16] = np.full(64, _OUT, dtype=np.int16)
        self._since: npt.NDArray[np.float64] = np.zeros(64, dtype=np.float64)

    def set(self, agent: str, state: str, since: float) -> None:
        slot = self._slot.get(agent)
        if slot is None:
            slot = self._slot[agent] = len(self.agents)
            self.agents.append(agent)
            if slot == len(self._state):
                self._state = np.concatenate([self._state, np.full(slot, _OUT, dtype=np.int16)])
                self._since = np.concatenate([self._since, np.zeros(slot, dtype=np.float64)])
        self._state[slot] = self._codes[state]
        self._since[slot] = since

    def clear(self, agent: str) -> None:
        slot = self._slot.get(agent)
        if slot is not None:
            self._state[slot] = _OUT

    def open_time(
        self, group: npt.NDArray[np.int32], groups: Sequence[str], now: float, start: float
    ) -> tuple[OpenTime, OpenTime]:
        """Per (state, group name): the open states' seconds up to `now`, from their
        start and from `start` at the earliest (`group`: each slot's index in `groups`,
        as long as the slots at least)."""
        n = len(self.agents)
        state, since = self._state[:n], self._since[:n]
        width = len(groups)
        key = state.astype(np.int64) * width + group[:n]
        whole = _sums(key, since, state, now, len(self.states) * width)
        recent = _sums(key, np.maximum(since, start), state, now, len(self.states) * width)
        return self._named(whole, groups), self._named(recent, groups)

    def _named(self, sums: npt.NDArray[np.float64], groups: Sequence[str]) -> OpenTime:
        width = len(groups)
        return {(self.states[k // width], groups[k % width]): float(sums[k]) for k in np.flatnonzero(sums).tolist()}


def _sums(
    key: npt.NDArray[np.int64],
    since: npt.NDArray[np.float64],
    state: npt.NDArray[np.int16],
    now: float,
    size: int,
) -> npt.NDArray[np.float64]:
    """Each key's sum of now - since over the logged-in slots with since < now (every
    term is positive: a key is non-zero exactly when some agent counts in it)."""
    counted = (state != _OUT) & (since < now)
    return np.bincount(key[counted], weights=now - since[counted], minlength=size).astype(np.float64, copy=False)


class SlotGroups:
    """Each slot's group index (the agent's team), grown as agents get slots."""

    __slots__ = ("_group_of", "_index", "codes", "names")

    def __init__(self, group_of: Callable[[str], str] | Mapping[str, str]) -> None:
        self._group_of = group_of if callable(group_of) else (lambda a, m=group_of: m.get(a) or "")
        self.names: list[str] = [""]
        self._index: dict[str, int] = {"": 0}
        self.codes: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)

    def follow(self, slots: AgentSlots) -> npt.NDArray[np.int32]:
        """The codes, extended to every slot `slots` has now."""
        have = len(self.codes)
        if have < len(slots.agents):
            fresh = [self._code(self._group_of(a)) for a in slots.agents[have:]]
            self.codes = np.concatenate([self.codes, np.asarray(fresh, dtype=np.int32)])
        return self.codes

    def _code(self, name: str) -> int:
        code = self._index.get(name)
        if code is None:
            code = self._index[name] = len(self.names)
            self.names.append(name)
        return code
