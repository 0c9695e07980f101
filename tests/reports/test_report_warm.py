"""The report day cache is filled ahead (reports/report_warm.py): after a warm-up round
a month's report, hourly or by day, folds nothing from the raw log in the request, and
gives the numbers a cold cache gives."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from config.schema import StoreConfig
from reports import report_warm
from reports.kpi import KpiConfig
from reports.report_days import DAY_S, DayCache, day_start, range_report
from reports.report_warm import closed_days, warm, warm_loop
from store import open_store
from tests.reports.test_report_days import FIRST, three_days


async def test_warmed_closed_days_serve_hourly_and_by_day_reports(tmp_path: Path) -> None:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/warm.sqlite3"))
    try:
        await store.migrate()
        await store.append_many(three_days())  # type: ignore[arg-type]
        last = FIRST + timedelta(days=2)
        now = day_start(last + timedelta(days=20)) + 12 * 3600
        cfg = KpiConfig(teams={"a1": "red"})
        cache = DayCache()
        assert await warm(store, cache, cfg, now, back=30) == 30 and cache.folded == 30
        assert await warm(store, cache, cfg, now, back=30) == 0  # a second round: nothing new
        for interval in (3600, DAY_S):
            day_cfg = KpiConfig(teams={"a1": "red"}, interval_s=interval)
            warmed = await range_report(store, cache, day_cfg, FIRST, last, "", now)
            assert cache.folded == 30  # nothing folded in the request
            cold = await range_report(store, DayCache(), day_cfg, FIRST, last, "", now)
            assert warmed.report.to_dict() == cold.report.to_dict()
            assert warmed.report.to_dict()["overall"]["offered"] == 10
    finally:
        await store.close()


def test_a_day_is_closed_once_its_lead_out_is_over() -> None:
    day = FIRST
    midnight = day_start(day + timedelta(days=1))
    assert day not in closed_days(midnight + 5 * 3600, 3)  # its late calls may still be going on
    assert closed_days(midnight + 6 * 3600, 3)[0] == day
    assert len(closed_days(midnight + 6 * 3600, 3)) == 3


async def test_the_warm_loop_ends_at_a_cancel_that_came_as_it_was_woken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11's asyncio.wait_for returns the awaited result when the cancel comes
    with it (CPython gh-86296): the wake and the cancel in one turn of the event loop,
    and the loop went on warming every hour while the web's stop waited for it."""
    rounds: list[int] = []

    async def counted(*args: Any, **kwargs: Any) -> int:
        rounds.append(1)
        return 0

    async def config() -> KpiConfig:
        return KpiConfig()

    monkeypatch.setattr(report_warm, "warm", counted)
    wake = asyncio.Event()
    warming = warm_loop(None, DayCache(), config, lambda: 0.0, wake, every_s=3600)  # type: ignore[arg-type]
    task = asyncio.create_task(warming)
    try:
        while not rounds:
            await asyncio.sleep(0)
        for _ in range(3):  # (the loop and its wait_for's inner task both waiting for the wake)
            await asyncio.sleep(0)
        wake.set()
        task.cancel()  # (after the wake: wait_for finds the wait done and returns)
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done and task.cancelled()
        assert len(rounds) == 1
    finally:
        task.cancel()
