"""Where the server's event loop stalls (bench_live_scale with BENCH_STALLS=FILE): a
thread sees the loop's heartbeat (every 10 ms) fall behind and writes the main thread's
stack and the garbage collector's last pause, so a slow offer's cause is named."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import traceback

from aiohttp import web


def watch_stalls(app: web.Application, path: str, stall_s: float = 0.05) -> None:
    beat = [time.monotonic()]
    gc_pause = [0.0, 0.0]  # started, the last pause's length

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_pause[0] = time.monotonic()
        else:
            gc_pause[1] = time.monotonic() - gc_pause[0]
            if gc_pause[1] > stall_s or info.get("generation") == 2:
                with open(path, "a") as out:
                    out.write(
                        f"{time.time():.3f} gc generation {info.get('generation')} {gc_pause[1] * 1000:.0f} ms"
                        f" collected {info.get('collected')} frozen {gc.get_freeze_count()}\n"
                    )

    gc.callbacks.append(on_gc)
    main = threading.main_thread().ident

    def watcher() -> None:
        reported = 0.0
        cpu_at = time.monotonic()
        while True:
            time.sleep(0.01)
            if time.monotonic() - cpu_at >= 30:  # the process's CPU so far: does a call cost more later?
                cpu_at = time.monotonic()
                with open(path, "a") as out:
                    out.write(f"{time.time():.3f} cpu {time.process_time():.2f} s\n")
            late = time.monotonic() - beat[0]
            if late > stall_s and beat[0] != reported:
                frame = sys._current_frames().get(main or 0)
                stack = "".join(traceback.format_stack(frame, limit=25)) if frame is not None else "?"
                with open(path, "a") as out:
                    out.write(f"{time.time():.3f} loop late {late * 1000:.0f} ms\n{stack}\n")
                reported = beat[0]

    async def heartbeat(_app: web.Application) -> None:
        async def beat_forever() -> None:
            while True:
                beat[0] = time.monotonic()
                await asyncio.sleep(0.01)

        task = asyncio.get_running_loop().create_task(beat_forever())
        app["stall_watch"] = task

    app.on_startup.append(heartbeat)
    threading.Thread(target=watcher, daemon=True, name="stall-watch").start()


def census_garbage(app: web.Application, path: str, every_s: float = 15.0) -> None:
    """Every `every_s`, what the collector found to free (kept aside with DEBUG_SAVEALL),
    by type: the reference cycles the server makes (each one lives until a collection)."""
    from collections import Counter

    gc.disable()  # every cycle waits for the census

    async def census(_app: web.Application) -> None:
        async def run() -> None:
            while True:
                await asyncio.sleep(every_s)
                gc.set_debug(gc.DEBUG_SAVEALL)
                found = gc.collect()
                gc.set_debug(0)
                kinds = Counter(type(o).__qualname__ for o in gc.garbage)
                gc.garbage.clear()
                with open(path, "a") as out:
                    out.write(f"{time.time():.3f} collected {found}: {kinds.most_common(25)}\n")

        app["garbage_census"] = asyncio.get_running_loop().create_task(run())

    app.on_startup.append(census)
