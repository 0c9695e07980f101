"""`hotline db report-days` rebuilds the reports' kept days from the event log: an
event logged late (after the day was kept) is counted once the day is rebuilt."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner

from config.schema import StoreConfig
from cti.cli import main
from events import CallAbandoned, CallQueued, Event
from reports.kpi import KpiConfig
from reports.report_days import DayCache, day_start, range_report
from store import open_store

DAY = date.today() - timedelta(days=3)


def calls(first: int, n: int) -> list[Event]:
    t = day_start(DAY) + 9 * 3600
    out: list[Event] = []
    for k in range(first, first + n):
        out += [CallQueued(t + 60 * k, f"c{k}", queue="billing"), CallAbandoned(t + 60 * k + 30, f"c{k}")]
    return out


async def log(url: str, events: list[Event]) -> None:
    store = await open_store(StoreConfig(url=url))
    try:
        await store.migrate()
        await store.append_many(events)
    finally:
        await store.close()


async def offered(url: str) -> tuple[int, int]:
    """The day's offered calls as a report reads them, and how many days were folded for it."""
    store = await open_store(StoreConfig(url=url))
    try:
        cache = DayCache(store=store)
        cfg = KpiConfig(sl_thresholds={"billing": 20.0}, interval_s=3600)
        found = await range_report(store, cache, cfg, DAY, DAY, "", time.time())
        return found.report.to_dict()["overall"]["offered"], cache.folded
    finally:
        await store.close()


def test_a_late_event_counts_once_its_day_is_rebuilt(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/days.sqlite3"
    config = tmp_path / "hotline.toml"
    config.write_text(f'[store]\nurl = "{url}"\n[queues.billing]\nsl_threshold_s = 20\n')
    runner = CliRunner()
    asyncio.run(log(url, calls(0, 3)))
    today = date.today()
    first = runner.invoke(main, ["db", "report-days", "--from", str(DAY), "--to", str(today), "--config", str(config)])
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == f"{DAY}\trebuilt\t2 view(s)\t6 event(s)"  # the center and billing
    assert lines[-1] == f"{today}\tnot closed yet: left to the report keeper"
    assert asyncio.run(offered(url)) == (3, 0)  # read back from the kept rows

    asyncio.run(log(url, calls(3, 2)))  # logged late: the kept day does not know them
    assert asyncio.run(offered(url)) == (3, 0)
    again = runner.invoke(main, ["db", "report-days", "--from", str(DAY), "--config", str(config)])
    assert again.exit_code == 0 and again.output == f"{DAY}\trebuilt\t2 view(s)\t10 event(s)\n", again.output
    assert asyncio.run(offered(url)) == (5, 0)

    backwards = runner.invoke(
        main, ["db", "report-days", "--from", str(DAY), "--to", "2000-01-01", "--config", str(config)]
    )
    assert backwards.exit_code == 2 and "--to 2000-01-01 is before --from" in backwards.output
    bad = runner.invoke(main, ["db", "report-days", "--from", "yesterday", "--config", str(config)])
    assert bad.exit_code == 2 and "yesterday" in bad.output
