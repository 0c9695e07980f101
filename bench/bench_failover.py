"""Failover benchmark (issue 15): two `hotline serve` on one PostgreSQL database and
the PBX emulator; calls arrive steadily; the leader is SIGKILLed mid-load.

Prints one JSON line and writes bench/results/failover.json:
- `takeover_s`: from the SIGKILL to the standby's /healthz saying its AMI link is up
  as the leader (target <= 5);
- `lost`: calls the PBX had that no agent answered, or that the event log lacks
  (target 0; callers are patient enough that none should give up);
- `double_actions`: calls offered or connected more than once in the log (target 0).

    .venv/bin/python bench/bench_failover.py [--calls-per-s 2] [--duration-s 40] [--kill-at-s 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.ami import AmiClient, AmiSettings  # noqa: E402
from cti.call_model import CallModel  # noqa: E402
from cti.logs import configure  # noqa: E402
from cti.pbx import AmiPbx  # noqa: E402
from events import CallConnected, CallOffered  # noqa: E402
from store.models import User  # noqa: E402
from tests.live.serve_process import (  # noqa: E402
    free_port,
    health,
    kill,
    pbx_and_store,
    serve,
    stop,
    until,
    until_up,
    write_config,
)

SECRET = "failover-bench"
PG_ADMIN = __import__("os").environ.get("HOTLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _agents(n: int) -> list[User]:
    return [
        User(
            login=f"f{i:02d}", display_name=f"Agent {i}", skills={"billing": 5}, phone_endpoint=f"Local/2{i:03d}@agents"
        )
        for i in range(n)
    ]


async def _took_over(port: int, killed_at: float) -> float:
    """Seconds from the kill until the standby's /healthz says it leads with its AMI
    link up (polled every 0.1 s)."""
    await until_up(port, "the standby to take over")
    return round(time.monotonic() - killed_at, 2)


async def run(args: argparse.Namespace) -> dict[str, object]:
    db = f"hotline_failover_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = PG_ADMIN.rpartition("/")[0] + f"/{db}"
    work = Path(tempfile.mkdtemp(prefix="hotline-failover-"))
    agents = _agents(args.agents)
    emulator, store = await pbx_and_store(SECRET, url, agents)
    ports = [free_port(), free_port()]
    more = f"lease_s = {args.lease_s}\n"
    configs = [
        write_config(work / f"hotline-{n}.toml", ports[n], url, "memory://", emulator.port, SECRET, more)
        for n in (0, 1)
    ]
    servers = [serve(configs[0], work / "serve-0.log")]
    callers = AmiClient(AmiSettings("127.0.0.1", emulator.port, "hotline", SECRET), CallModel())
    takeover_s = float("nan")
    try:
        await until_up(ports[0], "the first server to lead")
        servers.append(serve(configs[1], work / "serve-1.log"))
        await until(lambda: health(ports[1])["pbx"]["status"] == "standby", 30, "the second server to stand by")
        await callers.start()
        await callers.wait_ready(10)
        pbx = AmiPbx(callers)
        start = time.monotonic()
        n = 0
        killed = False
        while (elapsed := time.monotonic() - start) < args.duration_s:
            if not killed and elapsed >= args.kill_at_s:
                killed = True
                kill(servers[0])
                killed_at = time.monotonic()
                watch = asyncio.create_task(_took_over(ports[1], killed_at))
            await pbx.originate(
                "Local/1000@inbound",
                context="caller-phone",
                exten="wait",
                caller_id=f'"Caller {n}" <5553{n:06d}>',
                variables={"PATIENCE": "120", "__AGENT_TALK": str(args.talk_s)},
            )
            n += 1
            await asyncio.sleep(1 / args.calls_per_s)
        if killed:
            takeover_s = await watch
        await until(lambda: emulator.ledger.summary()["open"] == 0, 180, "every call to end")
        await until(lambda: health(ports[1])["event_log"]["backlog"] == 0, 30, "the event log to be written")
    finally:
        await callers.close()
        for server in servers:
            stop(server)
        await emulator.stop()
    try:
        events = [s.event for s in await store.events_between(0, 1e12)]
        ledger = [c for c in emulator.ledger.calls.values() if c.kind == "inbound"]
        logged = {getattr(e, "call_id", "") for e in events}
        offered = Counter(e.call_id for e in events if isinstance(e, CallOffered))
        connected = Counter(e.call_id for e in events if isinstance(e, CallConnected))
        lost = sum(1 for c in ledger if c.connected_at is None or c.linkedid not in logged)
        double = sum(1 for c in ledger if offered[c.linkedid] > 1 or connected[c.linkedid] > 1)
    finally:
        await store.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    return {
        "bench": "failover",
        "servers": 2,
        "agents": args.agents,
        "calls_per_s": args.calls_per_s,
        "calls": len(ledger),
        "lease_s": args.lease_s,
        "takeover_s": takeover_s,
        "lost": lost,
        "double_actions": double,
        "targets": {"takeover_s": 5.0, "lost": 0, "double_actions": 0},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--calls-per-s", type=float, default=2.0)
    ap.add_argument("--talk-s", type=float, default=3.0)
    ap.add_argument("--duration-s", type=float, default=40.0)
    ap.add_argument("--kill-at-s", type=float, default=15.0)
    ap.add_argument("--lease-s", type=float, default=3.0)
    ap.add_argument("--quick", action="store_true", help="a short run (CI-sized)")
    args = ap.parse_args()
    if args.quick:
        args.duration_s, args.kill_at_s = 20.0, 8.0
    configure("warning", "text")
    result = asyncio.run(run(args))
    print(json.dumps(result))
    out = ROOT / "bench" / "results" / "failover.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    # (a slow takeover is a figure to report; a lost or doubled call is a failure)
    return 0 if result["lost"] == 0 and result["double_actions"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
