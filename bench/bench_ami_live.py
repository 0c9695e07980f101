"""The AMI path's CPU per event, without a socket or a PBX: where the live server's
`data_received` time goes (cti/ami.py), and what the live loop adds (cti/live.py).

The recorded 4 calls/s load capture, cut to the events a filtered session receives
(the call model's, the live loop's RAW_EVENTS, FullyBooted: what Asterisk sends when
`AmiSettings.event_filter` is on), is fed to `_Protocol.data_received` of a real
`AmiClient` + `CallModel` whose domain events and raw events go into a real
`LiveInbox` (drained as it goes), as cti/live_root.py wires them. Reads of three
sizes: one message a read (a lightly loaded server wakes for each), 1,500 bytes (a TCP
segment) and 16 KiB (a busy one). The collector is paced as the server's
(cti/gc_pacer.py), what was there before a round frozen.

With `--live`, the same stream (1,500-byte reads) goes on into the live loop as
`build_live` wires it (the center's consumer, the router with 98 available agents,
views on a memory bus, agents read from a SQLite store). No customer lookup nor
interaction row touches the store (its threads would blur the figure), the PBX's
actions answer at once, the event log is not written (its buffer is emptied as it
goes). The figure is the process's CPU per AMI event, client and live loop together.

    .venv/bin/python bench/bench_ami_live.py [--repeats N] [--quick] [--live]

Prints the median and best microseconds per event over the rounds, per read size:
the machine is noisy, compare builds run alternately.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.paths import ami_traces_dir  # noqa: E402
from cti.ami import AmiClient, AmiSettings, _Protocol  # noqa: E402
from cti.ami_codec import AmiParser, Message, encode  # noqa: E402
from cti.ami_native import is_native  # noqa: E402
from cti.call_model import CallModel  # noqa: E402
from cti.gc_pacer import MIDDLE_THRESHOLD, OLD_THRESHOLD, YOUNG_THRESHOLD  # noqa: E402
from cti.live import RAW_EVENTS  # noqa: E402
from cti.live_items import LiveInbox  # noqa: E402
from cti.logs import configure  # noqa: E402

CAPTURE = ami_traces_dir() / "load" / "load-4cps.ami.gz"


def filtered_messages(data: bytes) -> list[bytes]:
    """The capture's messages a filtered session gets, each encoded as sent."""
    wanted = CallModel().event_names() | frozenset(RAW_EVENTS) | {"FullyBooted"}
    out = []
    for m in AmiParser(expect_banner=True).feed(data):
        if isinstance(m, Message) and m.event in wanted:
            out.append(encode(m.headers))
    return out


BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def chunks(messages: list[bytes], size: int) -> list[bytes]:
    """The banner, then the messages in reads of `size` bytes (0: one message a read)."""
    if size == 0:
        return [BANNER, *messages]
    data = BANNER + b"".join(messages)
    return [data[i : i + size] for i in range(0, len(data), size)]


def one_round(reads: list[bytes], events: int) -> float:
    """Seconds of CPU per event for the whole stream, fresh client and model."""
    model = CallModel()
    inbox = LiveInbox()
    client = AmiClient(AmiSettings("127.0.0.1", 0, "u", "s"), model, inbox.put_events, clock=lambda: 0.0)
    for name in RAW_EVENTS:
        client.subscribe(name, inbox.put)
    client._manager = object()  # type: ignore[assignment]  # (events are handed on only with a manager)
    protocol = _Protocol(client)
    protocol.connection_made(object())  # type: ignore[arg-type]  # (the parser, as on a connection)
    queue = inbox._queue
    feed = protocol.data_received
    gc.collect()
    gc.freeze()  # as the server's pacer does: the old objects are not walked by the collector
    start = time.process_time()
    for n, data in enumerate(reads):
        feed(data)
        if n % 256 == 255:
            while not queue.empty():  # the consumer's side (a cost the live server has too)
                queue.get_nowait()
                queue.task_done()
    elapsed = time.process_time() - start
    gc.unfreeze()
    assert client.events_received == events, (client.events_received, events)
    return elapsed / events


class _Pbx:
    """PBX actions that succeed at once (the live loop's redirects, holds...)."""

    def __getattr__(self, name: str) -> Any:
        async def done(*args: Any, **kwargs: Any) -> None:
            return None

        return done


async def _no_customer(caller: str) -> str:
    return ""


async def live_round(reads: list[bytes], events: int, tmp: str) -> float:
    """CPU seconds per event: the AMI client and the live loop's consumer."""
    from config.schema import HotlineConfig, StoreConfig
    from cti.live_root import build_live
    from sim.rig import DEFAULT_ROUTING, simulated_agents
    from store import MemoryBus, open_store

    store = await open_store(StoreConfig(url=f"sqlite:///{tmp}/bench.sqlite3"))
    await store.migrate()
    agents = simulated_agents(98)
    for user in agents:
        await store.put_user(user)
    config = HotlineConfig.model_validate(
        {
            "pbx": {"enabled": True, "ami_host": "127.0.0.1", "ami_port": 9, "ami_username": "u", "ami_secret": "s"},
            "routing": DEFAULT_ROUTING,
        }
    )
    clock = [0.0]
    live = await build_live(config, store, MemoryBus(), clock=lambda: clock[0], seed=1)
    center, client = live.center, live.client
    center.pbx = _Pbx()
    center.interactions.customer_lookup = _no_customer
    center.interactions.rows = None
    client._manager = object()  # type: ignore[assignment]
    client._set_stale(False)
    protocol = _Protocol(client)
    protocol.connection_made(object())  # type: ignore[arg-type]  # (the parser, as on a connection)
    runner = asyncio.create_task(center.run())
    for user in agents:
        await center.handle_agent_command({"agent_id": user.login, "action": "available"})
    await center.wait_idle()
    buffer = live.eventlog._buffer
    gc.collect()
    gc.freeze()
    start = time.process_time()
    for n, data in enumerate(reads):
        protocol.data_received(data)
        if n % 16 == 15:
            clock[0] = center._last_now
            await center.wait_idle()
            buffer.clear()
    await center.wait_idle()
    elapsed = time.process_time() - start
    gc.unfreeze()
    assert client.events_received == events, (client.events_received, events)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await store.close()
    return elapsed / events


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="a fifth of the capture")
    ap.add_argument("--live", action="store_true", help="on into the live loop (1,500-byte reads)")
    args = ap.parse_args(argv)
    configure("warning")
    asyncio.set_event_loop(asyncio.new_event_loop())  # (the inbox's queue wants one on old Pythons)
    data = gzip.open(CAPTURE).read()
    if args.quick:
        data = data[: len(data) // 5]
        data = data[: data.rindex(b"\r\n\r\n") + 4]
    messages = filtered_messages(data)
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)  # the server's (cti/gc_pacer.py)
    print(f"AMI codec: {'compiled' if is_native() else 'python'}; {len(messages)} events after the filter")
    result: dict[str, object] = {
        "bench": "ami_live_live" if args.live else "ami_live",
        "codec": "compiled" if is_native() else "python",
        "events": len(messages),
        "repeats": args.repeats,
        "quick": args.quick,
    }
    if args.live:
        reads = chunks(messages, 1500)
        times = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                times.append(asyncio.run(live_round(reads, len(messages), tmp)) * 1e6)
        median, best = statistics.median(times), min(times)
        print(f"client + live loop, 1500 B reads: median {median:6.2f} us/event  best {best:6.2f}")
        result["client_and_live_us_per_event"] = {"median": round(median, 2), "best": round(best, 2)}
    else:
        for size in (0, 1500, 16384):
            reads = chunks(messages, size)
            times = [one_round(reads, len(messages)) * 1e6 for _ in range(args.repeats)]
            label = "1 message" if size == 0 else f"{size} B"
            print(
                f"read {label:>9} ({len(reads):>6} reads): median {statistics.median(times):6.2f} us/event"
                f"  best {min(times):6.2f}"
            )
            key = "one_message_reads" if size == 0 else f"reads_{size}_bytes"
            result[key] = {"median_us_per_event": round(statistics.median(times), 2), "best": round(min(times), 2)}
    out = ROOT / "bench" / "results" / f"{result['bench']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
