"""PBX emulator capacity: how many AMI events/s (and concurrent calls) the emulator
produces for a blended inbound/outbound load, read by one raw AMI client over a
real socket, with a tiny ACD that redirects every 4th held caller to an agent.
Checks the ledger reconciles (every call created also ended).

    .venv/bin/python bench/bench_emulator.py [--quick] [--calls N] [--cps R] [--speed S]

No target in the issue for this one; it tells users of the emulator (tests, the
demo, the ingest benchmark) how far it can be pushed on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from sim.pbx_emulator import PbxEmulator  # noqa: E402
from sim.pbx_emulator.client import RawAmiClient  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "emulator.json"


async def run(calls: int, cps: float, speed: float, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    emu = PbxEmulator("bench", "bench", speed=speed)
    await emu.start("127.0.0.1", 0)
    try:
        return await _load(emu, calls, cps, speed, rng)
    finally:
        await emu.stop()


async def _load(emu: PbxEmulator, calls: int, cps: float, speed: float, rng: random.Random) -> dict[str, float]:
    ctl = RawAmiClient()
    await ctl.connect("127.0.0.1", emu.port)
    ctl.keep_raw = False
    await ctl.login("bench", "bench")
    events = 0
    held = 0
    next_agent = 0
    peak_channels = 0
    t0 = time.perf_counter()
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(calls):
        at = start + i / cps / speed
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if rng.random() < 0.1:
            number = rng.choice(["5550001", "5550001", "5550001", "5550002", "5550003"])
            headers = [
                ("Channel", f"Local/{number}@customers"),
                ("Context", "dialer-answered"),
                ("Exten", number),
                ("Priority", "1"),
                ("CallerID", '"ACME" <8005550100>'),
                ("Timeout", "15000"),
                ("Async", "true"),
                ("Variable", "CC_CAMPAIGN=bench"),
                ("Variable", "CUST_TALK=20"),
            ]
        else:
            headers = [
                ("Channel", "Local/1000@inbound"),
                ("Context", "caller-phone"),
                ("Exten", "wait"),
                ("Priority", "1"),
                ("CallerID", f'"Caller {i}" <555{i:05d}>'),
                ("Timeout", "30000"),
                ("Async", "true"),
                ("Variable", f"PATIENCE={max(1.0, rng.expovariate(1 / 30)):.1f}"),
                ("Variable", f"__AGENT_TALK={rng.uniform(10, 40):.1f}"),
                ("Variable", "HOLD_SECS=60"),
            ]
        await ctl.send("Originate", headers)
        # the tiny ACD: every 4th caller that reached hold music goes to an agent
        new = ctl.messages[:]
        del ctl.messages[: len(new)]  # keep the client's memory flat
        events += sum(1 for m in new if m.event)
        holds = [m for m in new if m.event == "MusicOnHoldStart" and m["Context"] == "inbound"]
        for m in holds:
            held += 1
            if held % 4:
                continue
            next_agent = next_agent % 40 + 1
            await ctl.send(
                "Redirect",
                [
                    ("Channel", m["Channel"]),
                    ("Context", "agent-connect"),
                    ("Exten", f"20{next_agent:02d}"),
                    ("Priority", "1"),
                ],
            )
        peak_channels = max(peak_channels, len(emu.pbx.channels))
    # drain: every call ends (patience <= ~300 s virtual, talk <= 40 s, hold <= 60 s)
    while len(emu.ledger.calls) < calls or emu.ledger.summary()["open"]:
        await asyncio.sleep(0.05)
        new = ctl.messages[:]
        del ctl.messages[: len(new)]
        events += sum(1 for m in new if m.event)
        peak_channels = max(peak_channels, len(emu.pbx.channels))
    elapsed = time.perf_counter() - t0
    await ctl.action("Logoff")
    events += sum(1 for m in ctl.messages if m.event)
    summary = emu.ledger.summary()
    await ctl.close()
    return {
        "calls": calls,
        "virtual_cps": cps,
        "speed": speed,
        "wall_s": round(elapsed, 2),
        "events": events,
        "events_per_s": round(events / elapsed, 1),
        "bytes": ctl.bytes_received,
        "peak_channels": peak_channels,
        "ledger_created": summary["created"],
        "ledger_ended": summary["ended"],
        "ledger_connected": summary["connected"],
        "ledger_abandoned": summary["abandoned"],
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small run for a smoke test")
    ap.add_argument("--calls", type=int, default=None)
    ap.add_argument("--cps", type=float, default=4.0, help="virtual calls per second")
    ap.add_argument("--speed", type=float, default=None, help="time-scale factor")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    calls = args.calls or (150 if args.quick else 2000)
    speed = args.speed or (50.0 if args.quick else 25.0)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    result = asyncio.run(run(calls, args.cps, speed, args.seed))
    print(
        f"emulator: {result['calls']} calls at {result['virtual_cps']} cps x{result['speed']} "
        f"-> {result['events']} events in {result['wall_s']} s = {result['events_per_s']} events/s, "
        f"peak {result['peak_channels']} channels, ledger {result['ledger_created']} created / "
        f"{result['ledger_ended']} ended, max RSS {result['max_rss_mb']} MB"
    )
    if result["ledger_created"] != result["ledger_ended"]:
        print("ledger does not reconcile: calls left open", file=sys.stderr)
        sys.exit(1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
