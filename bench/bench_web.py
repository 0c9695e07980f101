"""Web benchmarks (issue 6): screen-pop latency and wallboard fan-out.

1. Screen-pop latency: 1,000 agent desktops connected by websocket to a server
   process; for each offer, the time from the router's decision (just before the
   CallOffered event is published on Redis) to the screen-pop message received by
   that agent's websocket client. p50/p99. Target: p99 <= 50 ms.
2. Wallboard fan-out: 1,000 wallboard websockets on the same server while events
   keep the board changing (10 events/s), so pushes run at the coalescing cap of
   2 updates/s; the server process's CPU time over the window, as % of one core.
   Target: <= 10 %.

The server runs in its own process (the real composition root, SQLite store with the
demo customers, Redis bus); the clients run in this process, so their CPU is not
counted. Run: .venv/bin/python bench/bench_web.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.demo_data import generate_customers, generate_interactions
from config.schema import BusConfig, HotlineConfig, ServerConfig, StoreConfig
from events import AgentLoggedIn, CallArrived, CallOffered, CallQueued, to_record
from store import RedisBus, open_store
from store.models import ApiToken, User
from web.security import hash_token

REDIS = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RESULTS = Path(__file__).parent / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def serve(db: str, namespace: str, port: int) -> None:
    """Child process: the real server on SQLite + Redis (own namespace)."""
    from aiohttp import web

    import cti.server as server_mod
    from cti.logs import configure
    from store import open_bus

    configure("warning", "text")
    server_mod.open_bus = lambda config: open_bus(config, namespace)  # the bench's own Redis namespace
    config = HotlineConfig(
        store=StoreConfig(url=f"sqlite:///{db}"), bus=BusConfig(url=REDIS), server=ServerConfig(session_secret="bench")
    )
    web.run_app(server_mod.create_app(config), host="127.0.0.1", port=port, print=None)


async def seed(db: str, agents: int, customers: int) -> tuple[list[str], str, list]:
    store = await open_store(StoreConfig(url=f"sqlite:///{db}"))
    try:
        await store.migrate()
        base = list(generate_customers(customers, seed=7))
        await store.put_customers(base)
        for i in generate_interactions(base, now=time.time(), seed=7):
            await store.put_interaction(i)
        tokens = []
        for n in range(agents):
            login = f"a{n:04d}"
            await store.put_user(User(login, f"Agent {n}", "agent", "", f"team-{n % 10}"))
            token = f"hl_{login}_{uuid.uuid4().hex}"
            await store.put_api_token(ApiToken(f"t{login}", login, "bench", time.time()), hash_token(token))
            tokens.append(token)
        await store.put_user(User("boss", "Boss", "admin"))
        admin = f"hl_boss_{uuid.uuid4().hex}"
        await store.put_api_token(ApiToken("tboss", "boss", "bench", time.time()), hash_token(admin))
        return tokens, admin, base
    finally:
        await store.close()


async def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            try:
                async with s.get(url + "/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


async def screen_pop_latency(url: str, bus: RedisBus, tokens: list[str], customers: list, offers: int) -> dict:
    received: dict[str, float] = {}
    waiters: dict[str, asyncio.Future[float]] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = []
        for i in range(0, len(tokens), 100):  # connect in batches
            sockets += await asyncio.gather(
                *(
                    session.ws_connect(f"{url}/agent/ws", headers={"Authorization": f"Bearer {t}"}, heartbeat=None)
                    for t in tokens[i : i + 100]
                )
            )

        async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                data = json.loads(msg.data)
                if data.get("type") == "screen_pop":
                    now = time.time()
                    received[data["call_id"]] = now
                    fut = waiters.pop(data["call_id"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(now)

        readers = [asyncio.create_task(reader(ws)) for ws in sockets]
        latencies: list[float] = []
        found = 0
        for k in range(offers):
            agent = f"a{(k * 7919) % len(tokens):04d}"
            customer = customers[(k * 131) % len(customers)]
            cid = f"bench-{uuid.uuid4().hex[:10]}"
            await bus.publish("events", to_record(CallArrived(time.time(), cid, caller=customer.phones[0])))
            await bus.publish(
                "events", to_record(CallQueued(time.time(), cid, queue="billing", attributes={"ivr_path": ["1"]}))
            )
            fut = asyncio.get_running_loop().create_future()
            waiters[cid] = fut
            t0 = time.time()  # the router's decision
            await bus.publish("events", to_record(CallOffered(t0, cid, agent, "billing", "bench")))
            t1 = await asyncio.wait_for(fut, 5)
            latencies.append((t1 - t0) * 1000)
            found += 1
        for r in readers:
            r.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    latencies.sort()
    return {
        "agents_connected": len(tokens),
        "offers": offers,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 2),
        "max_ms": round(latencies[-1], 2),
        "target_p99_ms": 50.0,
    }


async def wallboard_fanout(
    url: str, bus: RedisBus, admin: str, server_pid: int, clients: int, seconds: float, agents_logged_in: int
) -> dict:
    counts = [0] * clients
    sizes: list[int] = []
    now = time.time()
    for n in range(agents_logged_in):
        await bus.publish("events", to_record(AgentLoggedIn(now, f"a{n:04d}")))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = []
        for i in range(0, clients, 100):
            sockets += await asyncio.gather(
                *(
                    session.ws_connect(
                        f"{url}/wallboard/ws",
                        headers={"Authorization": f"Bearer {admin}"},
                        heartbeat=None,
                        max_msg_size=0,
                    )
                    for _ in range(min(100, clients - i))
                )
            )

        async def reader(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                counts[i] += 1
                if i == 0:
                    sizes.append(len(msg.data))

        readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets)]
        await asyncio.sleep(2)  # settle: initial snapshots sent
        base_counts = list(counts)
        cpu0, t0 = cpu_seconds(server_pid), time.monotonic()
        k = 0
        while time.monotonic() - t0 < seconds:  # 10 events/s keep the board dirty
            cid = f"wb-{k}"
            await bus.publish(
                "events", to_record(CallQueued(time.time(), cid, queue=("billing", "support", "sales")[k % 3]))
            )
            k += 1
            await asyncio.sleep(0.1)
        cpu1, t1 = cpu_seconds(server_pid), time.monotonic()
        end_counts = list(counts)
        for r in readers:
            r.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    elapsed = t1 - t0
    per_client = [(c - b) / elapsed for c, b in zip(end_counts, base_counts, strict=False)]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "events_per_s": round(k / elapsed, 1),
        "agents_on_board": agents_logged_in,
        "updates_per_s_per_client": round(statistics.mean(per_client), 2),
        "max_updates_per_s": round(max(per_client), 2),
        "snapshot_bytes": int(statistics.median(sizes)) if sizes else 0,
        "server_cpu_pct_of_core": round(100 * (cpu1 - cpu0) / elapsed, 1),
        "target_cpu_pct": 10.0,
    }


@asynccontextmanager
async def server(db: str) -> AsyncIterator[tuple[str, RedisBus, int]]:
    namespace = f"hotline-bench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", db, namespace, str(port)])
    url = f"http://127.0.0.1:{port}"
    bus = RedisBus.from_url(REDIS, namespace)
    try:
        await wait_ready(url)
        await asyncio.sleep(1)  # the hubs have subscribed
        yield url, bus, proc.pid
    finally:
        await bus.close()
        proc.terminate()
        proc.wait(timeout=20)


async def main(quick: bool) -> dict:
    agents = 100 if quick else 1000
    offers = 100 if quick else 1000
    wb_clients = 100 if quick else 1000
    wb_seconds = 5 if quick else 20
    tmp_root = "/dev/shm" if Path("/dev/shm").is_dir() else None  # seeding thousands of commits: keep off the disk
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        db = f"{tmp}/bench.sqlite3"
        tokens, admin, customers = await seed(db, agents, 500 if quick else 2000)
        # each phase gets a fresh server process and bus namespace, so one phase's calls
        # and agents do not weigh on the other
        async with server(db) as (url, bus, _pid):
            pop = await screen_pop_latency(url, bus, tokens, customers, offers)
        print(
            f"screen-pop: {pop['agents_connected']} agents connected, {pop['offers']} offers: "
            f"p50 {pop['p50_ms']} ms, p99 {pop['p99_ms']} ms, max {pop['max_ms']} ms (target p99 <= 50 ms)"
        )
        async with server(db) as (url, bus, pid):
            wb = await wallboard_fanout(url, bus, admin, pid, wb_clients, wb_seconds, min(agents, 100))
        print(
            f"wallboard: {wb['clients']} clients, {wb['updates_per_s_per_client']} updates/s each "
            f"(max {wb['max_updates_per_s']}), {wb['snapshot_bytes']} B/update, "
            f"{wb['agents_on_board']} agents on the board: "
            f"server CPU {wb['server_cpu_pct_of_core']} % of a core (target <= 10 %)"
        )
    result = {"quick": quick, "screen_pop": pop, "wallboard": wb}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "web.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    asyncio.run(main(parser.parse_args().quick))
