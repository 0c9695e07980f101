"""The live loop's call-back promises: each is a row in the store before it is acted on.

A caller who keeps their place in the queue (virtual hold), a queue whose final step
is `callback`, and an agent who schedules a call-back in wrap-up all make one promise
(`store.models.Callback`). `CallbackScheduler` writes it, queues it with the router
when due (a promise an agent made is theirs alone for `agent_s` first: the router's
`preferred_agent` and `preferred_agent_s` attributes, then the queue's), marks it
`dialing` with the attempt counted before the customer is dialled, `done` when the
customer is connected, and when they do not answer either schedules the next attempt
(`retry_s` later, up to `attempts` dials) or closes it `failed`. After a restart the
open rows are read back: a due one is queued again (the same call id, so the router
gets it without logging it twice), one caught mid-dial is kept if the PBX still has the
customer's leg, else counted as not answered. Each promise is dialled once per attempt,
never twice for the same one.

The consumer never waits for the store: each step is kept in memory at once and
written by a task of its own (`_write`), the steps of one promise in the order they
were taken; a write the store refuses or does not answer in time is written again by
the poll, so nothing accepted is lost. The one step that must be in the store before
the loop acts on it is the attempt: the customer is dialled when its write comes back
through the inbox (`_dial_written`), never before (write-then-dial).

A promise cancelled through the API (web/callbacks.py) is cancelled in the store
first; the store then refuses every later step of it (`put_callback` is False). The
attempt written before a dial is such a step, so a cancelled promise is never dialled,
even when this loop had it queued: it ends instead. The poll also takes a cancelled
promise out of the queue before any agent is offered it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from cti.live_items import CallbackRequested, InLoop
from events import CallAbandoned, CallConnected, CallEnded, CallQueued, Event
from store.models import Callback
from store.port import Callbacks, NotFound
from webhooks.outbox import publish_callback

if TYPE_CHECKING:
    from cti.live import LiveCenter

log = structlog.get_logger()

WRITE_TIMEOUT_S = 5.0


def promise_id(request: CallbackRequested) -> str:
    """The promise's row id: one per call, whichever process writes it first."""
    return f"cb-{request.call_id}"


def promise_of(request: CallbackRequested, now: float, arrived_at: float) -> Callback:
    """The row a call-back request promises (due at once; `arrived_at`: the caller's
    place in the queue)."""
    return Callback(
        id=promise_id(request),
        due_at=now,
        call_id=request.call_id,
        customer_id=request.customer_id,
        number=request.number,
        created_at=now,
        queue=request.queue,
        skills=dict(request.skills),
        priority=request.priority,
        attributes=dict(request.attributes),
        kind=request.kind,
        arrived_at=arrived_at,
    )


def base_call_id(row: Callback) -> str:
    return row.id if row.id.startswith("cb-") else f"cb-{row.id}"


def attempt_call_id(row: Callback, attempt: int) -> str:
    """The live call id of a promise's `attempt`-th dial (1-based): `cb-…`, `cb-…-2`…"""
    base = base_call_id(row)
    return base if attempt <= 1 else f"{base}-{attempt}"


class CallbackScheduler:
    """Keeps the call-back promises, inside the center's consumer (and one poll task)."""

    def __init__(
        self,
        center: LiveCenter,
        store: Callbacks | None,
        *,
        attempts: int = 3,
        retry_s: float = 600.0,
        poll_s: float = 5.0,
        agent_s: float = 120.0,
    ) -> None:
        self.center = center
        self.store = store
        self.attempts = attempts
        self.retry_s = retry_s
        self.poll_s = poll_s
        self.agent_s = agent_s  # how long a promise made by an agent waits for that agent alone
        self._rows: dict[str, Callback] = {}  # row id -> the row as last written (open promises)
        self._live: dict[str, str] = {}  # live call id -> row id (queued or dialling now)
        self._live_of: dict[str, str] = {}  # row id -> its live call id (the reverse of _live)
        self._unsaved: dict[str, Callback] = {}  # rows the store refused: written again by the poll
        self._writes: dict[str, asyncio.Task[None]] = {}  # row id -> its last write, until done

    @property
    def durable(self) -> bool:
        return self.store is not None

    def owns(self, call_id: str) -> bool:
        return call_id in self._live

    def _link(self, call_id: str, row_id: str) -> None:
        self._live[call_id] = row_id
        self._live_of[row_id] = call_id

    def _unlink(self, call_id: str) -> None:
        row_id = self._live.pop(call_id, None)
        if row_id is not None and self._live_of.get(row_id) == call_id:
            del self._live_of[row_id]

    # ------------------------------------------------------------ inside the consumer

    async def on_requested(self, request: CallbackRequested) -> None:
        """Virtual hold or a queue's final step: the promise is written, then queued."""
        c = self.center
        now = c.now()
        row_id = promise_id(request)
        if row_id in self._rows:
            log.info("callback_already_promised", call_id=request.call_id)
            return
        original = c.calls.get(request.call_id)
        c.call(request.call_id).attributes["callback_requested"] = True
        arrived = original.started_at if original is not None and original.started_at else now
        row = promise_of(request, now, arrived)
        self._keep(row)
        log.info("callback_requested", call_id=request.call_id, callback_id=row_id, kind=row.kind, queue=row.queue)
        await self._queue(row_id)

    async def _queue(self, row_id: str) -> None:
        """Hand a due promise to the router (its next attempt's call id)."""
        row = self._rows.get(row_id)
        if row is None or row.state != "pending" or row_id in self._live_of:
            return
        call_id = attempt_call_id(row, row.attempts + 1)
        self._link(call_id, row_id)
        c = self.center
        state = c.call(call_id)
        state.caller, state.direction = row.number, "outbound"
        state.started_at = state.started_at if call_id in c.calls and state.logged else c.now()
        attributes = {
            **row.attributes,
            "callback": True,
            "callback_id": row.id,
            "callback_for": row.call_id,
            "callback_number": row.number,
        }
        if row.agent_id:
            attributes["preferred_agent"] = row.agent_id
            if self.agent_s > 0:
                attributes["preferred_agent_s"] = self.agent_s
        queued = CallQueued(
            at=row.arrived_at if row.attempts == 0 and row.arrived_at else c.now(),
            call_id=call_id,
            queue=row.queue or c.router.rules.default_queue or next(iter(row.skills), ""),
            skills=dict(row.skills),
            priority=row.priority,
            customer_id=row.customer_id,
            attributes=attributes,
        )
        await c.on_event(queued)

    def dialling(self, call_id: str, dial: Callable[[], Awaitable[None]]) -> None:
        """The agent is free: the attempt is written, then (inside the consumer, when
        the write is back) `dial` dials the customer, unless the promise was cancelled
        meanwhile (then the call ends) or the call is gone (nothing to dial)."""
        row_id = self._live.get(call_id)
        row = self._rows.get(row_id or "")
        if row is None:  # not a promise this scheduler keeps
            self.center.submit(InLoop(dial))
            return
        attempt = replace(row, state="dialing", attempts=row.attempts + 1)
        self._keep(attempt, then=functools.partial(self._dial_written, call_id, attempt, dial))

    async def _dial_written(
        self, call_id: str, attempt: Callback, dial: Callable[[], Awaitable[None]], written: bool
    ) -> None:
        if self._live.get(call_id) != attempt.id or self._rows.get(attempt.id) is not attempt:
            return  # ended or taken further while the attempt was written: nothing to dial
        if not written:  # cancelled in the store: never dialled
            self._rows[attempt.id] = replace(attempt, state="pending", attempts=attempt.attempts - 1)
            await self._end_cancelled(call_id)
            return
        await dial()

    async def _end_cancelled(self, call_id: str) -> None:
        """A queued (or just offered) promise cancelled in the store: the call ends, the
        router lets it go, and the listener closes the promise."""
        c = self.center
        log.info("callback_cancelled", call_id=call_id, callback_id=self._live.get(call_id, ""))
        await c.on_event(CallEnded(at=c.now(), call_id=call_id, cause=16, cause_text="call-back cancelled"))

    async def on_event(self, event: Event) -> None:
        """A listener of everything the center logs: how each attempt ends."""
        call_id = getattr(event, "call_id", "")
        row_id = self._live.get(call_id)
        if row_id is None:
            return
        row = self._rows.get(row_id)
        if row is None:
            return
        if isinstance(event, CallConnected):
            self._close(call_id, replace(row, state="done", outcome="connected"))
        elif isinstance(event, CallEnded):
            if row.state == "pending":  # ended before any dial (the caller's queue closed...)
                self._close(call_id, replace(row, state="cancelled", outcome=event.cause_text or "ended"))
            else:
                self._not_answered(call_id, row, event.cause_text or "not_answered")

    def _not_answered(self, call_id: str, row: Callback, outcome: str) -> None:
        if row.attempts >= self.attempts:
            self._close(call_id, replace(row, state="failed", outcome=outcome))
            return
        due = self.center.clock() + self.retry_s
        self._unlink(call_id)
        self._keep(replace(row, state="pending", outcome=outcome, due_at=due))
        log.info("callback_retry_scheduled", callback_id=row.id, attempts=row.attempts, due_at=due)

    def _close(self, call_id: str, row: Callback) -> None:
        self._unlink(call_id)
        self._rows.pop(row.id, None)
        self._write(row)
        log.info("callback_closed", callback_id=row.id, state=row.state, outcome=row.outcome, attempts=row.attempts)

    def _keep(self, row: Callback, then: Callable[[bool], Awaitable[None]] | None = None) -> None:
        """The promise as it stands now (in memory at once), written behind its earlier steps."""
        self._rows[row.id] = row
        self._write(row, then)

    def _write(self, row: Callback, then: Callable[[bool], Awaitable[None]] | None = None) -> None:
        """Write a step of a promise in a task, after the promise's earlier steps (never
        overtaking one). `then(written)` comes back through the inbox when it is done:
        False when the store has the promise cancelled (nothing written)."""
        previous = self._writes.get(row.id)

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            written = await self._put(row)
            if then is not None:
                self.center.submit(InLoop(functools.partial(then, written)))

        task = self.center.spawn(run(), "callback-write")
        self._writes[row.id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._writes.get(row.id) is done:
                del self._writes[row.id]

        task.add_done_callback(forget)

    async def _put(self, row: Callback) -> bool:
        """The store's write of one step (bounded). False: the store has the promise
        cancelled; a write that fails is kept for the poll and counts as written."""
        if self.store is None:
            return True
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                written = await self.store.put_callback(row)
            self._unsaved.pop(row.id, None)
            if written is not False and row.state == "pending" and row.attempts == 0:  # (a new promise)
                await publish_callback(self.store, row)
        except Exception as exc:  # noqa: BLE001 - kept from memory; the poll writes it again
            self._unsaved[row.id] = row
            log.warning("callback_write_failed", callback_id=row.id, state=row.state, error=type(exc).__name__)
            return True
        return written is not False

    # ------------------------------------------------------------ outside the consumer

    async def restore(self, customer_leg_up: Callable[[str], bool]) -> int:
        """After the first resync of a (re)started process: read the open promises back.
        `customer_leg_up(number)`: does the PBX still have a leg to that number?"""
        if self.store is None:
            return 0
        rows = await self.store.open_callbacks()
        for row in rows:
            self.center.submit(InLoop(functools.partial(self._restore_row, row, customer_leg_up(row.number))))
        return len(rows)

    async def _restore_row(self, row: Callback, leg_up: bool) -> None:
        c = self.center
        self._rows[row.id] = row
        if row.state == "dialing":
            call_id = attempt_call_id(row, row.attempts)
            state = c.calls.get(call_id)
            self._link(call_id, row.id)
            if state is not None and state.answered:
                # the log (or the resync, since) has the customer connected: the promise was kept
                self._close(call_id, replace(row, state="done", outcome="connected"))
                if not leg_up:
                    await c.on_event(CallEnded(at=c.now(), call_id=call_id, cause_text="ended while Hotline was down"))
                return
            if leg_up and c.dials.pbx_call_of(call_id) != call_id:
                # the PBX is still dialling the customer (followed again since the resync,
                # cti/live_recovery.py): their answer or hang-up keeps or retries the promise
                log.info("callback_dial_followed", callback_id=row.id, call_id=call_id, attempts=row.attempts)
                return
            if leg_up:  # on the PBX, but not a call this process can follow: counted as kept
                self._close(call_id, replace(row, state="done", outcome="connected"))
                return
            if state is not None:  # the dial died with the old process: counted as not answered
                now = c.now()
                await c.on_event(CallAbandoned(at=now, call_id=call_id, queue=state.queue))
                await c.on_event(CallEnded(at=now, call_id=call_id, cause=19, cause_text="call-back not answered"))
            else:
                self._not_answered(call_id, row, "not_answered")
            return
        if row.due_at <= c.clock():
            await self._queue(row.id)

    async def poll(self) -> None:
        """Queue the promises that fall due (scheduled in wrap-up, retries), and write
        again the rows the store refused. Runs as a task of the composition root."""
        if self.store is None:
            return
        while True:
            await asyncio.sleep(self.poll_s)
            for row_id, row in list(self._unsaved.items()):
                if row_id not in self._writes:  # (one in flight writes a later step: it must not be overtaken)
                    self._write(row)
            try:
                # (taken before the read, without the steps not written yet: see _cancelled_of)
                held = set(self._rows) - set(self._unsaved) - set(self._writes)
                still_open = await self.store.open_callbacks()
                cancelled = await self._cancelled_of(held - {row.id for row in still_open})
            except Exception as exc:  # noqa: BLE001 - the store is away: try again at the next poll
                log.warning("callback_poll_failed", error=type(exc).__name__)
                continue
            for row_id in cancelled:
                self.center.submit(InLoop(functools.partial(self._drop_cancelled, row_id)))
            now = self.center.clock()
            for row in still_open:
                if row.state == "pending" and row.due_at < now and row.id not in self._live_of:
                    self.center.submit(InLoop(functools.partial(self._queue_due, row)))

    async def _cancelled_of(self, row_ids: set[str]) -> list[str]:
        """Of the promises this loop holds that the store no longer has open, those
        cancelled (the others this loop closed itself meanwhile)."""
        assert self.store is not None
        found = []
        for row_id in sorted(row_ids):
            try:
                row = await self.store.get_callback(row_id)
            except NotFound:
                continue  # (its first write failed after the snapshot: the poll writes it again)
            if row.state == "cancelled":
                found.append(row_id)
        return found

    async def _drop_cancelled(self, row_id: str) -> None:
        row = self._rows.get(row_id)
        if row is None or row.state != "pending":
            return  # closed by this loop meanwhile, or being dialled (its write was refused first)
        call_id = self._live_of.get(row_id)
        if call_id is None:
            self._rows.pop(row_id, None)
            log.info("callback_cancelled", callback_id=row_id)
            return
        await self._end_cancelled(call_id)

    async def _queue_due(self, row: Callback) -> None:
        known = self._rows.get(row.id)
        if known is not None and known.state != "pending":
            return  # taken further in the loop since the poll read it
        self._rows[row.id] = known or row
        await self._queue(row.id)
