"""The live event log writer: append domain events to the store without ever
blocking the call path, and without losing them when the database is away.

Events go into a bounded in-memory buffer; one writer task appends them in
batches, in order. When the store fails (PostgreSQL restarting, network cut), the
batch stays at the head of the buffer and is retried with backoff; `/healthz`
shows the backlog and an alarm. Only if the buffer fills up (a long outage at high
load) are the oldest events dropped, counted and logged as an error.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from events import Event
from store.port import StaleEpoch, Store

log = structlog.get_logger()


class BufferedEventLog:
    def __init__(
        self,
        store: Store,
        *,
        max_buffer: int = 200_000,
        batch_size: int = 500,
        retry_min_s: float = 0.2,
        retry_max_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        epoch: int = 0,
        fence: Callable[[], str | None] | None = None,
        linger_s: float = 0.02,
    ) -> None:
        self._store = store
        # a batch smaller than batch_size waits this long for more events first: one
        # transaction (four round trips) per event was most of the log's cost at 60 calls/s;
        # it is also what a SIGKILL can lose beyond the batch in flight
        self._linger_s = linger_s
        self.epoch = epoch
        self._fence = fence
        self.fenced = 0  # batches held back because the term had run out
        # (dedupe key, event, its JSON text or None): a batch re-sent after an unclear
        # failure is not stored twice; the text, when the live loop has encoded the event
        # for the bus already, is stored as it is (not encoded a second time)
        self._buffer: deque[tuple[str, Event, str | None]] = deque()
        # one random prefix per log, then a count: the generator's element expression is
        # evaluated per item, so a uuid4 inside it cost a getrandom syscall per event
        prefix = uuid.uuid4().hex[:12]
        self._keys = (f"{prefix}:{n}" for n in itertools.count())
        self._max_buffer = max_buffer
        self._batch_size = batch_size
        self._retry_min_s = retry_min_s
        self._retry_max_s = retry_max_s
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self.failing_since: float | None = None
        self.last_error = ""

    def append(self, event: Event, key: str | None = None, payload: str | None = None) -> None:
        """Never blocks, never raises. `key`: the event's own dedupe key, for an event
        that another process (or this one after a restart) may log again: the store
        keeps the first with that key (else a key of this process's own). `payload`:
        the event's record as JSON, when the caller has encoded it already."""
        if len(self._buffer) >= self._max_buffer:
            self._buffer.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("event_log_buffer_full", dropped=self.dropped, max_buffer=self._max_buffer)
        self._buffer.append((key or next(self._keys), event, payload))
        self._idle.clear()
        self._wakeup.set()

    @property
    def backlog(self) -> int:
        return len(self._buffer)

    def health(self) -> dict[str, Any]:
        alarm = self.failing_since is not None or self.dropped > 0
        status: dict[str, Any] = {
            "backlog": self.backlog,
            "written": self.written,
            "dropped": self.dropped,
            "alarm": alarm,
        }
        if self.failing_since is not None:
            status["failing_for_s"] = round(self._clock() - self.failing_since, 1)
            status["last_error"] = self.last_error
        return status

    async def flushed(self) -> None:
        """Wait until everything appended so far is written."""
        await self._idle.wait()

    async def run(self) -> None:
        """The writer task (owned by the server's task group / cleanup context)."""
        delay = self._retry_min_s
        while True:
            if not self._buffer:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self._linger_s and len(self._buffer) < self._batch_size:
                await asyncio.sleep(self._linger_s)
            why = self._fence() if self._fence is not None else None
            if why is not None:  # a deposed leader's writes are refused: they wait, and die with it
                self.fenced += 1
                if self.fenced == 1:
                    log.error("event_log_fenced", reason=why, backlog=self.backlog)
                await asyncio.sleep(self._retry_min_s)
                continue
            batch = [self._buffer[i] for i in range(min(self._batch_size, len(self._buffer)))]
            try:
                await self._store.append_many(
                    [e for _, e, _ in batch],
                    [k for k, _, _ in batch],
                    epoch=self.epoch,
                    payloads=[p for _, _, p in batch],
                )
            except asyncio.CancelledError:
                raise
            except StaleEpoch as exc:  # the store refuses a deposed leader's batch: it waits and dies with it
                self.fenced += 1
                if self.fenced == 1:
                    log.error("event_log_fenced", reason=str(exc), backlog=self.backlog)
                await asyncio.sleep(self._retry_min_s)
                continue
            except (TypeError, ValueError):
                # An event the store cannot encode must not block the ones behind it.
                await self._write_one_by_one(len(batch))
                continue
            except Exception as exc:  # noqa: BLE001 - any store failure: keep the events, retry later
                self.failures += 1
                self.last_error = type(exc).__name__
                if self.failing_since is None:
                    self.failing_since = self._clock()
                    log.error("event_log_write_failing", error=type(exc).__name__, backlog=self.backlog)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            for _ in batch:
                self._buffer.popleft()
            self.written += len(batch)
            if self.failing_since is not None:
                log.warning(
                    "event_log_write_recovered",
                    outage_s=round(self._clock() - self.failing_since, 1),
                    backlog=self.backlog,
                )
                self.failing_since = None
            delay = self._retry_min_s

    async def _write_one_by_one(self, count: int) -> None:
        for _ in range(count):
            key, event, payload = self._buffer[0]
            try:
                await self._store.append_many([event], [key], epoch=self.epoch, payloads=[payload])
            except (TypeError, ValueError) as exc:
                self.dropped += 1
                log.error("event_log_unwritable_event", kind=type(event).__name__, error=str(exc)[:200])
            else:
                self.written += 1
            self._buffer.popleft()
