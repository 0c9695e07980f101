"""The report keeper follows the event log as events are logged: each day is kept when
its lead-out ends, with the same tables a rebuild of the day from the log gives (and
the numbers of a refold of the raw log), and today's report is its fold so far, read
after the log's last rows. On the real SQLite and PostgreSQL stores."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import pytest

from events import AgentLoggedIn, AgentStateChanged, CallConnected, CallEnded, CallQueued, Event, WrapUpEnded
from reports.day_fold import DayFold, rebuild
from reports.kpi import KpiConfig
from reports.report_days import LEAD_OUT_S, Day, DayCache, day_start, range_report
from reports.report_keeper import ReportKeeper
from store.sql import SqlStore
from tests.reports.test_report_periods import FIRST, TEAMS, log, refold, totals, weeks_of_calls

__all__ = ["log"]  # (the SQLite / PostgreSQL fixture)

HOURLY = KpiConfig(teams=TEAMS, sl_thresholds={"billing": 30.0, "sales": 15.0}, interval_s=3600)
DAYS = 4


def as_dict(cache: DayCache, day: Day) -> dict[str, Any]:
    """A day's tables by bucket key (row numbers are the cache's own)."""
    keys, extra = cache.keys.keys, cache.extra_keys.keys
    out: dict[str, Any] = {"events": day.events}
    for name, table, names in (
        ("totals", day.totals, keys),
        ("series", day.series, keys),
        ("extras", day.extras, extra),
    ):
        out[name] = {names[i]: row.tolist() for i, row in zip(table.ids.tolist(), table.values, strict=True)}
    return out


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def config() -> KpiConfig:
    return HOURLY


async def test_each_day_is_kept_as_it_closes_with_the_tables_of_a_rebuild(log: SqlStore) -> None:
    events = [e for e in weeks_of_calls() if e.at < day_start(FIRST + timedelta(days=DAYS))]  # type: ignore[attr-defined]
    clock = Clock(day_start(FIRST) + 3600)
    cache = DayCache(store=log)
    keeper = ReportKeeper(log, cache, config, clock)
    await keeper.step()
    assert keeper.first_day() == FIRST - timedelta(days=1)
    at = day_start(FIRST)
    while at < day_start(FIRST + timedelta(days=DAYS)) + LEAD_OUT_S + 3600:  # logged hour by hour, a step each
        batch = [e for e in events if at <= e.at < at + 3600]  # type: ignore[attr-defined]
        if batch:
            await log.append_many(batch)
        at += 3600
        clock.now = at
        await keeper.step()
    assert keeper.kept == 3 * DAYS  # the center, billing and sales of each day, kept once closed

    rebuilt = DayCache()  # no store: each day rebuilt from the log
    for k in range(DAYS):
        day = FIRST + timedelta(days=k)
        for view in ("", "billing", "sales"):
            kept = await cache.day(log, HOURLY, view, day, clock.now)
            fresh = await rebuilt.day(log, HOURLY, view, day, clock.now)
            assert as_dict(cache, kept) == as_dict(rebuilt, fresh), (day, view)
    assert rebuilt.folded == 3 * DAYS and cache.folded == 0

    restarted = DayCache(store=log)
    last = FIRST + timedelta(days=DAYS - 1)
    for queue in ("", "billing"):
        got = (await range_report(log, restarted, HOURLY, FIRST, last, queue, clock.now)).report.to_dict()
        whole = refold(events, HOURLY, day_start(FIRST), day_start(last + timedelta(days=1)), queue)
        assert totals(got) == totals(whole) and got["intervals"] == whole["intervals"]
    assert restarted.folded == 0 and restarted.loaded == 2 * DAYS


async def test_today_is_the_keepers_fold_after_the_last_logged_rows(log: SqlStore) -> None:
    events = [e for e in weeks_of_calls() if e.at < day_start(FIRST) + 20 * 3600]  # type: ignore[attr-defined]
    noon = day_start(FIRST) + 12 * 3600
    clock = Clock(noon)
    cache = DayCache(store=log)
    keeper = ReportKeeper(log, cache, config, clock)
    cache.live = keeper.peek
    await log.append_many([e for e in events if e.at < noon - 3600])  # type: ignore[attr-defined]
    await keeper.step()
    await log.append_many([e for e in events if noon - 3600 <= e.at < noon])  # type: ignore[attr-defined]
    # no step since: the report reads the log's last rows itself
    for queue in ("", "sales"):
        got = (await range_report(log, cache, HOURLY, FIRST, FIRST, queue, noon)).report.to_dict()
        whole = refold([e for e in events if e.at < noon], HOURLY, day_start(FIRST), noon, queue)  # type: ignore[attr-defined]
        assert totals(got) == totals(whole) and got["overall"]["offered"] > 0
    assert cache.folded == 0  # nothing refolded from the raw log
    other = await range_report(log, cache, HOURLY, FIRST, FIRST, "unknown-queue", noon)
    assert cache.folded == 1 and other.report.to_dict()["overall"]["offered"] == 0  # a view it does not keep


async def test_new_settings_start_the_fold_again_from_the_log(log: SqlStore) -> None:
    events = [e for e in weeks_of_calls() if e.at < day_start(FIRST) + 20 * 3600]  # type: ignore[attr-defined]
    await log.append_many(events)
    clock = Clock(day_start(FIRST) + 21 * 3600)
    current = [HOURLY]

    async def settings() -> KpiConfig:
        return current[0]

    cache = DayCache(store=log)
    keeper = ReportKeeper(log, cache, settings, clock)
    await keeper.step()
    current[0] = KpiConfig(teams={**TEAMS, "a1": "blue"}, interval_s=3600)
    keeper.reconfigure()
    await keeper.step()
    assert keeper.fold is not None and keeper.fold.views == ("",)
    got = await keeper.peek(current[0], "", FIRST, clock.now)
    assert got is not None and ("team", "blue", None) in got.buckets
    assert await keeper.peek(HOURLY, "", FIRST, clock.now) is None  # the old settings: not this fold's


def test_events_logged_out_of_time_order_are_folded_in_time_order() -> None:
    """Two writers: a wrap-up logged after a later call's events is put back in place."""
    day = date(2026, 3, 18)
    t = day_start(day) + 9 * 3600
    in_order: list[Event] = [
        AgentLoggedIn(t, "a1"),
        AgentStateChanged(t, "a1", "available"),
        CallQueued(t + 10, "c1", queue="sales"),
        CallConnected(t + 20, "c1", "a1", "sales"),
        CallEnded(t + 100, "c1"),
        WrapUpEnded(t + 130, "c1", "a1", "sale"),
        CallQueued(t + 131, "c2", queue="sales"),
        CallConnected(t + 140, "c2", "a1", "sales"),
        CallEnded(t + 200, "c2"),
    ]
    logged = [*in_order[:5], *in_order[6:8], in_order[5], in_order[8]]  # the wrap-up logged 10 s late
    until = t + 3600
    want = rebuild(in_order, HOURLY, ("sales",), day, until)
    fold = DayFold(HOURLY, ("sales",), day)
    for seq, e in enumerate(logged, 1):
        fold.feed(e, seq)
    fold.settle(until)
    got = fold.close(day, until)
    for view in ("", "sales"):
        assert {k: t.as_row() for k, t in got[view].buckets.items()} == {
            k: t.as_row() for k, t in want[view].buckets.items()
        }
        assert got[view].extras == want[view].extras
    assert want["sales"].extras["dispositions"] == {"sale": {"a1": 1.0}}


@pytest.mark.parametrize("extra_s", [0.0, 45.0])
def test_a_pause_and_a_night_shift_are_cut_at_midnight(extra_s: float) -> None:
    day = date(2026, 3, 18)
    midnight = day_start(day + timedelta(days=1))
    events: list[Event] = [
        AgentLoggedIn(midnight - 7200, "a3"),
        AgentStateChanged(midnight - 7200, "a3", "available"),
        AgentStateChanged(midnight - 600, "a3", "paused", "meal"),
        AgentStateChanged(midnight + 1200 + extra_s, "a3", "available"),
    ]
    fold = DayFold(HOURLY, (), day)
    for e in events:
        fold.feed(e)
    fold.settle(midnight + LEAD_OUT_S)
    first = fold.close(day)[""]
    second = fold.close(day + timedelta(days=1), midnight + 3600)[""]
    assert first.extras["pauses"] == {"meal": {"a3": 600.0}}
    assert second.extras["pauses"] == {"meal": {"a3": 1200.0 + extra_s}}
    assert first.buckets[("agent", "a3", None)].t_paused == 600.0
    assert first.buckets[("agent", "a3", None)].t_available == 6600.0
    assert second.buckets[("agent", "a3", None)].t_available == 3600.0 - 1200.0 - extra_s


def test_a_calls_queue_is_forgotten_after_six_hours() -> None:
    """A day of a million calls keeps no million queues: a wrap-up 7 h after its call
    queued counts in the center's dispositions, not in its queue's."""
    day = date(2026, 3, 18)
    t = day_start(day) + 8 * 3600
    events: list[Event] = [
        CallQueued(t, "early", queue="sales"),
        CallConnected(t + 10, "early", "a1", "sales"),
        CallEnded(t + 100, "early"),
        WrapUpEnded(t + 5 * 3600, "early", "a1", "kept"),
        CallQueued(t + 5 * 3600, "late", queue="sales"),
        CallConnected(t + 5 * 3600 + 10, "late", "a1", "sales"),
        CallEnded(t + 5 * 3600 + 100, "late"),
        WrapUpEnded(t + 7 * 3600, "early", "a2", "forgotten"),
        WrapUpEnded(t + 7 * 3600 + 1, "late", "a1", "kept"),
    ]
    got = rebuild(events, HOURLY, ("sales",), day, day_start(day + timedelta(days=1)))
    assert got["sales"].extras["dispositions"] == {"kept": {"a1": 2.0}}
    assert got[""].extras["dispositions"] == {"kept": {"a1": 2.0}, "forgotten": {"a2": 1.0}}


async def test_other_processes_read_today_as_the_keeper_last_wrote_it(log: SqlStore) -> None:
    events = [e for e in weeks_of_calls() if e.at < day_start(FIRST) + 20 * 3600]  # type: ignore[attr-defined]
    noon = day_start(FIRST) + 12 * 3600
    clock = Clock(noon)
    cache = DayCache(store=log)
    keeper = ReportKeeper(log, cache, config, clock)
    morning = [e for e in events if e.at < noon]  # type: ignore[attr-defined]
    await log.append_many(morning)
    await keeper.step()  # folds what is logged, and writes the open day for the others
    folded_to = max(e.at for e in morning) - 30.0  # type: ignore[attr-defined]  # (events wait 30 s to be in order)
    other = DayCache(store=log)  # a web process that does not keep the days
    for queue in ("", "billing"):
        got = (await range_report(log, other, HOURLY, FIRST, FIRST, queue, noon)).report.to_dict()
        picked = [e for e in morning if e.at <= folded_to]  # type: ignore[attr-defined]
        want = refold(picked, HOURLY, day_start(FIRST), noon, queue)
        assert got["overall"]["offered"] == want["overall"]["offered"] > 0
        assert got["overall"]["answered"] == want["overall"]["answered"]
    assert other.folded == 0 and other.loaded == 2

    settings = cache.settings(HOURLY) + ":open"
    [row] = (await log.report_days(settings, "", [FIRST.isoformat()])).values()
    await log.put_report_day(row, time.time() - 3600)  # its keeper stopped an hour ago: not used
    stale = DayCache(store=log)
    await range_report(log, stale, HOURLY, FIRST, FIRST, "", noon)
    assert stale.folded == 1 and stale.loaded == 0

    clock.now = day_start(FIRST + timedelta(days=1)) + LEAD_OUT_S + 1
    await keeper.step()  # the day closes: kept, and its open rows go
    assert await log.report_days(settings, "", [FIRST.isoformat()]) == {}
    assert FIRST.isoformat() in await log.report_days(cache.settings(HOURLY), "", [FIRST.isoformat()])


async def test_the_open_day_is_written_only_while_another_process_may_read_it(log: SqlStore) -> None:
    """The keeper in the live leader has no reader for the open day (another web process
    would keep the days itself): it does not spend a publish's second of CPU beside the
    router; once it may have readers, the next step writes it."""
    noon = day_start(FIRST) + 12 * 3600
    await log.append_many([e for e in weeks_of_calls() if e.at < noon])  # type: ignore[attr-defined]
    cache = DayCache(store=log)
    alone = [True]
    keeper = ReportKeeper(log, cache, config, Clock(noon), readers=lambda: not alone[0])
    settings = cache.settings(HOURLY) + ":open"
    await keeper.step()
    assert await log.report_days(settings, "", [FIRST.isoformat()]) == {}
    alone[0] = False
    keeper.clock.now += keeper.publish_every_s  # type: ignore[attr-defined]
    await keeper.step()
    assert FIRST.isoformat() in await log.report_days(settings, "", [FIRST.isoformat()])
