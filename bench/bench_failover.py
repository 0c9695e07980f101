"""Failover benchmark (issue 15): two `hotline serve` on one PostgreSQL database and
the PBX emulator; calls arrive steadily; the leader fails mid-load (`--fault`):
`kill` (SIGKILL), `cut` (a silent network cut: the leader's PostgreSQL and AMI
connections go through TCP proxies that stop passing anything, sim/netfault.py) or
`pg-reset` (the leader's PostgreSQL connections reset and refused). With
`--history-calls N` the log holds a day of N calls before the servers start (the
standby follows it: the takeover should not grow with it).

Prints one JSON line and writes bench/results/failover[-FAULT].json:
- `takeover_s`: from the fault to the standby's /healthz saying its AMI link is up
  as the leader (target <= 5);
- `lost`: calls the PBX had that no agent answered, or that the event log lacks
  (target 0; callers are patient enough that none should give up);
- `double_actions`: calls offered or connected more than once in the log (target 0).

    .venv/bin/python bench/bench_failover.py [--fault kill|cut|pg-reset] [--history-calls 0]
        [--calls-per-s 2] [--duration-s 40] [--kill-at-s 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.logs import configure  # noqa: E402
from tests.live.failover_run import Load, run_failover  # noqa: E402

PG_ADMIN = __import__("os").environ.get("HOTLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def run(args: argparse.Namespace) -> dict[str, object]:
    db = f"hotline_failover_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = PG_ADMIN.rpartition("/")[0] + f"/{db}"
    work = Path(tempfile.mkdtemp(prefix="hotline-failover-"))
    load = Load(
        agents=args.agents,
        calls_per_s=args.calls_per_s,
        talk_s=args.talk_s,
        duration_s=args.duration_s,
        fault_at_s=args.kill_at_s,
        lease_s=args.lease_s,
        fault=args.fault,
        history_calls=args.history_calls,
    )
    try:
        return await run_failover(url, work, load)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--calls-per-s", type=float, default=2.0)
    ap.add_argument("--talk-s", type=float, default=3.0)
    ap.add_argument("--duration-s", type=float, default=40.0)
    ap.add_argument("--kill-at-s", type=float, default=15.0)
    ap.add_argument("--lease-s", type=float, default=3.0)
    ap.add_argument("--fault", choices=("kill", "cut", "pg-reset"), default="kill")
    ap.add_argument("--history-calls", type=int, default=0, help="a day of N calls in the log before the start")
    ap.add_argument("--quick", action="store_true", help="a short run (CI-sized)")
    args = ap.parse_args()
    if args.quick:
        args.duration_s, args.kill_at_s = 20.0, 8.0
    configure("warning", "text")
    result = asyncio.run(run(args))
    print(json.dumps(result))
    name = "failover" if args.fault == "kill" else f"failover-{args.fault}"
    out = ROOT / "bench" / "results" / f"{name}{'-history' if args.history_calls else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    # (a slow takeover is a figure to report; a lost or doubled call is a failure)
    return 0 if result["lost"] == 0 and result["double_actions"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
