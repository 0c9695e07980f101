"""Live dialer on the PBX emulator: a predictive campaign through the real AMI client,
call model, LiveCenter, Router and DialerRunner (dialer/live.py), the emulator's
clock sped up. Reports dials, live answers, drops, the drop rate against the 3 % cap,
the connect delay (AMD verdict -> offer/redirect to the agent, emulated seconds; target
<= 2 s, issue 8 item 3) and the talk delay (AMD verdict -> the customer bridged with
the agent), once with the agents on standing lines (callers join the agent's
conference) and once without (each connect rings the agent's phone through
agent-connect; the emulator's phones answer after AGENT_RING = 0 s here).

    .venv/bin/python bench/bench_dialer_live.py [--quick] [--agents N] [--minutes M] [--speed X]
        [--lines both|on|off]
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


def _percentiles(name: str, values: list[float]) -> dict:
    v = sorted(values)
    if not v:
        return {f"{name}_p50_s": None, f"{name}_p99_s": None, f"{name}_max_s": None}
    return {
        f"{name}_p50_s": round(statistics.median(v), 3),
        f"{name}_p99_s": round(v[int(0.99 * (len(v) - 1))], 3),
        f"{name}_max_s": round(v[-1], 3),
    }


async def run(agents: int, minutes: float, speed: float, leads: int, lines: bool) -> dict:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "leads.csv"
        rows = ["lead_id,phone,time_zone"] + [f"B{n},+1212736{n:04d},UTC" for n in range(1, leads + 1)]
        csv.write_text("\n".join(rows) + "\n")
        users = simulated_agents(agents, {"outbound": 5})
        store = await open_store(StoreConfig(url=f"sqlite:///{tmp}/bench.sqlite3"))
        await store.migrate()
        try:
            async with live_rig(
                store, users, speed=speed, standing_lines="campaigns" if lines else "off", campaign_skills=("outbound",)
            ) as rig:
                section = {
                    "bench": {
                        "leads": str(csv),
                        "mode": "predictive",
                        "no_answer_timeout_s": 20,
                        "expected_aht_s": 12,
                        "calling_window": {
                            "start": "00:00:00",
                            "end": "23:59:59",
                            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                        },
                        "demo_behaviour": BEHAVIOUR,
                    }
                }
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
                answered, dropped = runner.pacer.budget.total_answers, runner.pacer.budget.total_drops
                return {
                    "standing_lines": lines,
                    "line_dials": rig.center.lines.dials if rig.center.lines else 0,
                    "agents": agents,
                    "emulated_minutes": minutes,
                    "speed": speed,
                    "wall_s": round(wall, 1),
                    "dials": s.dials,
                    "results": s.results,
                    "live_answers": answered,
                    "connected": s.connected,
                    "dropped_or_late": dropped,
                    "drop_rate": round(dropped / answered, 4) if answered else 0.0,
                    "drop_cap": 0.03,
                    "dials_per_agent_hour": round(s.dials / agents / (minutes / 60), 1),
                    **_percentiles("connect_delay", s.connect_delays),
                    **_percentiles("talk_delay", s.talk_delays),
                    "late_connects": s.late_connects,
                    "drops_with_message": s.dropped,
                    "connect_target_s": 2.0,
                    "last_decision": s.last_decision,
                }
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--lines", choices=("both", "on", "off"), default="both")
    args = parser.parse_args()
    agents, minutes = (3, 3.0) if args.quick else (args.agents, args.minutes)
    modes = {"both": (True, False), "on": (True,), "off": (False,)}[args.lines]
    results = []
    for lines in modes:
        result = asyncio.run(run(agents, minutes, args.speed, leads=9000, lines=lines))
        print(f"== {'standing lines' if lines else 'agent-connect (no standing lines)'}")
        for key, value in result.items():
            print(f"{key:>22}: {value}")
        results.append(result)
    out = ROOT / "bench" / "results" / "dialer_live.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
