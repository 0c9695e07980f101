"""Wallboard pushes as deltas: a socket gets the whole board once (when it connects,
or after the board was rebuilt), then at each push the tiles, the totals and the
alerts (small), and only the agent cells that changed since what it was sent.

At 10,000 agents the whole board is some 1.5 MB of JSON; sent twice a second to each
wallboard it was most of a push's cost, and of the network's, for a few dozen cells
that had changed. The agents' cells are what grows with the centre; the rest stays a
few kilobytes.

A delta is the full message's head with `"type": "wallboard_delta"`, `agents` left out,
`agents_changed` (the cells, whole, in id order) and `agents_removed` (ids no longer in
the view: logged out). `merge_delta` is how a client folds one (web/static/hotline.js
does the same).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

FULL_TYPE = "wallboard"
DELTA_TYPE = "wallboard_delta"
_BOARDS = itertools.count(1)


class CellChanges:
    """Which agents' cells changed at each generation: `since(gen)` is what a socket
    sent the cells of generation `gen` lacks (None: too far behind, send the whole)."""

    HISTORY = 64  # generations kept: a socket is sent every push, so one or two are used

    def __init__(self) -> None:
        self.board = next(_BOARDS)  # generations of a rebuilt board are not the old one's
        self.gen = 0
        self._history: deque[tuple[int, frozenset[str]]] = deque(maxlen=self.HISTORY)

    def record(self, agents: Iterable[str]) -> None:
        changed = frozenset(agents)
        if changed:
            self.gen += 1
            self._history.append((self.gen, changed))

    @property
    def mark(self) -> tuple[int, int]:
        """What a socket sent the cells as they are now has seen."""
        return self.board, self.gen

    def since(self, gen: int) -> set[str] | None:
        if gen == self.gen:
            return set()
        if gen > self.gen or not self._history or self._history[0][0] > gen + 1:
            return None
        out: set[str] = set()
        for g, agents in reversed(self._history):
            if g <= gen:
                break
            out |= agents
        return out


def delta_head(full_head: str) -> str:
    """The full message's head (JSON of an object whose first key is `type`) as a
    delta's: the same text, typed apart."""
    prefix = f'{{"type": "{FULL_TYPE}"'
    if not full_head.startswith(prefix):
        raise ValueError("a wallboard head starts with its type")
    return f'{{"type": "{DELTA_TYPE}"' + full_head[len(prefix) :]


def merge_delta(board: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """The whole board after `delta`, from the last whole (or merged) `board`."""
    if delta.get("type") != DELTA_TYPE:
        return dict(delta)
    cells = {a["id"]: a for a in board["agents"]}
    for agent_id in delta["agents_removed"]:
        cells.pop(agent_id, None)
    cells.update((a["id"], a) for a in delta["agents_changed"])
    merged = {k: v for k, v in delta.items() if k not in ("agents_changed", "agents_removed")}
    return {**merged, "type": FULL_TYPE, "agents": [cells[k] for k in sorted(cells)]}


__all__ = ["DELTA_TYPE", "FULL_TYPE", "CellChanges", "delta_head", "merge_delta"]
