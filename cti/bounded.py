"""Bounded waits that return on time even when the work cannot be interrupted.

`asyncio.wait_for` cancels the awaited work at its timeout and then waits for it to
finish cancelling. A database call on a silently cut network does not finish: asyncpg
rolls back or sends a cancel request over the same dead path, so `wait_for` returns
only when TCP gives up (seconds to minutes). A leader must stop acting within its lease,
and `/healthz` must answer, whatever the network does: `within` returns at the
timeout, leaving the cancelled work to end in the background (its outcome is
retrieved, never lost silently). `raise_if_cancelled` ends a loop at its cancel even
when a library it awaits swallowed that cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import structlog

log = structlog.get_logger()

T = TypeVar("T")


async def within(work: Awaitable[T], timeout: float, name: str = "bounded") -> T:
    """`work`'s result, or TimeoutError after `timeout` seconds, whether or not the work
    has finished cancelling by then."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(_retrieve)
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_retrieve)
        raise TimeoutError(f"{name}: no answer within {timeout} s")
    return task.result()


def raise_if_cancelled() -> None:
    """CancelledError in a task whose cancel was swallowed: Python 3.11's `asyncio.wait_for`
    returns the awaited result when the cancel comes with it (CPython gh-86296, fixed in
    3.12), and aiosmtplib waits for every SMTP reply so. A loop around such a call runs on
    after its cancel, and whoever stops it waits forever: such loops call this each turn."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("bounded_work_failed_late", error=type(task.exception()).__name__)


async def cancel_within(tasks: list[asyncio.Task[Any]], timeout: float) -> int:
    """Cancel `tasks` and wait for them at most `timeout` seconds; how many had not ended
    by then (left to end in the background, their outcome retrieved)."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.add_done_callback(_retrieve)
    return len(pending)
