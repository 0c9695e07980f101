"""`hotline history import`: the real Anonymous Bank month read into events whose KPI
report matches an independent reading of the log (counts, ASA, SL, AHT by type), the
store round trip on PostgreSQL, and the generic CSV's rejected rows by line."""

from __future__ import annotations

import asyncio
import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.schema import StoreConfig
from cti.cli import main
from events import AgentLoggedIn, CallConnected
from reports.kpi import KpiConfig, batch_report
from store import open_store
from wfm.history import Rejected, call_events, read_anonymous_bank, read_calls_csv, records_from_events

LOG = Path(__file__).resolve().parents[2] / "data" / "anonymous-bank" / "february-1999.tsv"


def _independent(path: Path, dates: set[str] | None = None) -> dict[str, dict[str, float]]:
    """Per call type, straight from the columns: queued calls (served, and hang-ups
    with q_time > 0), served, hung up, mean q_time of the served, served within 20 s,
    mean ser_time of the served."""
    acc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            if dates is not None and r["date"] not in dates:
                continue
            out, q = r["outcome"].strip(), int(r["q_time"])
            if out == "PHANTOM" or (out == "HANG" and q <= 0):
                continue
            a = acc[r["type"].strip()]
            a["offered"] += 1
            if out == "AGENT":
                a["answered"] += 1
                a["wait"] += q
                a["within"] += q <= 20
                a["service"] += int(r["ser_time"])
            else:
                a["abandoned"] += 1
    return acc


def _check_against(report: dict, truth: dict[str, dict[str, float]]) -> None:
    for typ, t in truth.items():
        k = report["queues"][typ]["total"]
        assert k["offered"] == t["offered"], typ
        assert k["answered"] == t["answered"], typ
        assert k["abandoned"] == t["abandoned"], typ
        assert k["handled"] == t["answered"], typ
        assert k["asa"] == pytest.approx(t["wait"] / t["answered"], abs=1e-9), typ
        assert k["service_level"] == pytest.approx(t["within"] / t["answered"], abs=1e-12), typ
        assert abs(k["aht"] - t["service"] / t["answered"]) < 1.0, typ
    assert report["overall"]["offered"] == sum(t["offered"] for t in truth.values())


def test_the_real_month_reads_as_the_log_says() -> None:
    items = list(read_anonymous_bank(LOG.open(newline="")))
    assert not [i for _, i in items if isinstance(i, Rejected)]
    calls = [i for _, i in items if i is not None]
    report = batch_report(call_events(calls), KpiConfig(interval_s=1800)).to_dict()
    _check_against(report, _independent(LOG))
    assert "NO_SERVER" not in report["agents"]
    # derived presence: busy a plausible share of the time, not all of it
    assert 0.3 < report["overall"]["occupancy"] < 0.75
    # every agent's calls closed: the handled count of each agent is its served calls
    per_agent: dict[str, int] = defaultdict(int)
    for c in calls:
        if c.agent:
            per_agent[c.agent] += 1
    assert {a: v["total"]["handled"] for a, v in report["agents"].items()} == per_agent


def test_a_call_queued_after_midnight_is_dated_the_next_day() -> None:
    header = LOG.open().readline()
    row = next(line for line in LOG.open() if "\t31056\t" in line and "\t990215\t" in line)
    [(_, rec)] = list(read_anonymous_bank([header, row]))
    assert rec is not None and not isinstance(rec, Rejected)
    # vru_entry 23:59:54 on Feb 15, q_start 0:00:00: queued at midnight starting Feb 16
    assert rec.queued_at == 919123200.0  # 1999-02-16T00:00:00Z
    assert rec.wait == 27 and rec.talk == 67 and rec.agent == "AVNI"


def test_import_into_postgresql_round_trips(tmp_path: Path, fresh_pg_url: str) -> None:
    dates = {"990215", "990216"}
    lines = LOG.read_text().splitlines(keepends=True)
    log = tmp_path / "two-days.tsv"
    log.write_text(lines[0] + "".join(ln for ln in lines[1:] if ln.split("\t")[5] in dates) + "bad\trow\n")
    config = tmp_path / "hotline.toml"
    config.write_text(f'[store]\nurl = "{fresh_pg_url}"\n')
    args = ["history", "import", str(log), "--format", "anonymous-bank", "--config", str(config)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    last = len(log.read_text().splitlines())
    assert f"{log}:{last}: rejected: 2 fields, the header has 17" in result.output
    again = CliRunner().invoke(main, args)
    assert "(0 new event(s)" in again.output, again.output

    async def read() -> list:
        store = await open_store(StoreConfig(url=fresh_pg_url))
        try:
            return [s.event async for s in store.iter_events(float("-inf"), float("inf"))]
        finally:
            await store.close()

    events = asyncio.run(read())
    assert any(isinstance(e, AgentLoggedIn) for e in events)
    assert not [e for e in events if isinstance(e, CallConnected) and e.agent_id == "NO_SERVER"]
    _check_against(batch_report(events).to_dict(), _independent(LOG, dates))
    # the calls read back from the store are the log's
    from_log = [
        c for _, c in read_anonymous_bank(log.open(newline="")) if c is not None and not isinstance(c, Rejected)
    ]
    assert records_from_events(events) == sorted(from_log, key=lambda c: (c.queued_at, c.call_id))
    # two days are too few to forecast from: said so
    fc = CliRunner().invoke(main, ["forecast", "--from-store", "--config", str(config), "--days", "1"])
    assert fc.exit_code == 1 and "2 day(s) of history to learn from: need a week" in fc.output


def test_forecast_from_a_store_with_a_week_of_history(tmp_path: Path) -> None:
    dates = {f"9902{d:02d}" for d in range(15, 22)}
    lines = LOG.read_text().splitlines(keepends=True)
    log = tmp_path / "week.tsv"
    log.write_text(lines[0] + "".join(ln for ln in lines[1:] if ln.split("\t")[5] in dates))
    config = tmp_path / "hotline.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/h.sqlite3"\n')
    imp = CliRunner().invoke(main, ["history", "import", str(log), "--format", "anonymous-bank", "--no-presence",
                                    "--config", str(config)])  # fmt: skip
    assert imp.exit_code == 0, imp.output
    args = ["--interval", "60", "--holdout-days", "0", "--days", "2", "--json", "-"]
    from_store = CliRunner().invoke(main, ["forecast", "--from-store", "--config", str(config), *args])
    from_file = CliRunner().invoke(main, ["forecast", str(log), "--format", "anonymous-bank", *args])
    assert from_store.exit_code == 0, from_store.output
    out = json.loads(from_store.output)
    assert out["train"] == ["1999-02-15T00:00:00+00:00", "1999-02-22T00:00:00+00:00"]
    assert len(out["intervals"]) == 48 and out["intervals"][0]["start"] == "1999-02-22T00:00:00+00:00"
    assert out == json.loads(from_file.output)  # the store gives back the log's calls


def test_generic_csv_rejects_rows_by_line() -> None:
    text = (
        "call_id,queue,queued_at,wait_s,outcome,talk_s,wrap_s,agent\n"
        "a,sales,2026-03-02T09:00:00,12,answered,300,30,ann\n"
        "b,sales,1772442000,40,abandoned,,,\n"
        "c,sales,yesterday,1,answered,10,,ann\n"
        "d,sales,2026-03-02T09:05:00,-3,answered,10,,ann\n"
        "e,sales,2026-03-02T09:05:00,3,hung,10,,ann\n"
        "f,sales,2026-03-02T09:06:00,0,answered,60,,\n"
    )
    items = list(read_calls_csv(text.splitlines(keepends=True)))
    rejected = {line: r.reason for line, r in items if isinstance(r, Rejected)}
    assert sorted(rejected) == [4, 5, 6]
    assert rejected[4].startswith("queued_at:") and rejected[5].startswith("wait_s:")
    assert rejected[6].startswith("outcome:")
    calls = [r for _, r in items if r is not None and not isinstance(r, Rejected)]
    report = batch_report(call_events(calls)).to_dict()
    assert report["overall"]["answered"] == 2 and report["overall"]["abandoned"] == 1
    assert report["agents"]["ann"]["total"]["aht"] == 330.0  # talk 300 + recorded wrap 30
    assert report["queues"]["sales"]["total"]["aht"] == 195.0  # (330 + 60) / 2


def test_forecast_wants_a_log_or_the_store() -> None:
    r = CliRunner().invoke(main, ["forecast", "--holdout-days", "7"])
    assert r.exit_code == 2 and "give a LOG file (with --format) or --from-store" in r.output
    r = CliRunner().invoke(main, ["forecast", str(LOG)])
    assert r.exit_code == 2 and "--format: required" in r.output


def test_a_file_in_another_format_is_named() -> None:
    with pytest.raises(ValueError, match="line 1: missing column"):
        list(read_calls_csv(["id,when\n"]))
