"""Attempts per key over a sliding window, counted before the work they guard.

`HitWindows.reserve` checks every key against its limit and, only when all are under
it, records the attempt on each, in one step with no `await` inside: atomic on the
event loop, as the Redis script of `store.bus.RedisBus.reserve_hits` is on the server.
So a burst of parallel attempts cannot all pass the check before any is counted.
Time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_KEYS = 100_000  # a spray over many keys: expired keys are dropped past this
MAX_HITS = 256  # per key: no limit is higher


@dataclass(slots=True)
class HitWindows:
    max_keys: int = MAX_KEYS
    _hits: dict[str, list[tuple[float, str]]] = field(default_factory=dict)  # key -> [(at, member)] by time

    def reserve(self, limits: Mapping[str, int], at: float, keep_s: float, member: str) -> float:
        """0 when the attempt is counted on every key; else the seconds until it would be
        allowed (and nothing is counted)."""
        wait = 0.0
        for key, limit in limits.items():
            kept = [h for h in self._hits.get(key, ()) if h[0] >= at - keep_s]
            self._hits[key] = kept
            if len(kept) >= limit:
                wait = max(wait, kept[len(kept) - limit][0] + keep_s - at, 0.001)
        if wait > 0:
            return wait
        if len(self._hits) > self.max_keys:
            for old in [k for k, hits in self._hits.items() if not hits or hits[-1][0] < at - keep_s]:
                del self._hits[old]
        for key in limits:
            self._hits.setdefault(key, []).append((at, member))
            del self._hits[key][:-MAX_HITS]
        return 0.0

    def release(self, key: str, member: str) -> None:
        """Take one counted attempt back (a login that turned out right)."""
        hits = self._hits.get(key)
        if hits:
            self._hits[key] = [h for h in hits if h[1] != member]

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)

    def times(self, key: str) -> list[float]:
        return [h[0] for h in self._hits.get(key, ())]
