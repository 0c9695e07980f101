"""Stand-ins for work that swallows a cancel, as Python 3.11's `asyncio.wait_for` does
when the answer comes with it (CPython gh-86296): what the loops' `raise_if_cancelled`
and the bounded stops (cti/bounded.py) are tested against."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class SwallowsOneCancel:
    """A call (put in place of a lookup, a flush...) that waits until cancelled, returns
    `answer` at the first cancel as if the answer had come with it, and lets the next
    cancel through. `started`: it was called; `swallowed`: it swallowed one."""

    def __init__(self, answer: Any = None) -> None:
        self.answer = answer
        self.started = asyncio.Event()
        self.swallowed = False

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed = True
        return self.answer


def deaf_task(release: asyncio.Event) -> asyncio.Task[None]:
    """A task no cancel ends: only `release` does."""

    async def deaf() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    return asyncio.create_task(deaf())
