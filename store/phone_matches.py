"""The customers a caller's number matched, kept a few seconds in this process.

The live loop looks the caller up when a call is queued (its customer id goes on
CallQueued), and the screen-pop hub of the same process built the pop for the offer
a moment later from a second lookup of the same number: one query and one phone
parse per call that told nothing new. The loop now notes what the lookup found, and
the hub takes it from here when it is recent (`keep_s`); a hub in another process,
or an offer made later than that, looks the number up itself as before.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from store.models import Customer

KEEP_S = 5.0
MAX_NUMBERS = 10_000


class PhoneMatches:
    """Caller number (as the PBX gave it) -> the customers it matched, and when."""

    def __init__(
        self, keep_s: float = KEEP_S, clock: Callable[[], float] = time.monotonic, max_numbers: int = MAX_NUMBERS
    ) -> None:
        self.keep_s = keep_s
        self._clock = clock
        self._max = max_numbers
        self._found: OrderedDict[str, tuple[float, tuple[Customer, ...]]] = OrderedDict()
        self.hits = 0

    def note(self, caller: str, customers: Sequence[Customer]) -> None:
        """What a lookup of `caller` found just now (in the order the store gave)."""
        self._found[caller] = (self._clock(), tuple(customers))
        self._found.move_to_end(caller)
        while len(self._found) > self._max:
            self._found.popitem(last=False)

    def recent(self, caller: str) -> tuple[Customer, ...] | None:
        """The customers `caller` matched if looked up within `keep_s`, else None."""
        found = self._found.get(caller)
        if found is None:
            return None
        at, customers = found
        if self._clock() - at > self.keep_s:
            del self._found[caller]
            return None
        self.hits += 1
        return customers
