"""Live dialer on the PBX emulator: a predictive campaign through the real AMI client,
call model, LiveCenter, Router and DialerRunner (dialer/live.py), the emulator's
clock sped up. Reports dials, live answers, drops, the drop rate against the 3 % cap
and the connect delay (AMD verdict -> offer/redirect to the agent, emulated seconds),
whose target is <= 2 s (issue 8, item 3).

    .venv/bin/python bench/bench_dialer_live.py [--quick] [--agents N] [--minutes M] [--speed X]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from config.schema import StoreConfig  # noqa: E402
from dialer.live import start_dialers  # noqa: E402
from sim.rig import live_rig, simulated_agents  # noqa: E402
from store import open_store  # noqa: E402

BEHAVIOUR = {"answer": 0.3, "machine": 0.1, "busy": 0.1, "noanswer": 0.45, "congestion": 0.05}


async def run(agents: int, minutes: float, speed: float, leads: int) -> dict:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "leads.csv"
        rows = ["lead_id,phone,time_zone"] + [f"B{n},+1212736{n:04d},UTC" for n in range(1, leads + 1)]
        csv.write_text("\n".join(rows) + "\n")
        users = simulated_agents(agents, {"outbound": 5})
        store = await open_store(StoreConfig(url=f"sqlite:///{tmp}/bench.sqlite3"))
        await store.migrate()
        try:
            async with live_rig(store, users, speed=speed) as rig:
                section = {"bench": {
                    "leads": str(csv), "mode": "predictive", "no_answer_timeout_s": 20, "expected_aht_s": 12,
                    "calling_window": {"start": "00:00:00", "end": "23:59:59",
                                       "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
                    "demo_behaviour": BEHAVIOUR}}
                [runner] = await start_dialers(section, rig.center, rig.client, store, users)
                for user in users:
                    await rig.command(user.login, "available")
                task = asyncio.create_task(runner.run())
                began = time.perf_counter()
                await asyncio.sleep(minutes * 60 / speed)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                wall = time.perf_counter() - began
                s = runner.stats
                delays = sorted(s.connect_delays)
                answered, dropped = runner.pacer.budget.total_answers, runner.pacer.budget.total_drops
                return {
                    "agents": agents, "emulated_minutes": minutes, "speed": speed, "wall_s": round(wall, 1),
                    "dials": s.dials, "results": s.results, "live_answers": answered, "connected": s.connected,
                    "dropped_or_late": dropped, "drop_rate": round(dropped / answered, 4) if answered else 0.0,
                    "drop_cap": 0.03,
                    "dials_per_agent_hour": round(s.dials / agents / (minutes / 60), 1),
                    "connect_delay_p50_s": round(statistics.median(delays), 3) if delays else None,
                    "connect_delay_p99_s": round(delays[int(0.99 * (len(delays) - 1))], 3) if delays else None,
                    "connect_delay_max_s": round(delays[-1], 3) if delays else None,
                    "late_connects": s.late_connects, "drops_with_message": s.dropped,
                    "connect_target_s": 2.0, "last_decision": s.last_decision,
                }
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--speed", type=float, default=20.0)
    args = parser.parse_args()
    agents, minutes = (3, 3.0) if args.quick else (args.agents, args.minutes)
    result = asyncio.run(run(agents, minutes, args.speed, leads=9000))
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    out = ROOT / "bench" / "results" / "dialer_live.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
