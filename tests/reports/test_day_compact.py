"""A day's views compacted in two halves (reports/report_days.py: the rows built in a
worker thread, only numbered on the loop) give the tables, heads and row numbers the
single call on the loop gave, bit for bit; and the cache's `Keys` grow only on the
loop's thread."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable
from datetime import timedelta
from typing import Any

import numpy as np

from reports.day_fold import SERIES_DIMS, DayParts, rebuild
from reports.day_table import Ids, Keys, Table
from reports.kpi import KpiConfig, Totals
from reports.report_days import WIDTH, Day, DayCache, day_rows, day_start
from tests.reports.test_report_periods import FIRST, TEAMS, weeks_of_calls

HOURLY = KpiConfig(teams=TEAMS, sl_thresholds={"billing": 30.0, "sales": 15.0}, interval_s=3600)
VIEWS = ("", "billing", "sales")
DAYS = 5


def folded_days() -> list[dict[str, DayParts]]:
    """Each day's views as the report keeper's fold closes them (a night agent, pauses,
    dispositions, a campaign's calls: every kind of bucket and extra)."""
    events = weeks_of_calls()
    out = []
    for k in range(DAYS):
        day = FIRST + timedelta(days=k)
        out.append(rebuild(events, HOURLY, VIEWS, day, day_start(day + timedelta(days=1))))
    return out


def compact_as_before(cache: DayCache, parts: DayParts) -> Day:
    """`DayCache.compact` as it was, in one call on the loop (the reference)."""
    buckets, counted, extras = parts.buckets, parts.events, parts.extras
    totals = {k: t.as_row() for k, t in buckets.items() if k[2] is None}
    series = {k: t.as_row() for k, t in buckets.items() if k[2] is not None and k[0] in SERIES_DIMS}
    flat = {(s, r, c): [v] for s, rows in extras.items() for r, cols in rows.items() for c, v in cols.items()}
    whole = Table.of(cache.keys, totals, WIDTH)
    keys, ids = cache.keys.keys, whole.ids.tolist()
    picked = [j for j, i in enumerate(ids) if keys[i][0] in SERIES_DIMS]  # type: ignore[index]
    heads = {
        keys[ids[j]]: Totals.of_row(row)  # type: ignore[misc]
        for j, row in zip(picked, whole.values[picked].tolist(), strict=True)
    }
    return Day(
        whole, Table.of(cache.keys, series, WIDTH), heads, counted, Table.of(cache.extra_keys, flat, 1), cache.keys
    )


def bits(day: Day) -> dict[str, Any]:
    """Everything of a day down to the bytes of its arrays and the floats' bits."""
    out: dict[str, Any] = {"events": day.events}
    for name in ("totals", "series", "extras"):
        t = getattr(day, name)
        out[name] = (
            t.ids.dtype.str,
            t.ids.shape,
            t.ids.tobytes(),
            t.values.dtype.str,
            t.values.shape,
            t.values.tobytes(),
        )
    out["heads"] = [(k, [float(v).hex() for v in t.as_row()]) for k, t in day.heads.items()]  # (in order)
    return out


async def test_the_split_compaction_equals_the_single_call_bit_for_bit() -> None:
    before, single, split = DayCache(), DayCache(), DayCache()
    for parts in folded_days():  # (days after the first: some keys numbered already, some new)
        old = {view: compact_as_before(before, p) for view, p in parts.items()}
        one = {view: single.compact(p) for view, p in parts.items()}
        two = await split.compact_off(parts)
        assert list(old) == list(one) == list(two) == list(VIEWS)
        for view in VIEWS:
            assert bits(one[view]) == bits(old[view]) == bits(two[view]), view
            assert old[view].heads and len(old[view].totals.ids) > len(old[view].heads)
    assert before.keys.keys == single.keys.keys == split.keys.keys  # the same row numbers given
    assert before.extra_keys.keys == single.extra_keys.keys == split.extra_keys.keys
    numbered = [split.keys.ids(day_rows(p).totals.keys) for parts in folded_days() for p in parts.values()]
    assert any(np.any(np.diff(ids) < 0) for ids in numbered)  # (some days' keys not in row order: sorted)


class WatchedKeys(Keys):
    """`Keys` that note the threads that number keys with them."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def ids(self, keys: Iterable[Hashable]) -> Ids:
        self.threads.add(threading.get_ident())
        return super().ids(keys)


async def test_only_the_loop_half_numbers_keys() -> None:
    cache = DayCache()
    cache.keys, cache.extra_keys = WatchedKeys(), WatchedKeys()
    parts = folded_days()[1]
    rows = {view: day_rows(p) for view, p in parts.items()}  # the pure half: no `Keys` touched
    assert len(cache.keys) == len(cache.extra_keys) == 0
    assert cache.keys.threads == cache.extra_keys.threads == set()  # type: ignore[attr-defined]
    found = await cache.compact_off(parts)
    loop = {threading.get_ident()}
    assert cache.keys.threads == cache.extra_keys.threads == loop  # type: ignore[attr-defined]
    assert len(cache.keys) > 0 and len(cache.extra_keys) > 0
    grown = len(cache.keys), len(cache.extra_keys)
    again = {view: cache.place(r) for view, r in rows.items()}  # the rows built before, numbered now
    assert (len(cache.keys), len(cache.extra_keys)) == grown  # (the same keys: no new row number)
    assert all(bits(again[v]) == bits(found[v]) for v in VIEWS)
