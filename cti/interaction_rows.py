"""The interaction rows of calls that end together, written together.

Each ended call's row was an upsert of its own (a round trip and ~220 us of this
process's CPU); the rows of the calls ending within `linger_s` of the first (default
50 ms) now go in one `put_interactions` (one pipelined executemany: ~55 us a row for 5,
~21 for 20, bench/bench_pg_batching.py). What the single writes promised still holds:
- the store's upsert keeps a disposition and notes the agent saved already;
- a database outage is waited out with backoff (given up after `give_up_after_s`,
  logged), and an unencodable row is logged and dropped without losing the others:
  a batch that fails is written again row by row, each as the single write did
  (which row a failed batch choked on cannot be known);
- `flushed()` writes what is queued at once and waits for the writes under way (a
  clean stop calls it before the live loop's tasks are cancelled).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from store.models import Interaction
from store.port import Interactions

log = structlog.get_logger()

# The rows of the calls ending within 50 ms go together (at 60 calls/s some three a
# statement, ~140 us of CPU saved a row). A SIGKILLed server's rows not written yet are
# not lost: the restart writes the rows of the calls the event log ended in its last
# two minutes that have none (cti/live_recovery.py, tests/live/test_live_rows_after_kill.py).
LINGER_S = 0.05
MAX_BATCH = 500


class InteractionRows:
    """Rows queued by `add`, written a batch at a time by tasks from `spawn` (the
    live center's, so they are owned and their failures logged)."""

    def __init__(
        self,
        store: Interactions,
        spawn: Callable[[Awaitable[Any], str], asyncio.Task[Any]],
        *,
        linger_s: float = LINGER_S,
        max_batch: int = MAX_BATCH,
        give_up_after_s: float = 600.0,
    ) -> None:
        self.store = store
        self._spawn = spawn
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.give_up_after_s = give_up_after_s
        self._queued: list[Interaction] = []
        self._full = asyncio.Event()  # the queued batch is to go now (full, or stopping)
        self._waiting = False  # a writer is lingering for the queued batch
        self._hurry = False  # stopping: no more lingering
        self._writers: set[asyncio.Task[Any]] = set()
        self.batches = 0

    def add(self, interaction: Interaction) -> None:
        self._queued.append(interaction)
        if len(self._queued) >= self.max_batch:
            self._full.set()
        if not self._waiting:
            self._waiting = True
            task = self._spawn(self._write_queued(), "interactions")
            self._writers.add(task)
            task.add_done_callback(self._writers.discard)

    @property
    def backlog(self) -> int:
        return len(self._queued)

    async def written(self) -> None:
        """Until every row added so far is written (or given up on: logged)."""
        while self._writers:
            await asyncio.gather(*self._writers, return_exceptions=True)

    async def flushed(self) -> None:
        """`written()` without the linger; rows added from now on (stopping) go at once."""
        self._hurry = True
        self._full.set()
        await self.written()

    async def _write_queued(self) -> None:
        if not self._hurry and self.linger_s > 0:  # (no linger: the rows added in this turn go)
            try:
                async with asyncio.timeout(self.linger_s):
                    await self._full.wait()
            except TimeoutError:
                pass
        batch, self._queued = self._queued, []
        self._waiting = False
        if not self._hurry:
            self._full.clear()
        await self.write(batch)

    async def write(self, batch: list[Interaction]) -> None:
        """One statement for the batch; when it fails, each row on its own."""
        if len(batch) > 1:
            try:
                await self.store.put_interactions(batch)
                self.batches += 1
                return
            except Exception as exc:  # noqa: BLE001 - an outage or one bad row: row by row tells which
                log.warning("interaction_batch_failed", rows=len(batch), error=type(exc).__name__)
        await asyncio.gather(*(self._write_one(i) for i in batch))

    async def _write_one(self, interaction: Interaction) -> None:
        """A database outage is waited out (with backoff) like the event log's."""
        delay, waited = 0.2, 0.0
        while True:
            try:
                await self.store.put_interaction(interaction)
                return
            except (TypeError, ValueError) as exc:  # unencodable: retrying cannot help
                log.error("interaction_unwritable", call_id=interaction.id, error=str(exc)[:200])
                return
            except Exception as exc:  # noqa: BLE001 - any store failure: wait it out, then give up (logged)
                if waited >= self.give_up_after_s:
                    log.error("interaction_write_failed", call_id=interaction.id, error=type(exc).__name__)
                    return
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)
