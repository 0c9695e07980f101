"""What a `hotline serve` does while another leads the live loop (issue 15: hot standby).

- It follows the event log (cti/log_snapshot.py), so that if it is elected the live
  loop starts from a snapshot and the log's last rows, not a 24-hour replay: the
  takeover costs the PBX resync only.
- It answers FastAGI sessions (Asterisk may connect its AGI to any server behind a
  load balancer): the IVR runs here as on the leader, and what it would hand to the
  live loop goes through the store to the leader (cti/handoffs.py), the caller's
  answers with it.

On election both stop (the live loop's own IVR takes the FastAGI port) and the leader
takes the hand-offs; on deposition they start again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web

from config.schema import HotlineConfig
from cti.agi import AgiServer
from cti.bounded import cancel_within
from cti.handoffs import StoreHandOff, take_handoffs, take_into
from cti.live_items import InboxItem
from cti.live_root import RECOVERY_HORIZON_S, load_live_ivr, start_ivr
from cti.log_snapshot import LogSnapshot
from store.port import Store

log = structlog.get_logger()

IVR_CHECK_S = 5.0  # how often a standby's IVR looks for a new applied version of its flow


class Standby:
    """A non-leader's log follower and FastAGI IVR; `leading(...)` gives the leader's
    hand-off taker."""

    def __init__(
        self,
        config: HotlineConfig,
        store: Store,
        *,
        follow_every_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.follow_every_s = follow_every_s
        self.clock = clock
        self.snapshot = LogSnapshot(RECOVERY_HORIZON_S)
        self.handoff = StoreHandOff(store, clock=clock)
        self.catch_up_s: float | None = None  # the last takeover's read of the log's tail
        self._follow: asyncio.Task[None] | None = None
        self._ivr: AgiServer | None = None
        self._ivr_start: asyncio.Task[None] | None = None
        self._taker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Stand by: follow the log, answer FastAGI sessions."""
        if self.config.bus.url.get_secret_value().startswith("memory"):
            # (the leader hears desktops' wrap-ups and admins' changes made here on the bus)
            log.error("standby_without_shared_bus", hint="several servers need [bus] url on Redis")
        if self._follow is None:
            self._follow = asyncio.create_task(
                self.snapshot.follow(self.store, self.follow_every_s, self.clock), name="log-follow"
            )
        if self.config.ivr is not None and self._ivr_start is None:
            # (a task: the store may be away, and a deposed leader must not wait on it)
            self._ivr_start = asyncio.create_task(self._start_ivr(), name="standby-ivr")

    async def _start_ivr(self) -> None:
        """Start the FastAGI IVR, then follow the admin's applied versions of its flow
        (every `IVR_CHECK_S`: the leader hears of them on the bus, a standby reads)."""
        try:
            flow = await load_live_ivr(self.store, self.config)
            if flow is None:
                return
            version = await self._ivr_version()
            self._ivr, service = await start_ivr(flow, self.config.pbx.agi_bind, self.store, self.handoff, self.clock)
        except Exception as exc:  # noqa: BLE001 - the web still serves; Asterisk reaches another server
            log.error("standby_ivr_not_started", bind=self.config.pbx.agi_bind, error=str(exc)[:200])
            return
        while True:
            await asyncio.sleep(IVR_CHECK_S)
            try:
                now = await self._ivr_version()
                if now != version:
                    new = await load_live_ivr(self.store, self.config)
                    if new is not None:  # the next caller walks the new flow
                        service.flow, version = new, now
                        log.info("ivr_flow_applied", version=now, standby=True)
            except Exception as exc:  # noqa: BLE001 - the store is away: keep the flow we have
                log.warning("standby_ivr_flow_unreadable", error=type(exc).__name__)

    async def _ivr_version(self) -> int:
        stored = await self.store.get_settings_version("ivr")
        return 0 if stored is None else stored.version

    async def stop(self) -> None:
        """Stop standing by (elected, or shutting down)."""
        tasks = [task for task in (self._follow, self._ivr_start) if task is not None]
        await cancel_within(tasks, 0.5)  # (a store call on a silent network cut does not end)
        self._follow = self._ivr_start = None
        ivr, self._ivr = self._ivr, None
        if ivr is not None:
            await ivr.stop()

    async def warm(self) -> None:
        """Read the log once before competing for the lease: a term must not run out
        while its leader reads the day's log (the lease is not renewed meanwhile)."""
        started = time.monotonic()
        try:
            rows = await self.snapshot.read_tail(self.store, self.clock())
        except Exception as exc:  # noqa: BLE001 - then the takeover reads it (as a restart does)
            log.warning("log_snapshot_unreadable", error=type(exc).__name__)
            return
        self.snapshot.prune(self.clock())
        log.info("log_snapshot_loaded", rows=rows, seconds=round(time.monotonic() - started, 2))

    async def snapshot_for_takeover(self) -> LogSnapshot:
        """The snapshot with the log's rows written since the last poll."""
        started = time.monotonic()
        rows = await self.snapshot.catch_up(self.store, self.clock())
        self.catch_up_s = round(time.monotonic() - started, 3)
        log.info("log_snapshot_caught_up", rows=rows, seconds=self.catch_up_s, seq=self.snapshot.last_seq)
        return self.snapshot

    async def lead(self, epoch: int, submit: Callable[[InboxItem], None], fence: Callable[[], str | None]) -> None:
        """As the leader (before the PBX link starts): take the hand-offs waiting, then
        keep taking them."""
        await take_into(self.store, epoch, submit)
        self._taker = asyncio.create_task(take_handoffs(self.store, epoch, submit, fence), name="handoff-taker")

    async def unlead(self) -> None:
        """Stop taking hand-offs. (Not awaited: on a silent network cut its store call
        would not end, and a deposed leader must not wait on it.)"""
        taker, self._taker = self._taker, None
        if taker is not None:
            taker.cancel()

    def health(self) -> dict[str, Any]:
        return {
            "log": self.snapshot.health(self.clock),
            "ivr": self._ivr is not None,
            "handoffs": self.handoff.health(),
            **({"catch_up_s": self.catch_up_s} if self.catch_up_s is not None else {}),
        }


STANDBY = web.AppKey("standby", Standby)
