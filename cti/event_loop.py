"""The server's event loop: uvloop where it is installed and asked for (the default),
else asyncio's own. uvloop runs the same asyncio code with its loop, transports and
timers in C: at 60 calls/s the live server spent about a fifth of its CPU in
asyncio's Python loop and streams (bench/bench_live_scale.py)."""

from __future__ import annotations

import asyncio
from typing import Literal

import structlog

log = structlog.get_logger()

LoopKind = Literal["uvloop", "asyncio"]


def new_event_loop(kind: LoopKind = "uvloop") -> asyncio.AbstractEventLoop:
    """A new loop of `kind` (uvloop missing: asyncio's, said once in the log)."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("event_loop_fallback", wanted="uvloop", using="asyncio", why="uvloop is not installed")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
