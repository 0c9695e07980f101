"""Fault tolerance, short forms of `make soak`: load, AMI drops, a killed server.
Every call must end answered or abandoned and be counted exactly once, in the
emulator's ledger, the event log (through the KPI library) and the live counters."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.schema import StoreConfig
from sim.soak import LoadSpec, run_load
from store import open_store


async def _run(tmp_path: Path, spec: LoadSpec):
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/soak.sqlite3"))
    await store.migrate()
    try:
        return await run_load(store, spec)
    finally:
        await store.close()


def _assert_reconciled(report) -> None:
    assert not report.problems, "\n".join(report.problems)
    assert report.ledger["created"] >= 50
    assert report.ledger["connected"] > 0 and report.ledger["abandoned"] > 0
    # The live counters count since the (last) start; the event log and KPIs count everything.
    assert report.live["offered"] <= report.ledger["created"]


async def test_load_every_call_counted_once(tmp_path: Path) -> None:
    report = await _run(
        tmp_path, LoadSpec(calls_per_s=10, duration_s=20, agents=20, talk_s=5, patience_mean_s=8, speed=2.0)
    )
    _assert_reconciled(report)
    assert report.live["answered"] == report.ledger["connected"]
    assert report.live["abandoned"] == report.ledger["abandoned"]


async def test_ami_link_dropped_under_load(tmp_path: Path) -> None:
    report = await _run(
        tmp_path,
        LoadSpec(calls_per_s=10, duration_s=24, agents=20, talk_s=5, patience_mean_s=8, speed=2.0, drop_every_s=6),
    )
    assert report.drops >= 3
    _assert_reconciled(report)


async def test_server_killed_and_restarted_mid_load(tmp_path: Path) -> None:
    report = await _run(
        tmp_path,
        LoadSpec(calls_per_s=8, duration_s=24, agents=20, talk_s=5, patience_mean_s=10, speed=2.0, kill_at_s=12),
    )
    assert report.restarts == 1
    _assert_reconciled(report)


@pytest.mark.skipif(__import__("shutil").which("redis-server") is None, reason="redis-server not installed")
async def test_routing_goes_on_while_redis_is_down(tmp_path: Path) -> None:
    import asyncio

    from store.bus import RedisBus
    from tests.contract.test_contract_bus import _free_port, _start_redis, _wait_ping
    from tests.live.harness import live_center

    port = _free_port()
    server = _start_redis(port, tmp_path)
    bus = RedisBus.from_url(f"redis://127.0.0.1:{port}/0", namespace="live")
    try:
        await asyncio.wait_for(_wait_ping(bus), 10)
        async with live_center(tmp_path, bus=bus) as h:
            await h.command("alice", "available")
            await h.center.wait_idle()
            assert (await bus.get_state("agents"))["alice"]["state"] == "available"
            server.terminate()
            server.wait(timeout=10)
            await h.caller("Dora", "5554321", talk_s=2)
            await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=15)
            assert h.center.stats.bus_failures > 0  # published nothing, routed anyway
            server = _start_redis(port, tmp_path)
            await asyncio.wait_for(_wait_ping(bus), 10)
            await h.command("alice", "pause", reason="break")
            await h.center.wait_idle()

            async def state_published() -> None:
                while (await bus.get_state("agents")).get("alice", {}).get("state") != "paused":
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(state_published(), 10)
    finally:
        await bus.close()
        server.terminate()
        server.wait(timeout=10)


async def test_database_outage_under_load_loses_no_event(fresh_pg_url: str) -> None:
    from sim.netfault import TcpOutage

    host_port = fresh_pg_url.rpartition("@")[2].partition("/")[0]
    host, _, port = host_port.partition(":")
    outage = TcpOutage(host, int(port))
    await outage.start()
    store = await open_store(StoreConfig(url=fresh_pg_url.replace(host_port, f"127.0.0.1:{outage.port}")))
    await store.migrate()
    try:
        report = await run_load(
            store,
            LoadSpec(
                calls_per_s=8,
                duration_s=20,
                agents=15,
                talk_s=5,
                patience_mean_s=8,
                speed=2.0,
                store_outage=(4.0, 10.0),
            ),
            outage,
        )
    finally:
        await store.close()
        await outage.stop()
    assert report.store_outages == 1 and report.max_event_backlog > 50
    _assert_reconciled(report)
