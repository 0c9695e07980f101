"""`hotline db events CALL_ID` shows which leader's term logged each of a call's events,
and `hotline db leader` who leads now (issue 15: an audit tells which leader acted)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from config.schema import StoreConfig
from cti.cli import main
from cti.leadership import LIVE_LEASE
from events import CallOffered, CallQueued, WrapUpEnded
from store import open_store


async def _log(url: str) -> None:
    store = await open_store(StoreConfig(url=url))
    try:
        await store.migrate()
        await store.claim_lease(LIVE_LEASE, "host-a:41:abc", 30.0)  # epoch 1
        await store.append_many([CallQueued(at=1_800_000_000.0, call_id="c1", queue="support")], epoch=1)
        await store.release_lease(LIVE_LEASE, "host-a:41:abc")
        await store.claim_lease(LIVE_LEASE, "host-b:42:abc", 30.0)  # epoch 2
        offered = CallOffered(at=1_800_000_001.5, call_id="c1", agent_id="sol", queue="support")
        await store.append_many([offered], epoch=2)
        await store.append(WrapUpEnded(at=1_800_000_090.0, call_id="c1", agent_id="sol", disposition="sold"))
    finally:
        await store.close()


def test_a_calls_events_show_the_epoch_of_the_leader_that_logged_them_and_who_leads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/audit.sqlite3"
    config = tmp_path / "hotline.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    runner = CliRunner()
    unmigrated = runner.invoke(main, ["db", "leader", "--config", str(config)])
    assert unmigrated.exit_code == 1 and "no such table: leader_lease (is it migrated?" in unmigrated.output
    asyncio.run(_log(url))
    shown = runner.invoke(main, ["db", "events", "c1", "--config", str(config)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "seq\tepoch\tat (UTC)\tevent"
    assert [line.split("\t")[:2] for line in lines[1:]] == [["1", "1"], ["2", "2"], ["3", "0"]]
    assert lines[2].endswith("CallOffered agent_id=sol queue=support")
    assert "2027-01-15T08:00:01.500+00:00" in lines[2]
    missing = runner.invoke(main, ["db", "events", "nope", "--config", str(config)])
    assert missing.exit_code == 1 and "call 'nope': no event in the log" in missing.output
    leader = runner.invoke(main, ["db", "leader", "--config", str(config)]).output
    assert leader.startswith("leader host-b:42:abc epoch 2 (lease runs ") and "s more" in leader
