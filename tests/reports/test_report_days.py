"""Reports over many days merge one cached bucket set per closed day: the same numbers
as one fold of the whole range, each closed day folded from the log once."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from config.schema import StoreConfig
from events import AgentLoggedIn, AgentStateChanged, CallAbandoned, CallConnected, CallEnded, CallQueued, WrapUpEnded
from reports.kpi import KpiConfig, batch_report
from reports.report_days import DAY_S, DayCache, day_start, range_report
from store import open_store

FIRST = date(2026, 3, 2)


def three_days() -> list[object]:
    """Calls on three days, one offered 10 s before midnight and answered after it, an
    agent logged in the evening before the first day (a night shift)."""
    d0, d1 = day_start(FIRST), day_start(FIRST + timedelta(days=1))
    out: list[object] = [AgentLoggedIn(d0 - 4 * 3600, "a1"), AgentStateChanged(d0 - 4 * 3600, "a1", "available")]
    n = 0
    for day in range(3):
        base = day_start(FIRST + timedelta(days=day))
        for hour in (9, 11, 15):
            n += 1
            t = base + hour * 3600
            wait = 10 + 20 * (n % 3)
            out += [CallQueued(t, f"c{n}", queue="billing" if n % 2 else "sales")]
            if n % 4 == 0:
                out += [CallAbandoned(t + wait, f"c{n}")]
            else:
                out += [CallConnected(t + wait, f"c{n}", "a1"), CallEnded(t + wait + 120, f"c{n}")]
                out += [WrapUpEnded(t + wait + 150, f"c{n}", "a1")]
    out += [
        CallQueued(d1 - 10, "late", queue="billing"),
        CallConnected(d1 + 20, "late", "a1"),
        CallEnded(d1 + 200, "late"),
    ]
    out += [WrapUpEnded(d1 + 230, "late", "a1")]
    return sorted(out, key=lambda e: e.at)  # type: ignore[attr-defined]


async def test_a_range_is_the_merge_of_its_cached_days(tmp_path: Path) -> None:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/days.sqlite3"))
    try:
        await store.migrate()
        events = three_days()
        await store.append_many(events)  # type: ignore[arg-type]
        last = FIRST + timedelta(days=2)
        start, end = day_start(FIRST), day_start(last + timedelta(days=1))
        now = end + 30 * DAY_S  # every day closed
        cfg = KpiConfig(interval_s=3600, teams={"a1": "red"})
        cache = DayCache()
        found = await range_report(store, cache, cfg, FIRST, last, "", now)
        report, counted = found.report, found.events
        whole = batch_report(events, cfg, start, end).to_dict()
        got = report.to_dict()
        assert got["overall"] == whole["overall"] and got["overall"]["offered"] == 10
        assert got["queues"] == {
            k: {"total": v["total"], "intervals": v["intervals"]} for k, v in whole["queues"].items()
        }
        assert got["agents"]["a1"]["total"] == whole["agents"]["a1"]["total"]
        assert got["intervals"] == whole["intervals"]
        assert counted == sum(1 for e in events if start <= e.at < end)  # type: ignore[attr-defined]
        assert cache.folded == 3
        again = (await range_report(store, cache, cfg, FIRST, last, "", now)).report
        assert again.to_dict() == got and cache.folded == 3  # closed days: from the cache

        by_day = await range_report(
            store, cache, KpiConfig(interval_s=DAY_S, teams={"a1": "red"}), FIRST, last, "", now
        )
        rows = by_day.report.to_dict()["intervals"]
        assert [r["start"] for r in rows] == [day_start(FIRST + timedelta(days=n)) for n in range(3)]
        for row, n in zip(rows, range(3), strict=True):
            lo, hi = day_start(FIRST + timedelta(days=n)), day_start(FIRST + timedelta(days=n + 1))
            day = batch_report([e for e in events if e.at < hi + 6 * 3600], cfg, lo, hi).overall  # type: ignore[attr-defined]
            offered_then = sum(1 for e in events if isinstance(e, CallQueued) and lo <= e.at < hi)
            assert row["offered"] == offered_then and row["answered"] == day["answered"]
        assert rows[0]["offered"] == 4 and rows[1]["offered"] == 3  # the late call: on the day it was offered

        billing = await range_report(store, cache, cfg, FIRST, last, "billing", now)
        assert set(billing.report.to_dict()["queues"]) == {"billing"}
    finally:
        await store.close()
