"""A wallboard push's CPU at 10,000 agents: the whole board to each socket, against
deltas of the cells changed since the last push (reports/board_delta.py).

A real `WallboardHub` over a `LiveBoard` with `--agents` logged in; between two pushes
the events of half a second at `--calls-per-s` (each call: arrived, queued, offered,
connected, ended, the wrap-up's end) are applied; each push goes to `--sockets`
sockets that only count what they are sent. The same pushes are timed both ways,
alternately: "whole" re-registers the sockets before each push (as if each had just
connected), "delta" leaves them be.

    .venv/bin/python bench/bench_wallboard_push.py [--agents N] [--pushes N] [--quick]

Prints ms and KB per push both ways; writes bench/results/wallboard_push.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from events import (  # noqa: E402
    AgentLoggedIn,
    AgentStateChanged,
    CallArrived,
    CallConnected,
    CallEnded,
    CallOffered,
    CallQueued,
    Event,
    WrapUpEnded,
)
from reports.kpi import KpiConfig  # noqa: E402
from reports.web_live import LiveBoard, View, WallboardHub  # noqa: E402


class Counting:
    def __init__(self) -> None:
        self.bytes = 0

    async def send_str(self, data: str) -> None:
        self.bytes += len(data)


def half_second(rng: random.Random, agents: list[str], t: float, calls: int, serial: int) -> list[Event]:
    """The events of `calls` calls, each on its own random agent, within the half
    second, in time order."""
    out: list[Event] = []
    for n, agent in enumerate(rng.sample(agents, calls)):
        cid, at = f"c{serial}-{n}", t + 0.4 * n / calls
        out += [
            CallArrived(at, cid, caller=f"+1415555{n:04d}"),
            CallQueued(at, cid, queue="support"),
            CallOffered(at + 0.01, cid, agent, "support"),
            CallConnected(at + 0.02, cid, agent, "support"),
            CallEnded(at + 0.03, cid),
            WrapUpEnded(at + 0.04, agent, cid),
            AgentStateChanged(at + 0.04, agent, "available"),
        ]
    return sorted(out, key=lambda e: e.at)


async def run(agent_count: int, pushes: int, calls_per_s: float, sockets: int) -> dict[str, object]:
    rng = random.Random(5)
    agents = [f"agent{n:05d}" for n in range(agent_count)]
    teams = {a: f"team-{n % 20}" for n, a in enumerate(agents)}
    board = LiveBoard(
        KpiConfig(teams=teams), {"support": {"sl_target": 0.8}}, skills={a: frozenset({"support"}) for a in agents}
    )
    t = time.time() - 3600
    for a in agents:
        board.apply(AgentLoggedIn(t, a))
    hub = WallboardHub(store=None, bus=None, board_factory=None)  # type: ignore[arg-type]  # (pushes only)
    hub.board = board
    clients = [Counting() for _ in range(sockets)]
    for c in clients:
        hub.register(c, View(None))
    await hub.push(t)  # the whole board once
    timing: dict[str, list[float]] = {"whole": [], "delta": []}
    sent: dict[str, list[int]] = {"whole": [], "delta": []}
    per_push = max(1, round(calls_per_s / 2))
    for i in range(pushes):
        for way in ("delta", "whole") if i % 2 else ("whole", "delta"):
            t += 0.5
            for event in half_second(rng, agents, t, per_push, i * 2 + (way == "whole")):
                board.apply(event)
            if way == "whole":
                for c in clients:
                    hub.register(c, View(None))  # as if just connected: the whole board
            before = sum(c.bytes for c in clients)
            began = time.process_time()
            await hub.push(t + 0.5)
            timing[way].append((time.process_time() - began) * 1000)
            sent[way].append((sum(c.bytes for c in clients) - before) // sockets)
    result: dict[str, object] = {"bench": "wallboard_push", "agents": agent_count, "sockets": sockets, "pushes": pushes}
    for way in ("whole", "delta"):
        result[f"{way}_ms_per_push"] = round(statistics.median(timing[way]), 2)
        result[f"{way}_kb_per_socket"] = round(statistics.median(sent[way]) / 1024, 1)
    result["delta_cpu_ms_per_call_saved"] = round(
        (statistics.median(timing["whole"]) - statistics.median(timing["delta"])) * 2 / calls_per_s, 3
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--pushes", type=int, default=40)
    ap.add_argument("--calls-per-s", type=float, default=60.0)
    ap.add_argument("--sockets", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="2,000 agents, 10 pushes")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "wallboard_push.json"))
    args = ap.parse_args()
    if args.quick:
        args.agents, args.pushes = 2000, 10
    result = asyncio.run(run(args.agents, args.pushes, args.calls_per_s, args.sockets))
    print(
        f"{result['agents']} agents, {result['sockets']} sockets: whole {result['whole_ms_per_push']} ms "
        f"({result['whole_kb_per_socket']} KB a socket), delta {result['delta_ms_per_push']} ms "
        f"({result['delta_kb_per_socket']} KB); saved {result['delta_cpu_ms_per_call_saved']} ms CPU a call"
    )
    print(json.dumps(result))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
