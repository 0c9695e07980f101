"""The failover run shared by bench/bench_failover.py and tests/live/test_live_failover_faults.py:
two `hotline serve` on one PostgreSQL database and the PBX emulator, calls arriving
steadily, the leader failing mid-load, and what the PBX and the log say afterwards.

Each server reaches PostgreSQL and the AMI through TCP proxies of its own
(sim/netfault.py); they start side by side, and the one that leads fails:
- `kill`: SIGKILL;
- `cut`: a silent network cut (both proxies stop passing anything, no reset);
- `pg-reset`: its PostgreSQL connections reset and new ones refused.
After a `cut` or `pg-reset` the proxies are restored and the old leader must come back
as a standby (`rejoined`).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.live_root import recent_events
from cti.pbx import AmiPbx
from events import CallConnected, CallOffered
from sim.log_history import a_day
from sim.netfault import TcpOutage
from store.models import User
from tests.live.serve_process import (
    free_port,
    health,
    health_of,
    kill,
    pbx_and_store,
    serve,
    stop_all,
    until,
    until_up,
    write_config,
)

SECRET = "failover-bench"
Fault = Literal["kill", "cut", "pg-reset"]


@dataclass(frozen=True, slots=True)
class Load:
    agents: int = 20
    calls_per_s: float = 2.0
    talk_s: float = 3.0
    duration_s: float = 40.0
    fault_at_s: float = 15.0
    lease_s: float = 3.0
    fault: Fault = "kill"
    history_calls: int = 0  # a day of that many calls in the log before the servers start


def agents(n: int) -> list[User]:
    return [
        User(
            login=f"f{i:02d}", display_name=f"Agent {i}", skills={"billing": 5}, phone_endpoint=f"Local/2{i:03d}@agents"
        )
        for i in range(n)
    ]


def _roles(ports: list[int]) -> tuple[int, int] | None:
    """(the leader's index, the standby's) once one leads with its AMI link up and the
    other stands by; None before."""
    status = [health(port)["pbx"]["status"] for port in ports]
    if sorted(status) != ["ok", "standby"]:
        return None
    leader = status.index("ok")
    return leader, 1 - leader


async def _took_over(port: int, failed_at: float) -> float:
    """Seconds from the fault until the standby's /healthz says it leads with its AMI
    link up (polled every 0.1 s)."""
    await until_up(port, "the standby to take over")
    return round(time.monotonic() - failed_at, 2)


def _fail(fault: Fault, leader: subprocess.Popen[bytes], pg: TcpOutage, ami: TcpOutage) -> None:
    if fault == "kill":
        kill(leader)
    elif fault == "cut":
        pg.partition()
        ami.partition()
    else:
        pg.cut()


async def run_failover(url: str, work: Path, load: Load) -> dict[str, object]:
    """One run on the PostgreSQL database `url` (empty); logs and configs in `work`."""
    people = agents(load.agents)
    day = a_day(time.time() - 60, load.history_calls, [a.login for a in people], prefix="history-")
    emulator, store = await pbx_and_store(SECRET, url, people, history=day if load.history_calls else ())
    history = len(day) if load.history_calls else 0
    ports = [free_port(), free_port()]
    more = f"lease_s = {load.lease_s}\n"
    pg_host, _, pg_port = url.rpartition("@")[2].partition("/")[0].partition(":")
    # each server reaches PostgreSQL and the AMI through proxies of its own (the faults)
    proxies = [(TcpOutage(pg_host, int(pg_port or 5432)), TcpOutage("127.0.0.1", emulator.port)) for _ in ports]
    configs = []
    for n, (pg, ami) in enumerate(proxies):
        await pg.start()
        await ami.start()
        own_url = url.replace(f"{pg_host}:{pg_port}" if pg_port else pg_host, f"127.0.0.1:{pg.port}", 1)
        configs.append(write_config(work / f"hotline-{n}.toml", ports[n], own_url, "memory://", ami.port, SECRET, more))
    # (started side by side: whichever claims first leads, and is the one that fails)
    servers = [serve(configs[n], work / f"serve-{n}.log") for n in (0, 1)]
    callers = AmiClient(AmiSettings("127.0.0.1", emulator.port, "hotline", SECRET), CallModel())
    takeover_s = float("nan")
    rejoined: bool | None = None
    rejoin_s = float("nan")
    catch_up_s: float | None = None
    try:
        roles: list[tuple[int, int]] = []

        def settled() -> bool:
            found = _roles(ports)
            roles.extend([found] if found is not None else [])
            return found is not None

        await until(settled, 60, "one server to lead and the other to stand by")
        first, second = roles[-1]
        await until(  # (a standby running for a while: it has read the log once)
            lambda: health(ports[second])["pbx"]["standby"]["log"]["synced_s_ago"] is not None,
            120,
            "the standby's snapshot",
        )
        await callers.start()
        await callers.wait_ready(10)
        pbx = AmiPbx(callers)
        start = time.monotonic()
        n = 0
        watch: asyncio.Task[float] | None = None
        while (elapsed := time.monotonic() - start) < load.duration_s:
            if watch is None and elapsed >= load.fault_at_s:
                _fail(load.fault, servers[first], *proxies[first])
                watch = asyncio.create_task(_took_over(ports[second], time.monotonic()))
            await pbx.originate(
                "Local/1000@inbound",
                context="caller-phone",
                exten="wait",
                caller_id=f'"Caller {n}" <5553{n:06d}>',
                variables={"PATIENCE": "120", "__AGENT_TALK": str(load.talk_s)},
            )
            n += 1
            await asyncio.sleep(1 / load.calls_per_s)
        if watch is not None:
            takeover_s = await watch
            took = await health_of(ports[second])
            assert took["status"] == "ok", took
            catch_up_s = took["pbx"].get("standby", {}).get("catch_up_s")
        if load.fault != "kill":  # the old leader back on the network: a standby now
            new_leader = (await health_of(ports[second]))["pbx"]["leader"]["holder"]
            for proxy in proxies[first]:
                proxy.restore()

            seen: dict[str, Any] = {}

            def standing_by() -> bool:
                seen.update(health(ports[first]))
                return bool(seen["store"]["status"] == "ok" and seen["pbx"]["leader"]["leader"] == new_leader)

            restored_at = time.monotonic()
            await until(standing_by, 20, "the old leader to reach the store again and stand by")
            rejoined = seen["pbx"]["status"] == "standby"
            rejoin_s = round(time.monotonic() - restored_at, 2)
        await until(lambda: emulator.ledger.summary()["open"] == 0, 180, "every call to end")
        await until(lambda: health(ports[second])["event_log"]["backlog"] == 0, 30, "the event log to be written")
    finally:
        await callers.close()
        await asyncio.to_thread(
            stop_all, servers
        )  # (not blocking the loop: its emulator and proxies serve the shutdown)
        await emulator.stop()
        for pair in proxies:
            for proxy in pair:
                await proxy.stop()
    try:
        events = [s.event async for s in store.iter_events(0, 1e12)]
        ledger = [c for c in emulator.ledger.calls.values() if c.kind == "inbound"]
        logged = {getattr(e, "call_id", "") for e in events}
        offered = Counter(e.call_id for e in events if isinstance(e, CallOffered))
        connected = Counter(e.call_id for e in events if isinstance(e, CallConnected))
        started = time.monotonic()  # what a takeover read before standbys followed the log
        await recent_events(store, time.time())
        replay_s = round(time.monotonic() - started, 2)
        redirected = Counter(linkedid for linkedid, context in emulator.ledger.redirects if context == "agent-connect")
        lost = sum(1 for c in ledger if c.connected_at is None or c.linkedid not in logged)
        double = sum(
            1 for c in ledger if offered[c.linkedid] > 1 or connected[c.linkedid] > 1 or redirected[c.linkedid] > 1
        )
    finally:
        await store.close()
    return {
        "bench": "failover",
        "fault": load.fault,
        "history_events": history,
        "servers": 2,
        "agents": load.agents,
        "calls_per_s": load.calls_per_s,
        "calls": len(ledger),
        "lease_s": load.lease_s,
        "takeover_s": takeover_s,
        "catch_up_s": catch_up_s,  # the new leader's read of the log's tail at takeover
        "replay_24h_s": replay_s,  # reading the last 24 h of the log instead (before the snapshot)
        "lost": lost,
        "double_actions": double,
        **({"rejoined_as_standby": rejoined, "rejoin_s": rejoin_s} if rejoined is not None else {}),
        "targets": {"takeover_s": 5.0, "lost": 0, "double_actions": 0},
    }
