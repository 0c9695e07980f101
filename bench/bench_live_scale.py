"""The whole live stack at scale (issue 15 item 4): one Hotline server process (AMI
ingest, call model, router, event log on PostgreSQL, bus on Redis, the screen-pop and
wallboard hubs, `--sockets` connected desktop websockets) with `--agents` logged-in
agents, and the PBX emulator in its own process (`hotline pbx-emulator`, real AMI over
TCP) taking `--calls-per-s` new inbound calls for `--minutes`.

This process (the load) originates the calls and watches the emulator's AMI events on
a second connection, holds the desktop and wallboard websockets, and reads the server's
CPU time and peak RSS from /proc. Figures (one JSON line, and bench/results/live_scale.json):
- `calls`: calls originated; `lost`: those never redirected to an agent (agent-connect)
  by the end of the drain, or never seen arriving;
- `cpu_ms_per_call`: the Hotline server process's CPU (user + system) from the first
  call to the drained end, per call (target <= 3); the emulator's and this load's are
  given apart (`emulator_cpu_ms_per_call`, `load_cpu_ms_per_call`);
- `p99_offer_ms`: the caller's MusicOnHold NewExten (it is queued with its skill: what
  the router offers on) -> its NewExten into agent-connect (the Redirect done), both seen
  by this process on one AMI connection (target <= 50);
- `p99_pop_ms`: the same arrival -> the screen pop on the offered agent's desktop
  websocket (only the agents with a connected desktop count);
- `rss_mb`: the server's peak resident size (VmHWM).

    .venv/bin/python bench/bench_live_scale.py [--agents 10000] [--calls-per-s 60] [--minutes 5]
        [--sockets 1000] [--talk-s 30] [--profile FILE] [--spy FILE] [--quick]

`--profile` times the server's functions by the wall clock; with BENCH_PROFILE_CLOCK=cpu
in the environment, by the process's CPU clock (slower to run, but a function that wakes
another process, a socket write to Redis or PostgreSQL, is not charged for the time
the machine gives that process). `--spy` with BENCH_SPY_NATIVE=1 samples C frames too.
`--offers FILE` writes each call's arrival and offer delay (slow offers come in clusters:
find what ran then). BENCH_STALLS=FILE writes the server's event-loop stalls over 50 ms
with the stack that held the loop, and its collector's long pauses; BENCH_GARBAGE=FILE
turns the server's collector off and writes, every 15 s, the reference cycles it made
(bench/stall_watch.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.schema import StoreConfig  # noqa: E402
from cti.logs import configure  # noqa: E402
from events import AgentLoggedIn  # noqa: E402
from store import open_store  # noqa: E402
from store.models import ApiToken, User  # noqa: E402
from tests.live.serve_process import free_port, stop, write_config  # noqa: E402
from web.security import hash_token  # noqa: E402

SECRET = "scale-bench"
PG_ADMIN = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TARGETS = {"lost": 0, "cpu_ms_per_call": 3.0, "p99_offer_ms": 50.0}
PHONE_BASE = 30000  # the emulator's agents context answers 30000-39999 (sim/pbx_emulator/dialplan.py)


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_sys_s(pid: int) -> float:
    """System (kernel) CPU seconds of a process: sockets' sends and receives are most of it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def proc_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def p99(values: list[float]) -> float | None:
    v = sorted(values)
    return round(v[int(0.99 * (len(v) - 1))], 2) if v else None


def serve_child(config_path: str, namespace: str, port: int, profile: str) -> None:
    """The Hotline server (what `hotline serve` runs), on the bench's own Redis
    namespace; with `profile`, under cProfile until SIGTERM."""
    from aiohttp import web

    import cti.server as server_mod
    from config.loader import load
    from cti.logs import configure
    from store import open_bus

    configure("warning", "text")
    server_mod.open_bus = lambda config: open_bus(config, namespace)
    from cti.event_loop import LoopKind, new_event_loop

    config = load(config_path).config
    loop_kind: LoopKind = config.server.event_loop
    if os.environ.get("BENCH_EVENT_LOOP") in ("uvloop", "asyncio"):
        loop_kind = os.environ["BENCH_EVENT_LOOP"]  # type: ignore[assignment]
    app = server_mod.create_app(config)
    from cti.gc_pacer import gc_pace, pace_gc_in

    if os.environ.get("BENCH_GARBAGE"):  # the cycles the server makes, by type (the collector left alone)
        from bench.stall_watch import census_garbage

        census_garbage(app, os.environ["BENCH_GARBAGE"])
    else:
        pace_gc_in(app, gc_pace(config))
    if os.environ.get("BENCH_STALLS"):
        from bench.stall_watch import watch_stalls

        watch_stalls(app, os.environ["BENCH_STALLS"])
    if not profile:
        web.run_app(app, host="127.0.0.1", port=port, print=None, loop=new_event_loop(loop_kind))
        return
    import cProfile

    # the CPU clock (BENCH_PROFILE_CLOCK=cpu): a wall clock counts the time the process
    # waits for the CPU behind the peers its writes wake (Redis, PostgreSQL, the emulator)
    cpu = os.environ.get("BENCH_PROFILE_CLOCK") == "cpu"
    prof = cProfile.Profile(time.thread_time) if cpu else cProfile.Profile()
    prof.enable()
    try:
        web.run_app(app, host="127.0.0.1", port=port, print=None, loop=new_event_loop(loop_kind))
    finally:
        prof.disable()
        prof.dump_stats(profile)


async def seed(store_url: str, agents: int, sockets: int) -> tuple[list[str], str]:
    """Agents with phones 30000.., logged in; API tokens for the first `sockets` and an admin."""
    store = await open_store(StoreConfig(url=store_url))
    try:
        await store.migrate()
        users = [
            User(
                login=f"s{n:05d}",
                display_name=f"Agent {n}",
                skills={"billing": 5},
                phone_endpoint=f"Local/{PHONE_BASE + n}@agents",
            )
            for n in range(agents)
        ]
        for user in users:
            await store.put_user(user)
        now = time.time()
        await store.append_many([AgentLoggedIn(at=now, agent_id=u.login) for u in users])
        tokens = []
        for user in users[:sockets]:
            token = f"hl_{user.login}_{uuid.uuid4().hex}"
            await store.put_api_token(ApiToken(f"t{user.login}", user.login, "bench", now), hash_token(token))
            tokens.append(token)
        await store.put_user(User("boss", "Boss", "admin"))
        admin = f"hl_boss_{uuid.uuid4().hex}"
        await store.put_api_token(ApiToken("tboss", "boss", "bench", now), hash_token(admin))
        return tokens, admin
    finally:
        await store.close()


@dataclass
class Watch:
    """What the load sees: arrivals and redirects on the AMI, pops on the desktops."""

    arrived: dict[str, float] = field(default_factory=dict)  # Linkedid -> when queued (MusicOnHold)
    redirected: dict[str, float] = field(default_factory=dict)  # Linkedid -> into agent-connect
    popped: dict[str, float] = field(default_factory=dict)  # call_id -> screen pop received
    wallboard_messages: int = 0
    wallboard_bytes: int = 0  # what the wallboards were sent (the whole board once, then deltas)
    desktop_messages: int = 0


class Ami:
    """A bare AMI connection: send Originates, parse events (no call model: the load
    must stay light)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.ids = reader, writer, 0

    @classmethod
    async def connect(cls, port: int) -> Ami:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()  # banner
        ami = cls(reader, writer)
        ami.send("Login", [("Username", "hotline"), ("Secret", SECRET)])
        return ami

    def send(self, action: str, headers: list[tuple[str, str]]) -> None:
        self.ids += 1
        lines = [f"Action: {action}", f"ActionID: b{self.ids}", *(f"{k}: {v}" for k, v in headers)]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def originate(self, n: int, talk_s: float) -> None:
        self.send(
            "Originate",
            [
                ("Channel", "Local/1000@inbound"),
                ("Context", "caller-phone"),
                ("Exten", "wait"),
                ("Priority", "1"),
                ("CallerID", f'"Caller {n}" <5554{n:06d}>'),
                ("Variable", "PATIENCE=3600"),
                ("Variable", f"__AGENT_TALK={talk_s}"),
                ("Async", "true"),
            ],
        )

    async def watch(self, seen: Watch) -> None:
        block: dict[str, str] = {}
        while line := await self.reader.readline():
            if line in (b"\r\n", b"\n"):
                if block.get("Event") == "Newexten":
                    now = time.monotonic()
                    context, app, linked = block.get("Context"), block.get("Application"), block.get("Linkedid", "")
                    if context == "inbound" and app == "MusicOnHold":
                        seen.arrived.setdefault(linked, now)
                    elif context == "agent-connect" and block.get("Priority") == "1":
                        seen.redirected.setdefault(linked, now)
                block = {}
                continue
            key, _, value = line.decode(errors="replace").rstrip("\r\n").partition(": ")
            block[key] = value

    async def discard(self) -> None:
        while await self.reader.read(1 << 16):
            pass

    async def close(self) -> None:
        self.writer.close()
        await asyncio.gather(self.writer.wait_closed(), return_exceptions=True)


def sample_server(pid: int, out: str, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy (from PATH) samples the server while the calls come (raw collapsed stacks)."""
    exe = shutil.which("py-spy")
    if exe is None:
        raise SystemExit("--spy: py-spy is not on PATH (pip install py-spy, outside the project's venv)")
    cmd = [exe, "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", "50", "-f", "raw", "-o", out]
    # BENCH_SPY_NATIVE=1: C frames too (uvloop, hiredis, asyncpg's protocol), which stops the process at each sample
    cmd += ["--native"] if os.environ.get("BENCH_SPY_NATIVE") == "1" else ["--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_up(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            try:
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    body = await r.json()
                    if body.get("pbx", {}).get("status") == "ok":
                        return
            except (aiohttp.ClientError, ValueError):
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not come up with its AMI link within {timeout} s")


async def connect_sockets(
    session: aiohttp.ClientSession, url: str, tokens: list[str], admin: str, wallboards: int
) -> list[aiohttp.ClientWebSocketResponse]:
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    heads = [(f"{url}/agent/ws", t) for t in tokens] + [(f"{url}/wallboard/ws", admin)] * wallboards
    for i in range(0, len(heads), 100):
        sockets += await asyncio.gather(
            *(
                session.ws_connect(u, headers={"Authorization": f"Bearer {t}"}, heartbeat=None, max_msg_size=0)
                for u, t in heads[i : i + 100]
            )
        )
    return sockets


async def read_socket(ws: aiohttp.ClientWebSocketResponse, seen: Watch, wallboard: bool) -> None:
    async for msg in ws:
        if wallboard:
            seen.wallboard_messages += 1
            seen.wallboard_bytes += len(msg.data)
            continue
        seen.desktop_messages += 1
        if '"screen_pop"' in msg.data:
            data = json.loads(msg.data)
            if data.get("type") == "screen_pop":
                seen.popped.setdefault(data["call_id"], time.monotonic())


async def run(args: argparse.Namespace) -> dict[str, object]:
    db = f"hotline_scale_{uuid.uuid4().hex[:6]}"
    admin_db = await asyncpg.connect(PG_ADMIN)
    await admin_db.execute(f'CREATE DATABASE "{db}"')
    store_url = PG_ADMIN.rpartition("/")[0] + f"/{db}"
    work = Path(tempfile.mkdtemp(prefix="hotline-scale-"))
    procs: list[subprocess.Popen[bytes]] = []
    seen = Watch()
    # this process times the offers and pops as it reads them: a full collection of its
    # own (1,000 websockets, every call's times) was a 0.3 s stop counted as the server's
    from cti.gc_pacer import GcPace, pace_gc

    pacing = asyncio.create_task(pace_gc(GcPace(start_after_s=5.0)), name="gc-pacer")
    try:
        began_seed = time.monotonic()
        tokens, admin = await seed(store_url, args.agents, min(args.sockets, args.agents))
        seed_s = time.monotonic() - began_seed
        ami_port, web_port = free_port(), free_port()
        exe = Path(sys.executable).with_name("hotline")
        emulator = subprocess.Popen(
            [str(exe), "pbx-emulator", "--ami-port", str(ami_port), "--ami-user", "hotline", "--log-level", "warning"],
            stdout=(work / "emulator.log").open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "HOTLINE_AMI_SECRET": SECRET},
        )
        procs.append(emulator)
        config = work / "hotline.toml"
        more = f"lease_s = {args.lease_s}\n" if args.lease_s else ""
        write_config(config, web_port, store_url, REDIS, ami_port, SECRET, more)
        await asyncio.sleep(0.5)
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve-child", str(config), f"scale-{db}", str(web_port), args.profile or ""],
            stdout=(work / "serve.log").open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "HOTLINE_CONFIG": "", "BENCH_EVENT_LOOP": args.event_loop},
        )
        procs.append(server)
        await wait_up(web_port, 60 + args.agents / 100)
        url = f"http://127.0.0.1:{web_port}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            sockets = await connect_sockets(session, url, tokens, admin, args.wallboards)
            readers = [asyncio.create_task(read_socket(ws, seen, i >= len(tokens))) for i, ws in enumerate(sockets)]
            callers, watcher = await Ami.connect(ami_port), await Ami.connect(ami_port)
            watch = asyncio.create_task(watcher.watch(seen))
            drain = asyncio.create_task(callers.discard())  # unread, the emulator would wait on it
            await asyncio.sleep(1)  # the initial snapshots sent
            idle0, idle_began = proc_cpu_s(server.pid), time.monotonic()
            await asyncio.sleep(args.idle_s)  # the server's cost with no calls (sockets, wallboards, timers)
            idle_ms_per_s = (proc_cpu_s(server.pid) - idle0) * 1000 / (time.monotonic() - idle_began)
            spy = sample_server(server.pid, args.spy, args.minutes * 60) if args.spy else None
            cpu0 = {p.pid: proc_cpu_s(p.pid) for p in (server, emulator)}
            sys0 = proc_sys_s(server.pid)
            load0 = time.process_time()
            start = time.monotonic()
            calls = round(args.calls_per_s * args.minutes * 60)
            for n in range(calls):
                callers.originate(n, args.talk_s)
                if n % 20 == 0:
                    await callers.writer.drain()
                delay = start + (n + 1) / args.calls_per_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            send_s = time.monotonic() - start
            deadline = time.monotonic() + args.drain_s
            while time.monotonic() < deadline and (
                len(seen.arrived) < calls or len(seen.redirected.keys() & seen.arrived.keys()) < len(seen.arrived)
            ):
                await asyncio.sleep(0.1)
            wall_s = time.monotonic() - start
            cpu = {pid: proc_cpu_s(pid) - c for pid, c in cpu0.items()}
            sys_s = proc_sys_s(server.pid) - sys0
            load_cpu = time.process_time() - load0
            rss = proc_hwm_mb(server.pid)
            if spy is not None:
                spy.wait()
            for r in (*readers, watch, drain):
                r.cancel()
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
            await callers.close()
            await watcher.close()
    finally:
        pacing.cancel()
        for proc in reversed(procs):
            stop(proc)
        if args.keep_db:
            print(f"kept the database {db}", file=sys.stderr)
        else:
            await admin_db.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin_db.close()
    offer_ms = [(seen.redirected[c] - t) * 1000 for c, t in seen.arrived.items() if c in seen.redirected]
    pop_ms = [(seen.popped[c] - t) * 1000 for c, t in seen.arrived.items() if c in seen.popped]
    if args.offers:  # when the slow offers came (clustered: a pause of the server's loop)
        first = min(seen.arrived.values(), default=0.0)
        with open(args.offers, "w") as out:
            for c, t in sorted(seen.arrived.items(), key=lambda item: item[1]):
                if c in seen.redirected:
                    out.write(f"{t - first:.3f} {(seen.redirected[c] - t) * 1000:.2f}\n")
    lost = calls - len(seen.redirected.keys() & seen.arrived.keys())
    load = os.getloadavg()
    return {
        "bench": "live_scale",
        "agents": args.agents,
        "calls_per_s": args.calls_per_s,
        "minutes": args.minutes,
        "desktop_sockets": len(tokens),
        "wallboard_sockets": args.wallboards,
        "calls": calls,
        "arrived": len(seen.arrived),
        "lost": lost,
        "cpu_ms_per_call": round(cpu[server.pid] * 1000 / calls, 3),
        "sys_share": round(sys_s / cpu[server.pid], 3) if cpu[server.pid] else 0.0,
        # the server's CPU with no calls (ms per s), and per call once that is taken off
        "idle_cpu_ms_per_s": round(idle_ms_per_s, 1),
        "marginal_cpu_ms_per_call": round((cpu[server.pid] * 1000 - idle_ms_per_s * wall_s) / calls, 3),
        "p99_offer_ms": p99(offer_ms),
        "p50_offer_ms": round(statistics.median(offer_ms), 2) if offer_ms else None,
        "p99_pop_ms": p99(pop_ms),
        "pops": len(pop_ms),
        "rss_mb": rss,
        "emulator_cpu_ms_per_call": round(cpu[emulator.pid] * 1000 / calls, 3),
        "load_cpu_ms_per_call": round(load_cpu * 1000 / calls, 3),
        "achieved_calls_per_s": round(calls / send_s, 2),
        "wall_s": round(wall_s, 1),
        "seed_s": round(seed_s, 1),
        "desktop_messages": seen.desktop_messages,
        "wallboard_messages": seen.wallboard_messages,
        "wallboard_kb_per_message": round(seen.wallboard_bytes / max(1, seen.wallboard_messages) / 1024, 1),
        "loadavg": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
        "targets": TARGETS,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-child":
        serve_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else "")
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--calls-per-s", type=float, default=60.0)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--sockets", type=int, default=1000, help="connected desktop websockets")
    ap.add_argument("--wallboards", type=int, default=2, help="connected wallboard websockets")
    ap.add_argument("--talk-s", type=float, default=30.0, help="how long each agent talks")
    ap.add_argument("--idle-s", type=float, default=5.0, help="the server's CPU measured this long before the calls")
    ap.add_argument("--lease-s", type=float, default=0.0, help="[pbx] lease_s (0: the server's default)")
    ap.add_argument("--drain-s", type=float, default=60.0, help="at most this long after the last call")
    ap.add_argument("--event-loop", default="", choices=["", "uvloop", "asyncio"], help="[server] event_loop")
    ap.add_argument("--keep-db", action="store_true", help="keep the server's database to read afterwards")
    ap.add_argument("--profile", default="", help="cProfile the server into this file")
    ap.add_argument("--offers", default="", help="write each call's arrival (s) and offer (ms) to this file")
    ap.add_argument("--spy", default="", help="py-spy the server while the calls come, into this file")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "live_scale.json"))
    ap.add_argument("--quick", action="store_true", help="a short run: 2000 agents, 20 calls/s, 1 minute")
    args = ap.parse_args()
    if args.quick:
        args.agents, args.calls_per_s, args.minutes, args.sockets = 2000, 20.0, 1.0, 200
    if not 1 <= args.agents <= 10_000:
        ap.error(f"--agents {args.agents}: the emulator has phones for 1 to 10000 agents")
    configure("warning", "text")
    result = asyncio.run(run(args))
    print(json.dumps(result))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
