"""Issue 17 item 3: recordings are rows linked to their call, and the daily retention
job deletes the files and rows older than `[recording] retention_days` (SQLite and
PostgreSQL, the real stores); the policy's bad values are refused naming the field."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.recording import RecordingConfig, records
from config.schema import HotlineConfig, StoreConfig
from cti.recording_retention import DAY_S, daily, purge
from store import open_store
from store.models import Recording
from store.port import NotFound

NOW = 1_800_000_000.0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_retention_deletes_old_files_and_rows_only(tmp_path: Path, backend: str, request) -> None:
    url = f"sqlite:///{tmp_path}/r.sqlite3" if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    store = await open_store(StoreConfig(url=url))
    try:
        await store.migrate()
        files = {}
        for call_id, age_days in (("old.1", 91), ("old.2", 200), ("new.1", 89), ("gone.1", 95)):
            path = tmp_path / "rec" / f"{call_id}.wav"
            path.parent.mkdir(exist_ok=True)
            if call_id != "gone.1":  # its file went already: the row goes all the same
                path.write_bytes(b"RIFF")
            files[call_id] = path
            started = NOW - age_days * DAY_S
            await store.put_recording(Recording(call_id, str(path), "agent01", "billing", started, started + 60))
        assert (await store.get_recording("new.1")).agent_id == "agent01"

        assert await purge(store, NOW, 90) == 3
        assert [r.call_id for r in await store.recordings_started_before(NOW)] == ["new.1"]
        assert files["new.1"].exists() and not files["old.1"].exists() and not files["old.2"].exists()
        with pytest.raises(NotFound):
            await store.get_recording("old.1")
        assert await purge(store, NOW, 90) == 0  # again: nothing more

        # the daily job: runs at once, then every day
        await store.put_recording(Recording("old.3", str(files["old.1"]), "agent01", "billing", NOW - 100 * DAY_S))
        job = asyncio.create_task(daily(store, lambda: NOW, 90, every_s=3600))
        try:
            for _ in range(100):
                if not await store.recordings_started_before(NOW - 90 * DAY_S):
                    break
                await asyncio.sleep(0.02)
            assert not await store.recordings_started_before(NOW - 90 * DAY_S)
        finally:
            job.cancel()
    finally:
        await store.close()


def test_policies_are_checked_and_a_percentage_is_stable() -> None:
    config = RecordingConfig(
        default="never", queues={"billing": "all", "sales": "30%"}, campaigns={"spring": "on_demand"}
    )
    assert config.policy("billing") == "all" and config.policy("support") == "never"
    assert config.policy("billing", "spring") == "on_demand"  # the campaign's own
    picked = [records("30%", f"call-{n}") for n in range(2000)]
    assert 0.25 < sum(picked) / len(picked) < 0.35
    assert picked == [records("30%", f"call-{n}") for n in range(2000)]  # the same call, the same answer
    assert records("all", "x") and not records("never", "x") and not records("on_demand", "x")
    for bad in ({"queues": {"billing": "sometimes"}}, {"default": "120%"}, {"retention_days": 0}):
        with pytest.raises(ValidationError) as err:
            HotlineConfig.model_validate({"recording": bad})
        field = next(iter(bad))
        assert field in str(err.value), err.value
