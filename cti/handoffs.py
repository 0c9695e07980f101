"""The IVR's hand-offs from a server that is not the leader, through the store.

Asterisk may connect its FastAGI to any `hotline serve` behind a load balancer; only
the leader runs the live loop. A standby's FastAGI session therefore hands what the
leader's IVR would submit in-process (its steps, the queued call with the caller's
answers, a call-back request) to a row (`store.port.LiveHandOffs`), and the leader
takes the rows (`take_handoffs`, each once) into its live loop's inbox. On PostgreSQL
the row's insert wakes the leader's taker (NOTIFY; it LISTENs), which otherwise polls
only twice a second; elsewhere it polls every 50 ms.

A call-back request is a promise: the standby writes its row itself first (the id the
leader would give it, `cti/live_callbacks.py`), so that it is kept even if no leader
ever takes the hand-off (the leader's poll of the promises finds it due).

Order matters: the leader must know the caller's answers (their language, say) before
the call's hold music reports it waiting, or it routes the call without them. So a
standby's session does not end (the dialplan does not move on to hold) until the
leader took its hand-off (`handed_off`, bounded by `wait_s`: with no leader, a
takeover under way, the next leader takes it when it starts, before its PBX resync).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

import structlog

from cti.live_callbacks import promise_of
from cti.live_items import CallbackRequested, InboxItem, IvrHandOff
from events import CallQueued, Event, IvrStepped, from_record, to_record
from store.models import HandOff
from store.port import Callbacks, HandOffWaker, LiveHandOffs

log = structlog.get_logger()

STEP, QUEUE, CALLBACK = "step", "queue", "callback"


def encode(item: InboxItem) -> tuple[str, str, dict[str, Any]]:
    """(kind, call id, JSON body) of what the IVR submits."""
    if isinstance(item, IvrHandOff):
        return QUEUE, item.event.call_id, to_record(item.event)
    if isinstance(item, CallbackRequested):
        body = asdict(item)
        body["skills"], body["attributes"] = dict(item.skills), dict(item.attributes)
        return CALLBACK, item.call_id, body
    if isinstance(item, IvrStepped):
        return STEP, item.call_id, to_record(item)
    raise TypeError(f"not an IVR hand-off: {type(item).__name__}")


def decode(handoff: HandOff) -> InboxItem:
    """The inbox item a hand-off row stands for (ValueError when it is not one)."""
    body = handoff.body
    if handoff.kind == CALLBACK:
        return CallbackRequested(**body)
    event: Event = from_record(body)
    if handoff.kind == QUEUE and isinstance(event, CallQueued):
        return IvrHandOff(event)
    if handoff.kind == STEP and isinstance(event, IvrStepped):
        return event
    raise ValueError(f"live_handoffs {handoff.id}: kind {handoff.kind!r} with a {type(event).__name__}")


class _Store(LiveHandOffs, Callbacks, Protocol):
    pass


class StoreHandOff:
    """A standby IVR's `submit`: each item a row; a queued call or a call-back waits
    until the leader took it (at most `wait_s`)."""

    def __init__(
        self,
        store: _Store,
        *,
        wait_s: float = 2.0,
        poll_s: float = 0.02,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.clock = clock
        self.handed = 0
        self.unseen = 0  # not taken within wait_s (no leader at the time)
        self.failed = 0

    async def __call__(self, item: InboxItem) -> None:
        kind, call_id, body = encode(item)
        try:
            if isinstance(item, CallbackRequested):  # the promise, before the caller hears it
                await self.store.put_callback(promise_of(item, self.clock(), self.clock()))
            handoff_id = await self.store.put_handoff(kind, call_id, body, self.clock())
        except Exception as exc:  # noqa: BLE001 - the caller still reaches hold: routed without the answers
            self.failed += 1
            log.error("ivr_handoff_failed", call_id=call_id, kind=kind, error=type(exc).__name__)
            return
        self.handed += 1
        if kind == STEP:
            return
        if not await handed_off(self.store, handoff_id, self.wait_s, self.poll_s):
            self.unseen += 1
            log.warning("ivr_handoff_not_taken", call_id=call_id, kind=kind, wait_s=self.wait_s)

    def health(self) -> dict[str, int]:
        return {"handed": self.handed, "not_taken": self.unseen, "failed": self.failed}


async def handed_off(store: LiveHandOffs, handoff_id: int, wait_s: float, poll_s: float = 0.02) -> bool:
    """Until the leader took the hand-off (True) or `wait_s` passed (False)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if await store.handoff_taken(handoff_id):
                return True
        except Exception as exc:  # noqa: BLE001 - as not taken yet
            log.warning("ivr_handoff_unknown", handoff_id=handoff_id, error=type(exc).__name__)
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(poll_s)


TAKE_LIMIT = 100  # hand-offs a take marks at most (more waiting: taken again at once)


async def take_into(store: LiveHandOffs, epoch: int, submit: Callable[[InboxItem], None]) -> int:
    """Take the waiting hand-offs (marked with the leader's `epoch`) into the inbox."""
    taken = await store.take_handoffs(epoch, TAKE_LIMIT)
    for handoff in taken:
        try:
            item = decode(handoff)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("ivr_handoff_unreadable", handoff_id=handoff.id, error=str(exc)[:200])
            continue
        submit(item)
    return len(taken)


async def take_handoffs(
    store: LiveHandOffs,
    epoch: int,
    submit: Callable[[InboxItem], None],
    fence: Callable[[], str | None],
    every_s: float = 0.05,
    woken_every_s: float = 0.5,
) -> None:
    """The leader's task: take hand-offs until cancelled (none once its term ran out:
    the next leader takes them).

    A store that wakes it when a hand-off is kept (PostgreSQL: the standby's insert
    NOTIFYs, the taker LISTENs on a connection of its own) is polled only every
    `woken_every_s` besides (a wake lost on a silent network cut); an idle leader
    polled 20 times a second, an UPDATE each. Otherwise (SQLite, memory), and while
    its listening connection is lost, every `every_s`; a lost one is listened to again
    every `woken_every_s`."""
    wake = asyncio.Event()
    waker: HandOffWaker | None = None
    can_listen, listen_at = True, 0.0
    try:
        while True:
            if can_listen and (waker is None or not waker.alive) and time.monotonic() >= listen_at:
                waker, can_listen = await _listen(store, wake.set, waker)
                listen_at = time.monotonic() + woken_every_s
            wake.clear()  # a hand-off kept from here on wakes the wait below
            taken = 0
            try:
                if fence() is None:
                    taken = await take_into(store, epoch, submit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the store is away: the standbys' callers wait meanwhile
                log.warning("ivr_handoffs_unreadable", error=type(exc).__name__)
            if taken >= TAKE_LIMIT:
                continue  # more may be waiting
            try:
                async with asyncio.timeout(woken_every_s if waker is not None and waker.alive else every_s):
                    await wake.wait()
            except TimeoutError:
                pass
    finally:
        if waker is not None:
            waker.close()


async def _listen(
    store: LiveHandOffs, wake: Callable[[], None], old: HandOffWaker | None
) -> tuple[HandOffWaker | None, bool]:
    """(the store's waker or None, whether to try again later)."""
    if old is not None:
        old.close()
    try:
        waker = await store.listen_handoffs(wake)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - polled every every_s meanwhile
        log.warning("ivr_handoffs_not_listening", error=type(exc).__name__)
        return None, True
    return waker, waker is not None
