"""The report days kept as events are logged (issue 20: reports at scale).

One process (the holder of the `report-days` lease, reports/report_warm.py) follows
the event log with a `DayFold` (reports/day_fold.py): every event logged is folded
into its day's buckets, for the whole center and each queue with settings. When a
day's lead-out is over (06:00 the next day) its buckets are kept at once, in this
process's day cache and in the store's report_days rows, for every web process: no
day has to be folded from the raw log again. Today's report in this process is the
fold so far (`peek`), read after the log's last rows, not a refold of the day.

The fold starts (at this process's start, a change of settings or of lease) from the
first day not closed yet, read from the log with its lead-in; days closed before it
are the warm-up job's (a rebuild from the log), as are days the store lacks.

An event logged more than the fold's settle time (30 s) after its time, or after a
peek at today, is folded at the time already reached; a rebuild from the log folds
it in its place.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, timedelta

import structlog

from reports.day_fold import DayFold, DayParts, day_of, day_start
from reports.kpi import KpiConfig
from reports.report_days import EVENT_PAGE, HOURLY_S, LEAD_IN_S, LEAD_OUT_S, DayCache, is_closed
from store.models import StoredEvent
from store.port import EventLog

log = structlog.get_logger()

EVERY_S = 1.0
PUBLISH_EVERY_S = 120.0  # the open days written for the other web processes this often
BACKLOG_PAGE = 5_000  # rows folded in a worker thread at a time when the keeper is behind
INLINE_MAX = 200  # a step's rows folded on the loop up to this many (a thread hop costs more)
_FAR = 1e12


class ReportKeeper:
    """`step` reads the log's new rows and keeps the days that closed; `peek` answers
    today's report from the fold."""

    def __init__(
        self,
        events: EventLog,
        cache: DayCache,
        config: Callable[[], Awaitable[KpiConfig]],
        clock: Callable[[], float],
        readers: Callable[[], bool] = lambda: True,
    ) -> None:
        self.events = events
        # whether another web process may read the open days (the keeper in the live
        # leader: none does, else it would keep them: a publish's second of CPU beside the
        # router, every 2 minutes, delayed the offers made meanwhile by 0.1-0.3 s)
        self.readers = readers
        self.cache = cache
        self.config = config
        self.clock = clock
        self.fold: DayFold | None = None
        self.cfg: KpiConfig | None = None
        self.kept = 0  # day views kept so far (the tests and the log)
        self._settings = ""
        self._after = 0  # the last seq folded
        self._lock = asyncio.Lock()
        self._cfg_at = -math.inf
        self._published_at = -math.inf
        self.publish_every_s = PUBLISH_EVERY_S
        self.config_every_s = 15.0  # the settings (a query of every agent's team) read this often

    @property
    def read_to(self) -> int:
        """The last seq of the log folded."""
        return self._after

    def first_day(self) -> date | None:
        """The first day this fold keeps (earlier ones are the warm-up's)."""
        return None if self.fold is None else self.fold.first

    def stop(self) -> None:
        """Forget the fold (the lease went to another process, or a step failed)."""
        self.fold, self.cfg = None, None

    def reconfigure(self) -> None:
        """Read the settings again at the next step (an admin changed them)."""
        self._cfg_at = -math.inf

    async def step(self) -> int:
        """Fold what was logged since the last step; keep the days closed by now. How
        many events were read."""
        async with self._lock:
            now = self.clock()
            if self.fold is None or now - self._cfg_at >= self.config_every_s or now < self._cfg_at:
                # (the settings' digest only when they were read again: at 10,000 agents it
                # encodes every agent's team)
                cfg = replace(await self.config(), interval_s=HOURLY_S)
                self._cfg_at = now
                views = ("", *sorted(q for q in cfg.sl_thresholds if q))
                if self.fold is None or self.cache.settings(cfg) != self._settings or self.fold.views != views:
                    self._start(cfg, views, now)
            read = await self._read()
            await self._keep_closed(now)
            if now - self._published_at >= self.publish_every_s or now < self._published_at:
                if self.readers():
                    await self.publish_open(now)
                self._published_at = now
            return read

    def _start(self, cfg: KpiConfig, views: tuple[str, ...], now: float) -> None:
        first = day_of(now - LEAD_OUT_S)  # the first day not closed yet
        self.fold, self.cfg = DayFold(cfg, views, first), cfg
        self._settings = self.cache.settings(cfg)
        self._after = 0
        log.info("report_keeper_started", first=first.isoformat(), views=len(views))

    async def _read(self) -> int:
        """Fold the log's rows past the last seq read; a backlog (a start, or a day's
        rows at a takeover) in a worker thread, a page at a time, so that the web
        process's loop still answers (the fold is only touched under the lock)."""
        fold = self.fold
        assert fold is not None
        read = 0
        lo = day_start(fold.first) - LEAD_IN_S
        page: list[StoredEvent] = []
        async for stored in self.events.iter_events(lo, _FAR, after_seq=self._after, page=EVENT_PAGE):
            page.append(stored)
            if len(page) >= BACKLOG_PAGE:
                await asyncio.to_thread(_feed, fold, page)
                read += len(page)
                self._after = page[-1].seq
                page = []
        if page:
            if len(page) >= INLINE_MAX:
                await asyncio.to_thread(_feed, fold, page)
            else:
                _feed(fold, page)
            read += len(page)
            self._after = page[-1].seq
        return read

    async def _keep_closed(self, now: float) -> None:
        fold, cfg = self.fold, self.cfg
        assert fold is not None and cfg is not None
        for day in fold.open_days:
            if not is_closed(day, now):
                continue
            parts = await asyncio.to_thread(_close, fold, day)  # (10,000 agents' open states: seconds)
            await self.cache.keep(cfg, day, await self.cache.compact_off(parts))
            self.kept += len(parts)
            log.info("report_day_kept", day=day.isoformat(), views=len(parts))

    async def publish_open(self, now: float) -> None:
        """Write the days still open as they stand, for the other web processes."""
        fold, cfg = self.fold, self.cfg
        assert fold is not None and cfg is not None
        for day in fold.open_days:
            if is_closed(day, now):
                continue
            parts = await asyncio.to_thread(fold.peek, day, now)
            await self.cache.publish_open(cfg, day, await self.cache.compact_off(parts))

    async def peek(self, cfg: KpiConfig, view: str, day: date, now: float) -> DayParts | None:
        """The day's view so far, after the log's last rows (None: this fold does not
        keep it: other settings, another view, a day before its first or closed)."""
        async with self._lock:
            fold = self.fold
            if fold is None or self.cache.settings(cfg) != self._settings or view not in fold.views:
                return None
            if day < fold.first or is_closed(day, now):
                return None
            await self._read()
            # (10,000 agents' buckets copied: in a worker thread, the fold under the lock)
            return await asyncio.to_thread(_peek, fold, day, now, view)


async def keep_loop(
    keeper: ReportKeeper, turn: Callable[[], Awaitable[bool]], every_s: float = EVERY_S, turn_every_s: float = 10.0
) -> None:
    """Until cancelled: a step every `every_s` while `turn` says this process keeps the
    days (asked every `turn_every_s`); a failed step is logged and the fold started
    again from the log at the next."""
    mine, asked = False, -math.inf
    loop = asyncio.get_running_loop()
    while True:
        if loop.time() - asked >= turn_every_s:
            asked = loop.time()
            try:
                mine = await turn()
            except Exception:
                log.exception("report_keeper_turn_failed")
                mine = False
            if not mine:
                keeper.stop()
        if mine:
            try:
                await keeper.step()
            except Exception:
                log.exception("report_keeper_step_failed")
                keeper.stop()
        await asyncio.sleep(every_s)


def _feed(fold: DayFold, page: list[StoredEvent]) -> None:
    for stored in page:
        fold.feed(stored.event, stored.seq)


def _peek(fold: DayFold, day: date, now: float, view: str) -> DayParts:
    fold.settle(now, inclusive=True)
    return fold.peek(day, now, (view,))[view]


def _close(fold: DayFold, day: date) -> dict[str, DayParts]:
    fold.settle(day_start(day + timedelta(days=1)) + LEAD_OUT_S)
    return fold.close(day)
