"""Report days rebuilt from the event log on demand (`hotline db report-days`).

The report keeper keeps each day as it closes and the warm-up job fills the days the
store lacks; neither folds a kept day again. After events were added to the log late
(an import, a recovered log), or to check the kept rows, an admin rebuilds a range:
each closed day is folded from the raw log, for the whole center and every queue with
settings at once, and its rows are replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from reports.kpi import KpiConfig
from reports.report_days import HOURLY_S, DayCache, days, is_closed
from store.sql import SqlStore


@dataclass(frozen=True, slots=True)
class Rebuilt:
    day: date
    views: int  # 0: not closed yet, left to the keeper
    events: int


async def rebuild_days(
    store: SqlStore, cfg: KpiConfig, first: date, last: date, now: float, each: Callable[[Rebuilt], None] | None = None
) -> list[Rebuilt]:
    """Fold each closed day of first..last from the log and replace its kept rows."""
    cache = DayCache(store=store, max_days=1)  # (nothing kept in memory: the store is the point)
    day_cfg = replace(cfg, interval_s=HOURLY_S)
    views = sorted(cfg.sl_thresholds)
    out = []
    for day in days(first, last):
        found = Rebuilt(day, 0, 0)
        if is_closed(day, now):
            await cache.fill(store, day_cfg, views, day, now)
            kept = await store.report_days(cache.settings(day_cfg), "", [day.isoformat()])
            found = Rebuilt(day, 1 + len(views), kept[day.isoformat()].events)
        out.append(found)
        if each is not None:
            each(found)
    return out
