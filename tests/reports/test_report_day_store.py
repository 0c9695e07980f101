"""Closed report days kept in the store (report_days rows): folded once, by one process,
read back by every other and after a restart with the numbers a refold of the raw log
gives; an unreadable row is folded again, new KPI settings fold anew. On the real
SQLite and PostgreSQL stores."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from reports import day_codec
from reports.day_table import Keys, Table
from reports.kpi import KpiConfig
from reports.report_days import DayCache, day_start, range_report
from reports.report_warm import lease_turn, warm
from store.report_day_rows import ReportDayRow
from store.sql import SqlStore
from tests.reports.test_report_periods import FIRST, LAST, TEAMS, log, refold, totals, weeks_of_calls

__all__ = ["log"]  # (the SQLite / PostgreSQL fixture)

CFG = KpiConfig(teams=TEAMS, sl_thresholds={"billing": 30.0, "sales": 15.0})
NOW = day_start(LAST + timedelta(days=3))
DAYS = (LAST - FIRST).days + 1
BACK = DAYS + 2


async def test_days_folded_once_are_read_back_after_a_restart(log: SqlStore) -> None:
    events = weeks_of_calls()
    await log.append_many(events)
    first = DayCache(store=log)
    warmed = await warm(log, first, CFG, NOW, back=BACK)
    assert warmed == 3 * (DAYS + 1)  # the center, billing and sales, each closed day
    kept = await log.report_days_kept(first.settings(first_cfg()), FIRST.isoformat(), LAST.isoformat())
    assert len(kept) == 3 * DAYS
    assert await warm(log, DayCache(store=log), CFG, NOW, back=BACK) == 0  # a restart folds nothing again

    again = DayCache(store=log)  # another process, or this one restarted
    start, end = day_start(FIRST), day_start(LAST + timedelta(days=1))
    for queue in ("", "billing"):
        whole = refold(events, CFG, start, end, queue)
        for interval, by in ((3600, ""), (86_400, "week")):
            cfg = KpiConfig(teams=TEAMS, sl_thresholds=CFG.sl_thresholds, interval_s=interval)
            got = (await range_report(log, again, cfg, FIRST, LAST, queue, NOW, by)).report.to_dict()
            assert totals(got) == totals(whole), (queue, interval, by)
            if not by:
                assert got["intervals"] == refold(events, cfg, start, end, queue)["intervals"]
    assert again.folded == 0 and again.loaded == 2 * DAYS  # read back, each view's days once


def first_cfg() -> KpiConfig:
    """The settings the warm-up folds with (hourly)."""
    return KpiConfig(teams=TEAMS, sl_thresholds=CFG.sl_thresholds, interval_s=3600)


async def test_an_unreadable_row_is_folded_again_and_replaced(log: SqlStore) -> None:
    events = weeks_of_calls()
    await log.append_many(events)
    cache = DayCache(store=log)
    settings = cache.settings(first_cfg())
    await log.put_report_day(ReportDayRow(FIRST.isoformat(), "", settings, 1, b"not a report day"), 0.0)
    got = await range_report(log, cache, first_cfg(), FIRST, FIRST + timedelta(days=1), "", NOW)
    assert cache.folded == 2 and cache.loaded == 0
    whole = refold(events, first_cfg(), day_start(FIRST), day_start(FIRST + timedelta(days=2)))
    assert totals(got.report.to_dict()) == totals(whole)
    fresh = DayCache(store=log)
    again = await range_report(log, fresh, first_cfg(), FIRST, FIRST + timedelta(days=1), "", NOW)
    assert fresh.folded == 0 and fresh.loaded == 2  # the bad row was replaced by the fold
    assert again.report.to_dict() == got.report.to_dict()


async def test_new_settings_fold_anew(log: SqlStore) -> None:
    await log.append_many(weeks_of_calls())
    assert await warm(log, DayCache(store=log), CFG, NOW, back=BACK, queues=()) == DAYS + 1
    moved = KpiConfig(teams={**TEAMS, "a3": "red"}, sl_thresholds=CFG.sl_thresholds)
    cache = DayCache(store=log)
    assert await warm(log, cache, moved, NOW, back=BACK, queues=()) == DAYS + 1
    got = (await range_report(log, cache, first_cfg(), FIRST, LAST, "", NOW)).report.to_dict()
    assert cache.loaded == DAYS  # the first settings' rows are still there
    assert got["teams"]["blue"]["total"]["answered"] > 0


async def test_one_process_warms_the_store_for_all(log: SqlStore) -> None:
    await log.append_many(weeks_of_calls())
    one, other = DayCache(store=log), DayCache(store=log)
    assert await warm(log, one, CFG, NOW, back=BACK, queues=(), turn=lease_turn(log, "one")) == DAYS + 1
    # while "one" holds the lease, "other" leaves the missing days to it
    quarter = KpiConfig(teams=TEAMS, sl_thresholds={"billing": 20.0})
    assert await warm(log, other, quarter, NOW, back=BACK, queues=(), turn=lease_turn(log, "other")) == 0
    assert other.folded == 0
    assert await warm(log, one, quarter, NOW, back=BACK, queues=(), turn=lease_turn(log, "one")) == DAYS + 1


async def test_a_small_memory_budget_reads_days_back_from_the_store(log: SqlStore) -> None:
    events = weeks_of_calls()
    await log.append_many(events)
    await warm(log, DayCache(store=log), CFG, NOW, back=BACK, queues=())
    tight = DayCache(store=log, max_mb=0.001)
    got = (await range_report(log, tight, first_cfg(), FIRST, LAST, "", NOW)).report.to_dict()
    assert len(tight._days) == 1 and tight.folded == 0 and tight.loaded == DAYS
    whole = refold(events, first_cfg(), day_start(FIRST), day_start(LAST + timedelta(days=1)))
    assert totals(got) == totals(whole)


def test_the_codec_gives_back_the_same_tables_in_another_process_s_row_numbers() -> None:
    mine, extra = Keys(), Keys()
    rows = {("queue", "sales", None): [1.5, 2.0], ("all", "", 3600): [0.1, 1e300], ("agent", "a1", None): [3.0, 0.0]}
    totals = Table.of(mine, {k: v for k, v in rows.items() if k[2] is None}, 2)
    series = Table.of(mine, {k: v for k, v in rows.items() if k[2] is not None}, 2)
    extras = Table.of(extra, {("pauses", "lunch", "a2"): [1800.0]}, 1)
    body = day_codec.encode(mine, extra, totals, series, extras, 42)
    theirs, their_extra = Keys(), Keys()
    theirs.ids([("team", "red", None)])  # another process numbers keys its own way
    back_totals, back_series, back_extras, events = day_codec.tables(day_codec.parse(body), theirs, their_extra, 2)
    assert events == 42
    for table, keys, back, back_keys in (
        (totals, mine, back_totals, theirs),
        (series, mine, back_series, theirs),
        (extras, extra, back_extras, their_extra),
    ):
        want = {keys.keys[i]: v.tolist() for i, v in zip(table.ids.tolist(), table.values, strict=True)}
        got = {back_keys.keys[i]: v.tolist() for i, v in zip(back.ids.tolist(), back.values, strict=True)}
        assert got == want and np.all(np.diff(back.ids) > 0)
    for bad in (b"", b"x" * 10, body[:-3]):
        try:
            day_codec.tables(day_codec.parse(bad), Keys(), Keys(), 2)
        except ValueError:
            continue
        raise AssertionError(f"{bad[:10]!r} was read")


async def test_a_process_at_start_reads_the_kept_days_back_once(log: SqlStore) -> None:
    await log.append_many(weeks_of_calls())
    await warm(log, DayCache(store=log), CFG, NOW, back=BACK, queues=())
    started = DayCache(store=log)
    wanted = [FIRST + timedelta(days=k) for k in range(DAYS)]
    assert await started.preload(first_cfg(), "", wanted) == DAYS
    assert await started.preload(first_cfg(), "", wanted) == 0  # in memory now
    await range_report(log, started, first_cfg(), FIRST, LAST, "", NOW)
    assert started.loaded == DAYS and started.folded == 0


async def test_the_live_leader_lets_another_process_keep_the_days(log: SqlStore) -> None:
    leader = lease_turn(log, "leader", ttl_s=30.0, leading=lambda: True)
    other = lease_turn(log, "web-2", ttl_s=30.0)
    assert await leader()  # alone: the leader keeps the days
    assert await leader()
    assert not await other()  # taken: web-2 offers to keep them
    assert not await leader()  # so the leader lets them go
    assert await other() and await other()
    assert not await leader()  # and does not take them back while web-2 holds them
    alone = lease_turn(log, "leader-2", ttl_s=30.0, leading=lambda: True)
    await log.release_lease("report-days", "web-2")  # web-2 stops (its offer still stands a while)
    assert not await alone()
    await log.release_lease("report-days-standby", "web-2")
    assert await alone()
