"""The reports' closed days in the SQL store (issue 20: reports at scale).

One row per (KPI settings, view, day): the day's additive tables as reports/day_codec.py
encodes them. Folding a day of a 10,000-agent center from the raw event log takes
seconds; kept here, it is folded once for every web process and every restart.
`SqlReportDays` is mixed into `store.sql.SqlStore`; the memory store has none (a
process without it folds and keeps days in its own memory, as before).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from store.drivers import Driver


@dataclass(frozen=True, slots=True)
class ReportDayRow:
    day: str  # ISO date
    view: str  # '' the whole center, else the queue filter
    settings: str  # a digest of the KPI settings the day was folded with
    events: int  # events of the day read to fold it
    body: bytes
    folded_at: float = 0.0  # when it was written (the store's reader fills it)


class ReportDayRows(Protocol):
    async def put_report_day(self, row: ReportDayRow, at: float) -> None:
        """Keep `row`, replacing the same (settings, view, day) if kept (a rebuild)."""
        ...

    async def report_days(self, settings: str, view: str, days: Collection[str]) -> dict[str, ReportDayRow]:
        """The rows kept of `days` (ISO dates) for these settings and view, by day."""
        ...

    async def report_days_kept(self, settings: str, first: str, last: str) -> set[tuple[str, str]]:
        """(day, view) of every row kept for these settings with first <= day <= last."""
        ...

    async def drop_report_day(self, settings: str, day: str) -> None:
        """Drop the rows of one day under these settings, every view."""
        ...


class SqlReportDays:
    _db: Driver

    async def put_report_day(self, row: ReportDayRow, at: float) -> None:
        await self._db.execute(
            "INSERT INTO report_days (day, view, settings, events, body, folded_at) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (settings, view, day) DO UPDATE SET events = excluded.events, body = excluded.body,"
            " folded_at = excluded.folded_at",
            row.day,
            row.view,
            row.settings,
            int(row.events),
            bytes(row.body),
            float(at),
        )

    async def report_days(self, settings: str, view: str, days: Collection[str]) -> dict[str, ReportDayRow]:
        wanted = sorted(set(days))
        if not wanted:
            return {}
        rows = await self._db.fetch(
            "SELECT day, events, body, folded_at FROM report_days"
            " WHERE settings = $1 AND view = $2 AND day >= $3 AND day <= $4",
            settings,
            view,
            wanted[0],
            wanted[-1],
        )
        keep = set(wanted)
        return {
            r["day"]: ReportDayRow(r["day"], view, settings, int(r["events"]), bytes(r["body"]), float(r["folded_at"]))
            for r in rows
            if r["day"] in keep
        }

    async def report_days_kept(self, settings: str, first: str, last: str) -> set[tuple[str, str]]:
        rows = await self._db.fetch(
            "SELECT day, view FROM report_days WHERE settings = $1 AND day >= $2 AND day <= $3", settings, first, last
        )
        return {(r["day"], r["view"]) for r in rows}

    async def drop_report_day(self, settings: str, day: str) -> None:
        await self._db.execute("DELETE FROM report_days WHERE settings = $1 AND day = $2", settings, day)
