"""AMI codec benchmark: the recorded 4 calls/s load capture parsed by the Python codec
and by its mypyc build (cti/ami_native.py), in the same process, best of a few runs.

    .venv/bin/python bench/bench_ami_codec.py [--quick]

Four workloads per build: `parse` (AmiParser.feed on 1,500-byte reads, every event
kept), `live` (the same with the live server's kind of filter: VarSet dropped before
its headers are split), `get` (five Message.get per parsed message) and `model`
(`live` and the call model fed each message, as the AMI client does). Prints the time
per message and the speed-up of the compiled build; writes bench/results/ami_codec.json.
Needs `make native` (else only Python runs).
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.native_build import NativeBuildError  # noqa: E402
from config.paths import ami_traces_dir  # noqa: E402
from cti.ami_native import implementation  # noqa: E402
from cti.call_model import CallModel  # noqa: E402
from cti.logs import configure  # noqa: E402

CAPTURE = ami_traces_dir() / "load" / "load-4cps.ami.gz"
READ = 1500  # bytes per feed: a TCP segment's worth
GETS = ("Event", "Uniqueid", "Linkedid", "ActionID", "NoSuchHeader")


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(codec: ModuleType, data: bytes, repeats: int) -> dict[str, float]:
    chunks = [data[i : i + READ] for i in range(0, len(data), READ)]

    def parse(keep: Callable[[str], bool] | None = None) -> int:
        parser = codec.AmiParser(keep_event=keep)
        return sum(len(parser.feed(chunk)) for chunk in chunks)

    messages = [m for m in codec.AmiParser().feed(data) if isinstance(m, codec.Message)]

    def model() -> None:
        calls = CallModel()
        parser = codec.AmiParser(keep_event=lambda name: name != "VarSet")
        for chunk in chunks:
            for item in parser.feed(chunk):
                if isinstance(item, codec.Message):
                    calls.feed(item, 0.0)

    def get() -> None:
        for m in messages:
            for key in GETS:
                m.get(key)

    n = len(messages)
    return {
        "messages": n,
        "parse_us_per_msg": round(_best(parse, repeats) / n * 1e6, 3),
        "live_us_per_msg": round(_best(lambda: parse(lambda name: name != "VarSet"), repeats) / n * 1e6, 3),
        "get_us_per_msg": round(_best(get, repeats) / n * 1e6, 3),
        "model_us_per_msg": round(_best(model, repeats) / n * 1e6, 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a fifth of the capture, two runs")
    args = ap.parse_args(argv)
    configure("warning")
    data = gzip.open(CAPTURE).read()
    if args.quick:
        data = data[: len(data) // 5]
    repeats = 2 if args.quick else 5
    builds: dict[str, dict[str, float]] = {}
    for choice in ("python", "native"):
        try:
            codec = implementation(choice)
        except NativeBuildError as exc:
            print(f"ami_codec  {choice}: {exc}")
            continue
        builds[choice] = r = measure(codec, data, repeats)
        print(
            f"ami_codec  {choice:<6}  {r['messages']} messages  parse {r['parse_us_per_msg']:.2f} us/msg  "
            f"live {r['live_us_per_msg']:.2f} us/msg  5 gets {r['get_us_per_msg']:.2f} us/msg  "
            f"model {r['model_us_per_msg']:.2f} us/msg"
        )
    speedup = {}
    if len(builds) == 2:
        py, nat = builds["python"], builds["native"]
        speedup = {k: round(py[k] / nat[k], 2) for k in py if k != "messages"}
        figures = "  ".join(f"{k.split('_')[0]} x{v}" for k, v in speedup.items())
        print(f"ami_codec  speed-up of the compiled build: {figures}")
    out = {
        "benchmark": "ami_codec",
        "quick": args.quick,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "capture_bytes": len(data),
        "builds": builds,
        "speedup": speedup,
    }
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "ami_codec.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
