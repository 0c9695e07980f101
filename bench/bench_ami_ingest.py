"""AMI ingest benchmark: the recorded 4 calls/s load capture streamed at full speed
over a real localhost socket, (a) into bare panoramisk 1.4 with one do-nothing '*'
handler and (b) through Hotline's AMI adapter (panoramisk Manager + codec parser +
call model), in the same run. Memory: the capture is looped with remapped ids
(about 1M events by default) and the process RSS is sampled as it goes.

Targets (issue 3): (b) >= 60 % of (a) and >= 25,000 events/s; RSS flat.

    .venv/bin/python bench/bench_ami_ingest.py [--quick] [--loops N] [--bare-loops N]

The streaming server runs in a separate process (blocking sockets) so it does not
share the client's event loop or GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

from config.paths import ami_traces_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from cti.ami import AmiClient, AmiSettings  # noqa: E402
from cti.ami_codec import AmiParser, Message, encode  # noqa: E402
from cti.ami_native import is_native  # noqa: E402
from cti.call_model import CallModel  # noqa: E402

CAPTURE = ami_traces_dir() / "load" / "load-4cps.ami.gz"
EVENTS_PER_LOOP = 69_463  # README: 69,465 messages = 69,463 events + 2 responses
RESULTS = ROOT / "bench" / "results" / "ami_ingest.json"


def _payload(loop_no: int, raw: bytes) -> bytes:
    """The capture without its banner, ids remapped per loop (Uniqueids, Linkedids,
    CC_CALLID and timestamps all start with the epoch prefix 1795...)."""
    if loop_no == 0:
        return raw
    return raw.replace(b"1795", b"%04d" % (2000 + loop_no))


def _server(port_q: mp.Queue[int], sessions: list[tuple[int, str]]) -> None:
    """sessions: (loops, action after which streaming starts) per connection."""
    raw = gzip.open(CAPTURE).read()
    raw = raw[raw.index(b"\r\n") + 2 :]  # drop the recorded banner line
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port_q.put(srv.getsockname()[1])
    for loops, start_after in sessions:
        conn, _ = srv.accept()
        conn.sendall(b"Asterisk Call Manager/9.0.0\r\n")
        parser = AmiParser(expect_banner=False)
        started = False
        while not started:
            data = conn.recv(65536)
            if not data:
                break
            for m in parser.feed(data):
                if not isinstance(m, Message):
                    continue
                name, aid = m.get("Action"), m.get("ActionID")
                if name == "Login":
                    conn.sendall(
                        encode([("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted")])
                        + encode([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")])
                    )
                    started = start_after == "Login"
                elif name in ("CoreShowChannels", "Status"):
                    done = "CoreShowChannelsComplete" if name == "CoreShowChannels" else "StatusComplete"
                    conn.sendall(
                        encode([("Response", "Success"), ("ActionID", aid), ("EventList", "start")])
                        + encode([("Event", done), ("ActionID", aid), ("EventList", "Complete"), ("ListItems", "0")])
                    )
                    started = start_after == name
                else:
                    conn.sendall(encode([("Response", "Success"), ("ActionID", aid)]))
        if started:
            for k in range(loops):
                data = _payload(k, raw)
                view = memoryview(data)
                for i in range(0, len(data), 1 << 20):
                    conn.sendall(view[i : i + (1 << 20)])
        try:
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        except OSError:
            pass
        conn.close()
    srv.close()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _wait(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark stream stalled")
        await asyncio.sleep(0.005)


async def bare_panoramisk(port: int, loops: int) -> dict[str, float]:
    from panoramisk import Manager

    total = loops * EVENTS_PER_LOOP
    count = 0
    first = [0.0]

    cpu0 = [0.0]

    def handler(manager: object, event: object) -> None:
        nonlocal count
        if count == 0:
            first[0] = time.perf_counter()
            cpu0[0] = time.process_time()
        count += 1

    manager = Manager(
        loop=asyncio.get_running_loop(),
        host="127.0.0.1",
        port=port,
        username="bench",
        secret="bench",
        ping_delay=10**6,
        reconnect_timeout=10**6,
    )
    manager.register_event("*", handler)
    manager.connect()
    await _wait(lambda: count >= total, 600)
    elapsed = time.perf_counter() - first[0]
    cpu = time.process_time() - cpu0[0]
    manager.close()
    return {
        "events": count,
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "cpu_seconds": cpu,
        "events_per_cpu_s": count / cpu,
    }


async def hotline_adapter(port: int, loops: int) -> dict[str, object]:
    total = loops * EVENTS_PER_LOOP
    model = CallModel()
    domain = [0]

    def sink(events: list[object]) -> None:
        domain[0] += len(events)

    client = AmiClient(AmiSettings("127.0.0.1", port, "bench", "bench", ping_interval_s=10**6), model, sink)
    rss: list[float] = []
    await client.start()
    await client.wait_ready(10)
    # the stream starts as soon as the resync's Status is answered; events counted
    # before t0 are excluded from the rate
    t0 = time.perf_counter()
    cpu0 = time.process_time()

    def consumed() -> int:
        """Events taken off the stream: parsed, or dropped unparsed (nobody reads them)."""
        return client.events_received + client.events_skipped

    at_t0 = consumed()
    rss_before = _rss_mb()
    next_sample = EVENTS_PER_LOOP
    while consumed() - 1 < total:  # -1: the FullyBooted after login
        await asyncio.sleep(0.01)
        if consumed() - 1 >= next_sample:
            rss.append(round(_rss_mb(), 1))
            next_sample += EVENTS_PER_LOOP
        if time.perf_counter() - t0 > 900:
            raise TimeoutError("benchmark stream stalled")
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    count = consumed() - at_t0
    parsed = client.events_received
    rss_after = _rss_mb()
    live = (model.call_count, model.channel_count, model.bridge_count)
    await client.close()
    return {
        "events": count,
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "parsed_events": parsed,  # the rest dropped unparsed (cti/ami_codec.py keep_event)
        "domain_events": domain[0],
        "cpu_seconds": cpu,
        "events_per_cpu_s": count / cpu,
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_after, 1),
        "rss_per_loop_mb": rss,
        "live_calls_channels_bridges_after": live,
        "model_failures": model.failures,
    }


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    port_q: mp.Queue[int] = mp.Queue()
    proc = mp.get_context("fork").Process(
        target=_server, args=(port_q, [(args.bare_loops, "Login"), (args.loops, "Status")]), daemon=True
    )
    proc.start()
    port = port_q.get(timeout=60)
    bare = await bare_panoramisk(port, args.bare_loops)
    full = await hotline_adapter(port, args.loops)
    proc.join(timeout=30)
    ratio = full["events_per_s"] / bare["events_per_s"]  # type: ignore[operator]
    cpu_ratio = full["events_per_cpu_s"] / bare["events_per_cpu_s"]  # type: ignore[operator]
    return {
        "bare_panoramisk": bare,
        "hotline": full,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "targets": {"ratio_min": 0.60, "events_per_s_min": 25_000},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one loop each (smoke test)")
    parser.add_argument("--loops", type=int, default=15, help="capture loops for the adapter run (15 = 1.04M events)")
    parser.add_argument("--bare-loops", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.loops, args.bare_loops = 1, 1
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings and up
    result = asyncio.run(main_async(args))
    bare, full = result["bare_panoramisk"], result["hotline"]
    print(
        f"bare panoramisk, '*' no-op handler: {bare['events']:>9,} events  {bare['events_per_s']:>9,.0f} events/s"
        f"  {bare['events_per_cpu_s']:>9,.0f} events/CPU-s"
    )
    print(
        f"panoramisk + codec + call model:    {full['events']:>9,} events  {full['events_per_s']:>9,.0f} events/s"
        f"  {full['events_per_cpu_s']:>9,.0f} events/CPU-s  ({full['domain_events']:,} domain events)"
    )
    print(
        f"ratio {result['ratio']:.0%} wall, {result['cpu_ratio']:.0%} CPU (target >= 60%); "
        f"adapter target >= 25,000 events/s; load average {result['load_average'][0]:.1f} on {result['cpus']} CPUs"
    )
    print(f"RSS before {full['rss_before_mb']} MB, after {full['rss_after_mb']} MB; per loop {full['rss_per_loop_mb']}")
    print(f"live calls/channels/bridges after the stream: {full['live_calls_channels_bridges_after']}")
    result["ami_codec"] = "compiled" if is_native() else "python"  # HOTLINE_AMI_CODEC, cti/ami_native.py
    print(f"AMI codec: {result['ami_codec']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result["quick"] = args.quick
    RESULTS.write_text(json.dumps(result, indent=2, default=list))


if __name__ == "__main__":
    main()
