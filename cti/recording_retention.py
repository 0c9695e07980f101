"""The recordings' retention: files and rows older than `[recording] retention_days`
are deleted, once a day (`daily`, run by every web process: deleting is idempotent)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import structlog

from store.models import Recording
from store.port import Recordings

log = structlog.get_logger()

DAY_S = 86400.0


async def purge(store: Recordings, now: float, retention_days: float) -> int:
    """Delete the recordings started more than `retention_days` before `now` (the file
    first, then its row); returns how many went."""
    gone = 0
    while True:
        old = await store.recordings_started_before(now - retention_days * DAY_S, limit=500)
        if not old:
            return gone
        for rec in old:
            await remove(store, rec)
            gone += 1
        log.info("recordings_purged", count=gone, retention_days=retention_days)


async def remove(store: Recordings, rec: Recording) -> None:
    """Delete one recording: its file first, then its row (a crash in between leaves a
    row without a file, found again by the next run, never a file nobody can find)."""
    with contextlib.suppress(FileNotFoundError):
        Path(rec.path).unlink()
    await store.delete_recording(rec.call_id)


async def daily(store: Recordings, clock: Callable[[], float], retention_days: float, every_s: float = DAY_S) -> None:
    """Purge now, then every day, until cancelled; a failure waits for the next day."""
    while True:
        try:
            await purge(store, clock(), retention_days)
        except Exception:
            log.exception("recordings_purge_failed")
        await asyncio.sleep(every_s)
