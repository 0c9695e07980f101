"""A hot standby's copy of the event log, as a new leader needs it at start.

A leader starting the live loop restores from the log: each agent's last login/state,
the calls still open (their events since they last ended), the longest wait, the day's
counts (cti/live_root.py, cti/live_recovery.py). Read at takeover, that is the whole
last 24 hours of the log: with a busy day in it, seconds of reading before the PBX
resync can start. A standby instead follows the log as it is written (`follow`: the
tail after the last seq it read, every `every_s`) and keeps only what those folds need
(`LogSnapshot`); at takeover it reads the few rows written since its last poll
(`catch_up`) and hands the snapshot to `build_live`. The takeover then costs the PBX
resync, not the day's history.

The snapshot's `events()` give the folds the same answers as the full history would:
the last agent event of each agent, and for each call the call events since its last
`CallEnded` (a `CallEnded` closes a call in every fold; events of other kinds never
open one); and the calls that ended in the last `ENDED_RECHECK_S`, with their
`CallEnded`, whose interaction rows a new leader checks. The day's counts are kept as
call id sets per local day, counted as `Recovery.count_today` counts them (each call
once per kind).

A row committed out of seq order (another writer's transaction finishing late) is
caught at takeover: `catch_up` re-reads a margin of rows before the last seq and skips
those already seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import structlog

from cti.live import LiveStats
from cti.live_recovery import CALL_EVENTS, ENDED_RECHECK_S
from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallQueued,
    Event,
)
from reports.web_live import day_start
from store.models import StoredEvent
from store.port import EventLog

log = structlog.get_logger()

AGENT_EVENTS = (AgentLoggedIn, AgentLoggedOut, AgentStateChanged)
# The kinds the folds read (the IVR's steps, wrap-ups, dialer attempts are not read)
FOLLOWED = frozenset((*AGENT_EVENTS, *CALL_EVENTS, CallEnded))
CATCH_UP_MARGIN = 1000  # rows re-read before the last seq at takeover (late commits)
_FAR = 1e18


class LogSnapshot:
    """What the folds at start need from the log, kept up to date row by row."""

    def __init__(self, horizon_s: float = 86_400.0) -> None:
        self.horizon_s = horizon_s
        self.last_seq = 0
        self.rows = 0  # rows read in all
        self.synced_at: float | None = None  # when the log was last read to its end (time.time)
        self._agents: dict[str, tuple[int, Event]] = {}
        self._calls: dict[str, list[tuple[int, Event]]] = {}
        # calls ended in the last ENDED_RECHECK_S, with their CallEnded (in end order):
        # a new leader checks their interaction rows (Recovery.write_lost_rows)
        self._ended: dict[str, list[tuple[int, Event]]] = {}
        self._days: dict[float, tuple[set[str], set[str], set[str]]] = {}  # day -> offered, answered, abandoned
        self._seen: set[int] = set()  # seqs read near the end of the log (late commits)

    # ------------------------------------------------------------ folding rows in

    def add(self, stored: StoredEvent) -> None:
        seq, event = stored.seq, stored.event
        if seq in self._seen or (seq <= self.last_seq - CATCH_UP_MARGIN):
            return
        self._seen.add(seq)
        self.last_seq = max(self.last_seq, seq)
        self.rows += 1
        if isinstance(event, AGENT_EVENTS):
            self._agents[event.agent_id] = (seq, event)
            return
        call_id = getattr(event, "call_id", "")
        if not call_id:
            return
        if isinstance(event, CallEnded):
            rows = self._calls.pop(call_id, None)
            if rows is not None:
                self._ended[call_id] = [*rows, (seq, event)]
                self._forget_ended(event.at - ENDED_RECHECK_S)
        elif isinstance(event, CALL_EVENTS):
            self._calls.setdefault(call_id, []).append((seq, event))
        if isinstance(event, CallQueued | CallConnected | CallAbandoned):
            sets = self._days.get(day := day_start(event.at))
            if sets is None:
                sets = self._days[day] = (set(), set(), set())
            kind = 0 if isinstance(event, CallQueued) else 1 if isinstance(event, CallConnected) else 2
            sets[kind].add(call_id)

    def _forget_ended(self, before: float) -> None:
        ended = self._ended
        while ended:
            first = next(iter(ended))
            if ended[first][-1][1].at >= before:
                return
            del ended[first]

    def prune(self, now: float) -> None:
        """Forget what is past the horizon (and seqs too old to come late)."""
        oldest = now - self.horizon_s
        self._calls = {k: v for k, v in self._calls.items() if v[-1][1].at >= oldest}
        self._agents = {k: v for k, v in self._agents.items() if v[1].at >= oldest}
        today = day_start(now)
        self._days = {d: s for d, s in self._days.items() if d >= today - 86_400}
        floor = self.last_seq - CATCH_UP_MARGIN
        self._seen = {s for s in self._seen if s > floor}

    # ------------------------------------------------------------ what a new leader reads

    def events(self, now: float) -> list[Event]:
        """The history the start-up folds read, in log order (within the horizon)."""
        oldest, newest = now - self.horizon_s, now + 1
        rows = list(self._agents.values())
        for call in self._calls.values():
            rows.extend(call)
        for call in self._ended.values():  # (each closed by its CallEnded in every fold)
            rows.extend(call)
        rows.sort(key=lambda row: row[0])
        return [event for _, event in rows if oldest <= event.at < newest]

    def count_today(self, stats: LiveStats, now: float) -> None:
        """The day's calls offered, answered and abandoned, as `Recovery.count_today`."""
        today = day_start(now)
        offered: set[str] = set()
        answered: set[str] = set()
        abandoned: set[str] = set()
        for day, (o, a, b) in self._days.items():
            if day >= today:
                offered |= o
                answered |= a
                abandoned |= b
        stats.calls_offered, stats.calls_answered, stats.calls_abandoned = len(offered), len(answered), len(abandoned)

    def health(self, clock: Callable[[], float] = time.time) -> dict[str, Any]:
        """`synced_s_ago` is None until the first read of the log ended (a standby that
        just started is not hot yet)."""
        lag = None if self.synced_at is None else round(clock() - self.synced_at, 1)
        return {"log_seq": self.last_seq, "open_calls": len(self._calls), "synced_s_ago": lag}

    # ------------------------------------------------------------ reading the log

    async def read_tail(self, store: EventLog, now: float, margin: int = 0) -> int:
        """The rows after the last seq read (`margin` rows before it too); how many."""
        before = self.rows
        after = max(0, self.last_seq - margin)
        async for stored in store.iter_events(now - self.horizon_s, _FAR, after_seq=after, kinds=FOLLOWED):
            self.add(stored)
        self.synced_at = time.time()
        return self.rows - before

    async def catch_up(self, store: EventLog, now: float) -> int:
        """At takeover: what was written since the last poll, late commits included."""
        read = await self.read_tail(store, now, margin=CATCH_UP_MARGIN)
        self.prune(now)
        return read

    async def follow(self, store: EventLog, every_s: float = 0.5, clock: Callable[[], float] = time.time) -> None:
        """Read the log's tail every `every_s` until cancelled (a standby's task)."""
        first = True
        while True:
            try:
                started = time.monotonic()
                read = await self.read_tail(store, clock())
                if first:
                    log.info("log_follow_started", rows=read, seconds=round(time.monotonic() - started, 2))
                    first = False
                self.prune(clock())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the store is away: read again on the next round
                log.warning("log_follow_failed", error=type(exc).__name__)
            await asyncio.sleep(every_s)
