"""`hotline customers erase ID`: a customer's erasure from the command line: their
record, interactions and recordings (the file too) go, their pending call-backs are
cancelled, audited with the counts only."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from config.schema import StoreConfig
from cti.cli import main
from store import open_store
from store.models import Callback, Customer, Interaction, Recording
from store.port import NotFound


def test_erase_deletes_the_record_the_calls_and_their_recordings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.sqlite3"
    config = tmp_path / "hotline.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    wav = tmp_path / "k1.wav"
    wav.write_bytes(b"RIFF....WAVE")

    async def seed() -> None:
        store = await open_store(StoreConfig(url=url))
        await store.migrate()
        await store.put_customer(Customer(id="C1", name="Ann Lee", phones=("+14155550101",)))
        await store.put_interaction(Interaction(id="k1", customer_id="C1", agent_id="agent01", started_at=1.0))
        await store.put_interaction(Interaction(id="k2", customer_id="C2", agent_id="agent01", started_at=2.0))
        await store.put_recording(Recording("k1", str(wav), "agent01", "billing", 1.0, 9.0))
        await store.put_callback(Callback("cb1", due_at=5e9, call_id="k1", customer_id="C1", number="+14155550101"))
        await store.put_callback(Callback("cb2", due_at=5e9, call_id="k2", customer_id="C2", number="+14155550102"))
        await store.close()

    asyncio.run(seed())
    result = CliRunner().invoke(main, ["customers", "erase", "C1", "--yes", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "C1: customer record deleted, 1 interaction(s), 1 recording(s), 1 call-back(s) cancelled" in result.output
    assert not wav.exists()

    async def check() -> None:
        store = await open_store(StoreConfig(url=url))
        try:
            for gone in (store.get_customer("C1"), store.get_interaction("k1"), store.get_recording("k1")):
                try:
                    await gone
                    raise AssertionError("still kept")
                except NotFound:
                    pass
            assert (await store.get_interaction("k2")).customer_id == "C2"  # nobody else's
            [entry] = await store.audit_entries(action="customer.erased")
            assert entry.actor.startswith("cli:") and entry.target == "C1"
            assert entry.detail == {"customer": True, "interactions": 1, "recordings": 1, "callbacks": 1}
            cancelled, kept = await store.get_callback("cb1"), await store.get_callback("cb2")
            assert (cancelled.state, cancelled.outcome, kept.state) == ("cancelled", "cancelled by erasure", "pending")
        finally:
            await store.close()

    asyncio.run(check())
    again = CliRunner().invoke(main, ["customers", "erase", "C1", "--yes", "--config", str(config)])
    assert again.exit_code == 1 and "customer record not found, 0 interaction(s)" in again.output
