"""Reports by hour, day, week and month, for the whole center or one queue, answer from
the day cache (filled ahead by the warm-up job) with the numbers a fold of the raw
event log gives: the whole range's totals as one refold of the range, each row as a
refold of its day, week or month. On the real SQLite and PostgreSQL event logs."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config.schema import StoreConfig
from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallQueued,
    Event,
    WrapUpEnded,
)
from reports.kpi import TOTALS_FIELDS, KpiConfig, Totals, batch_report, metrics, metrics_rows
from reports.report_days import LEAD_OUT_S, DayCache, day_start, period_of, range_report
from reports.report_warm import warm
from store import open_store
from store.sql import SqlStore

FIRST = date(2026, 3, 18)  # a Wednesday: the first week and the first month are partial
LAST = date(2026, 4, 14)
TEAMS = {"a1": "red", "a2": "red", "a3": "blue"}


def weeks_of_calls() -> list[Event]:
    """Four weeks over a month's end: two day agents and a night agent, calls in two
    queues (some abandoned, some through midnight), a campaign's calls, pauses with a
    reason and dispositions; whole seconds, so sums of days add up exactly."""
    rng = random.Random(20)
    out: list[Event] = []
    n = 0
    for k in range((LAST - FIRST).days + 1):
        base = int(day_start(FIRST + timedelta(days=k)))
        out += [AgentLoggedIn(base + 7 * 3600, a) for a in ("a1", "a2")]
        out += [AgentLoggedOut(base + 19 * 3600, a) for a in ("a1", "a2")]
        out += [AgentLoggedIn(base + 22 * 3600, "a3"), AgentLoggedOut(base + 30 * 3600, "a3")]
        out += [AgentStateChanged(base + 12 * 3600, "a2", "paused", "lunch")]
        out += [AgentStateChanged(base + 12 * 3600 + 1800, "a2", "available")]
        for _ in range(rng.randint(2, 9)):
            n += 1
            cid, queue = f"c{n}", rng.choice(["billing", "sales"])
            t = base + rng.randint(8 * 3600, 18 * 3600)
            agent, wait = rng.choice(["a1", "a2"]), rng.randint(1, 60)
            outbound = rng.random() < 0.15
            out.append(CallQueued(t, cid, queue=queue, attributes={"campaign": "spring"} if outbound else {}))
            if rng.random() < 0.2:
                out.append(CallAbandoned(t + wait, cid))
                continue
            talk = rng.randint(30, 400)
            out += [CallConnected(t + wait, cid, agent, queue), CallEnded(t + wait + talk, cid)]
            out.append(WrapUpEnded(t + wait + talk + 15, cid, agent, disposition=rng.choice(["sale", "info"])))
        night = f"n{k}"  # offered before midnight, answered and ended after it
        out += [CallQueued(base + 86_400 - 20, night, queue="billing")]
        out += [CallConnected(base + 86_400 + 15, night, "a3", "billing"), CallEnded(base + 86_400 + 300, night)]
        out += [WrapUpEnded(base + 86_400 + 320, night, "a3")]
    return sorted(out, key=lambda e: e.at)  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgresql"])
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    sqlite = f"sqlite:///{tmp_path}/periods.sqlite3"
    url = sqlite if request.param == "sqlite" else request.getfixturevalue("fresh_pg_url")
    store = await open_store(StoreConfig(url=url))
    await store.migrate()
    try:
        yield store
    finally:
        await store.close()


def refold(events: list[Event], cfg: KpiConfig, start: float, end: float, queue: str = "") -> dict[str, Any]:
    """A fold of the raw log: calls offered in [start, end) (none is offered at a
    midnight), followed to their end; `queue`: only its calls' visits there."""
    picked = [e for e in events if e.at < end + LEAD_OUT_S]  # type: ignore[attr-defined]
    return batch_report(picked, cfg, start, end, queue=queue).to_dict()


def totals(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "overall": report["overall"],
        "outbound": report["outbound"],
        **{dim: {k: v["total"] for k, v in report[dim].items()} for dim in ("queues", "teams", "agents")},
    }


def periods(by: str) -> list[tuple[float, float]]:
    """[start, end) of each row of a report by `by` over FIRST..LAST, clipped to it."""
    starts = sorted({period_of(FIRST + timedelta(days=k), by) for k in range((LAST - FIRST).days + 1)})
    ends = [*starts[1:], LAST + timedelta(days=1)]
    return [(day_start(max(s, FIRST)), day_start(e)) for s, e in zip(starts, ends, strict=True)]


async def test_every_interval_and_a_queue_filter_answer_from_the_cache_as_a_refold(log: SqlStore) -> None:
    events = weeks_of_calls()
    await log.append_many(events)
    now = day_start(LAST + timedelta(days=3))
    start, end = day_start(FIRST), day_start(LAST + timedelta(days=1))
    cfg = KpiConfig(teams=TEAMS, sl_thresholds={"billing": 30.0, "sales": 15.0})
    cache = DayCache()
    warmed = await warm(log, cache, cfg, now, back=(LAST - FIRST).days + 3)
    assert warmed == 3 * ((LAST - FIRST).days + 2)  # each closed day: the center, billing and sales
    folded = cache.folded
    for queue in ("", "billing"):
        whole = refold(events, cfg, start, end, queue)
        assert whole["overall"]["offered"] > 50 and whole["outbound"]["total"]["offered"] > 0
        for interval, by in ((3600, ""), (86_400, ""), (86_400, "week"), (86_400, "month")):
            icfg = KpiConfig(teams=TEAMS, sl_thresholds=cfg.sl_thresholds, interval_s=interval)
            got = (await range_report(log, cache, icfg, FIRST, LAST, queue, now, by)).report.to_dict()
            assert cache.folded == folded, (queue, interval, by)  # from the cache, nothing refolded
            assert totals(got) == totals(whole), (queue, interval, by)
            if not by and interval == 3600:
                hourly = refold(events, icfg, start, end, queue)
                assert got["intervals"] == hourly["intervals"]
                assert {k: v["intervals"] for k, v in got["queues"].items()} == {
                    k: v["intervals"] for k, v in hourly["queues"].items()
                }
                continue
            rows = got["intervals"]
            spans = periods(by or "day")
            assert [r["start"] for r in rows] == [s for s, _ in spans], (queue, by)
            for row, (lo, hi) in zip(rows, spans, strict=True):
                assert {k: v for k, v in row.items() if k != "start"} == refold(events, icfg, lo, hi, queue)["overall"]
            if by == "month":
                assert len(rows) == 2 and rows[0]["offered"] + rows[1]["offered"] == whole["overall"]["offered"]
            if by == "week":
                assert len(rows) == 5  # Wed 18 Mar .. Tue 14 Apr: four Mondays, and the first part week


async def test_a_quarter_hour_report_folds_each_day_once_then_answers_from_the_cache(log: SqlStore) -> None:
    events = weeks_of_calls()
    await log.append_many(events)
    now = day_start(LAST + timedelta(days=3))
    cfg = KpiConfig(teams=TEAMS, interval_s=900)
    cache = DayCache()
    first = await range_report(log, cache, cfg, FIRST, FIRST + timedelta(days=6), "sales", now)
    assert cache.folded == 7
    again = await range_report(log, cache, cfg, FIRST, FIRST + timedelta(days=6), "sales", now)
    assert cache.folded == 7 and again.report.to_dict() == first.report.to_dict()
    whole = refold(events, cfg, day_start(FIRST), day_start(FIRST + timedelta(days=7)), "sales")
    assert first.report.to_dict()["intervals"] == whole["intervals"]
    assert first.extras["dispositions"] and first.extras["pauses"]["lunch"]["a2"] == 7 * 1800


@pytest.mark.parametrize("excludes_short", [False, True])
def test_the_agents_kpis_from_a_table_are_the_kpis_of_each_bucket(excludes_short: bool) -> None:
    """`metrics_rows` (10,000 agents' totals at once) gives what `metrics` gives each one,
    None where a ratio has no denominator included."""
    rng = random.Random(3)
    rows = [[float(rng.choice([0, 0, 1, 7, 13.5, 600])) for _ in TOTALS_FIELDS] for _ in range(300)]
    rows.append([0.0] * len(TOTALS_FIELDS))
    cfg = KpiConfig(abandon_rate_excludes_short=excludes_short)
    got = metrics_rows(np.asarray(rows, dtype=np.float64), cfg)
    assert got == [metrics(Totals.of_row(r), cfg) for r in rows]
    assert got[-1]["aht"] is None and list(got[-1]) == list(metrics(Totals(), cfg))
