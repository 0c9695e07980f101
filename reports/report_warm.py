"""The report day cache filled ahead of the requests (reports/report_days.py).

Without it the first report of a long range folds every day of it from the raw event
log in the request (about 21 s for a month of a busy center). Each day is folded for
the whole center and for each queue of the settings (a report's queue filter), its
events read once. Each web process runs
`warm_loop`: at start it folds the closed days of the last `DAYS` days (hourly: the
default interval of a range up to a month, and what a by-day report reads too), then
every `EVERY_S` it folds the days that closed since
(a day is closed once its lead-out is over, 06:00 the next day). Days already cached
cost a dictionary lookup. With the SQL store the folded days are kept in its
report_days rows: one process (the holder of the `report-days` lease) folds each day
once for all, the others read the rows back when a report asks for them, and a
restart folds nothing again. The settings (queues' thresholds, teams) are read each round:
a change makes new cache keys, filled at once (an admin change wakes the loop).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

import structlog

from cti.bounded import raise_if_cancelled
from reports.kpi import KpiConfig
from reports.report_days import HOURLY_S, LEAD_OUT_S, DayCache, day_start
from store.bus import Bus
from store.port import EventLog, LeaderLeases

log = structlog.get_logger()

DAYS = 62
LEASE = "report-days"
STANDBY_LEASE = "report-days-standby"
EVERY_S = 900.0


def closed_days(now: float, back: int) -> list[date]:
    """The last `back` days whose report can no longer change, the latest first."""
    today = datetime.fromtimestamp(now).date()
    out = []
    for n in range(1, back + 1):
        day = today - timedelta(days=n)
        if day_start(day + timedelta(days=1)) + LEAD_OUT_S <= now:
            out.append(day)
    return out


async def warm(
    log_: EventLog,
    cache: DayCache,
    cfg: KpiConfig,
    now: float,
    back: int = DAYS,
    queues: Sequence[str] | None = None,
    turn: Callable[[], Awaitable[bool]] | None = None,
    before: date | None = None,
) -> int:
    """Fold the closed days not cached yet, the latest first, for the whole center and
    each of `queues` (default: the queues with a threshold in `cfg`, the settings'
    queues); how many day folds that took. With a store behind the cache, the days it
    keeps are not folded again (nor read: a request reads them back), and `turn` is
    asked before each day (False: another process warms the store; stop). `before`:
    only days before it (the report keeper keeps the later ones as they close)."""
    folded = 0
    day_cfg = replace(cfg, interval_s=HOURLY_S)
    wanted = sorted(cfg.sl_thresholds) if queues is None else list(queues)
    closed = [d for d in closed_days(now, back) if before is None or d < before]
    kept: set[tuple[str, str]] = set()
    if cache.store is not None and closed:
        kept = await cache.store.report_days_kept(
            cache.settings(day_cfg), closed[-1].isoformat(), closed[0].isoformat()
        )
    for day in closed:
        if all((day.isoformat(), q) in kept for q in ("", *wanted)):
            continue
        if turn is not None and not await turn():
            break
        folded += await cache.fill(log_, day_cfg, wanted, day, now, kept)
    return folded


async def warm_loop(
    log_: EventLog,
    cache: DayCache,
    config: Callable[[], Awaitable[KpiConfig]],
    clock: Callable[[], float],
    wake: asyncio.Event,
    every_s: float = EVERY_S,
    back: int = DAYS,
    turn: Callable[[], Awaitable[bool]] | None = None,
    before: Callable[[], date | None] = lambda: None,
) -> None:
    """Until cancelled, a round at start, every `every_s` and whenever `wake` is set (the
    settings or the agent directory changed: new keys to fill); a failed round is
    logged and tried again at the next. `turn`, `before` (asked each round): see `warm`."""
    preloaded = False
    while True:
        # a cancel that came as `wake` was set (asyncio.wait_for, below) was swallowed:
        # the web's stop waits for this task, so it ends here
        raise_if_cancelled()
        wake.clear()
        try:
            started = clock()
            if not preloaded:  # every process: the kept days back in memory, once, in the background
                cfg = replace(await config(), interval_s=HOURLY_S)
                loaded = await cache.preload(cfg, "", closed_days(started, back))
                preloaded = True
                if loaded:
                    log.info("report_days_preloaded", days=loaded, took_s=round(clock() - started, 1))
                started = clock()
            folded = await warm(log_, cache, await config(), started, back, turn=turn, before=before())
            if folded:
                log.info("report_days_warmed", days=folded, took_s=round(clock() - started, 1))
        except Exception:
            log.exception("report_days_warm_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), every_s)


async def wake_on_changes(bus: Bus, wake: asyncio.Event, *also: Callable[[], None]) -> None:
    """Set `wake` (and call `also`) at each admin change (store/topics.py CONFIG_CHANGES)."""
    from store.topics import CONFIG_CHANGES, subscribe

    async with subscribe(bus, CONFIG_CHANGES) as inbox:
        async for _ in inbox:
            wake.set()
            for call in also:
                call()


def lease_turn(
    leases: LeaderLeases, holder: str, ttl_s: float = 60.0, leading: Callable[[], bool] = lambda: False
) -> Callable[[], Awaitable[bool]]:
    """`warm`'s and the report keeper's `turn`: whether this process holds (or now
    takes) the `report-days` lease, so that several web processes do not fold the
    same days at once (the keeper renews it every 10 s).

    The process leading the live loop (`leading()`) keeps the days only while no other
    process offers to: one that finds the lease taken holds `report-days-standby`, and
    the leader then lets `report-days` go (following the log costs about 0.5 ms of CPU
    per call, better spent elsewhere than beside the router)."""

    async def turn() -> bool:
        if leading():
            other = await leases.current_lease(STANDBY_LEASE)
            if other is not None and other.holder != holder and other.expires_at > other.now:
                await leases.release_lease(LEASE, holder)
                return False
            return (await leases.claim_lease(LEASE, holder, ttl_s)).held_by(holder)
        if (await leases.claim_lease(LEASE, holder, ttl_s)).held_by(holder):
            return True
        await leases.claim_lease(STANDBY_LEASE, holder, ttl_s)  # ready to take the days over
        return False

    return turn
