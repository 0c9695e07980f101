"""Which `hotline serve` runs the live loop: the holder of a lease in the store.

Every process serves the web and the API; the one holding the `live` lease (store's
`LeaderLeases`, on the database's clock) also runs the live loop (AMI, router, dialers,
call-backs, standing lines). The others stand by and claim the lease every `renew_s`:
when the leader dies, is cut off or loses its database, its lease runs out and one of
them takes over (a new term: the epoch grows) and starts the live loop, which restores
itself from the log and the PBX's resync as after a restart.

A leader stops acting by itself: its term ends, on its own clock, `ttl_s` after the
start of its last successful claim (never later than the store's expiry), whether or not
it can reach the store to hear so. `fence()` says so synchronously, and the PBX actions
check it before anything is sent (cti/pbx.py): a deposed leader's action is refused
before it reaches the PBX.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import structlog

from cti.bounded import within
from store.models import Lease
from store.port import LeaderLeases

log = structlog.get_logger()

LIVE_LEASE = "live"
Role = Literal["standby", "leader"]


def holder_id() -> str:
    """This process, as other processes and /healthz name it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Leadership:
    """The lease loop of one process. `on_elected(epoch)` starts the live loop,
    `on_deposed(reason)` kills it; neither runs concurrently with the other."""

    def __init__(
        self,
        store: LeaderLeases,
        *,
        on_elected: Callable[[int], Awaitable[None]],
        on_deposed: Callable[[str], Awaitable[None]],
        ttl_s: float = 3.0,
        renew_s: float = 1.0,
        holder: str | None = None,
        name: str = LIVE_LEASE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < renew_s < ttl_s:
            raise ValueError(f"renew_s ({renew_s}) must be positive and shorter than ttl_s ({ttl_s})")
        self.store = store
        self.name = name
        self.holder = holder or holder_id()
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        self._clock = clock
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self.role: Role = "standby"
        self.epoch = 0  # this process's term while it leads (0: none yet)
        self.leader = ""  # the holder last seen (this one's id while it leads)
        self.leader_epoch = 0
        self.terms = 0
        self.last_error = ""
        self._deadline = 0.0  # while leading: when this term ends on our clock

    def fence(self) -> str | None:
        """None while this process leads; else why it must not act."""
        if self.role != "leader":
            return f"this server is not the leader (the leader is {self.leader or 'unknown'})"
        if self._clock() >= self._deadline:
            return f"the leader's term (epoch {self.epoch}) ran out: its lease could not be renewed"
        return None

    def health(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "epoch": self.epoch if self.role == "leader" else self.leader_epoch,
            "holder": self.holder,
            "leader": self.leader,
            **({"last_error": self.last_error} if self.last_error else {}),
        }

    async def claim_once(self) -> None:
        """One round: claim or renew, then start or stop acting as the answer says."""
        started = self._clock()
        lease: Lease | None = None
        try:
            # (an answer later than this could no longer extend the term it renews)
            # (`within`, not wait_for: on a silent network cut the cancelled claim does not
            # end, and the term must run out on time all the same)
            lease = await within(
                self.store.claim_lease(self.name, self.holder, self.ttl_s), self.ttl_s - self.renew_s, "leader claim"
            )
            self.last_error = ""
        except Exception as exc:  # noqa: BLE001 - the store is away: the term runs out by itself
            self.last_error = type(exc).__name__
            log.warning("leader_claim_failed", error=self.last_error, role=self.role)
        if lease is not None:
            self.leader, self.leader_epoch = lease.holder, lease.epoch
            if lease.held_by(self.holder):
                if self.role == "leader" and lease.epoch != self.epoch:
                    await self._depose(f"the lease changed terms ({self.epoch} -> {lease.epoch})")
                self._deadline = started + self.ttl_s
                if self.role != "leader":
                    await self._elect(lease.epoch)
                return
        if self.role == "leader" and (lease is not None or self._clock() >= self._deadline):
            why = f"{lease.holder} holds the lease" if lease is not None else "the lease could not be renewed"
            await self._depose(why)

    async def run(self) -> None:
        """Claim every `renew_s` until cancelled; a leader also wakes at its deadline."""
        while True:
            round_start = self._clock()
            await self.claim_once()
            wake = round_start + self.renew_s
            if self.role == "leader":
                wake = min(wake, self._deadline)
            await asyncio.sleep(max(0.0, wake - self._clock()))
            if self.role == "leader" and self._clock() >= self._deadline:
                await self._depose("the lease could not be renewed in time")

    async def release(self) -> None:
        """A clean stop: the next claim elsewhere takes over at once."""
        self.role = "standby"
        try:
            await within(self.store.release_lease(self.name, self.holder), self.renew_s, "leader release")
        except Exception as exc:  # noqa: BLE001 - then it runs out by itself
            log.warning("leader_release_failed", error=type(exc).__name__)

    async def _elect(self, epoch: int) -> None:
        self.role, self.epoch, self.terms = "leader", epoch, self.terms + 1
        log.info("leader_elected", holder=self.holder, epoch=epoch)
        # The live loop's start (a cold build for thousands of agents) may take longer
        # than a term: the term is renewed meanwhile, or the new leader would lose it
        # before acting once and every takeover would start over.
        keeper = asyncio.create_task(self._renew_while_starting(epoch), name="leader-renew-at-start")
        try:
            await self._on_elected(epoch)
        except Exception:
            log.exception("leader_start_failed", epoch=epoch)
            await self._depose("the live loop failed to start")
            await self.release()
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _renew_while_starting(self, epoch: int) -> None:
        """Renew this term every `renew_s` until cancelled (the start is done); stop at
        the first answer that is not this term (the claim loop then deposes)."""
        while True:
            await asyncio.sleep(self.renew_s)
            started = self._clock()
            try:
                lease = await within(
                    self.store.claim_lease(self.name, self.holder, self.ttl_s),
                    self.ttl_s - self.renew_s,
                    "leader claim",
                )
            except Exception as exc:  # noqa: BLE001 - the store is away: the term runs out by itself
                self.last_error = type(exc).__name__
                continue
            if not lease.held_by(self.holder) or lease.epoch != epoch:
                return
            self._deadline = started + self.ttl_s

    async def _depose(self, reason: str) -> None:
        if self.role != "leader":
            return
        self.role = "standby"
        log.warning("leader_deposed", holder=self.holder, epoch=self.epoch, reason=reason)
        await self._on_deposed(reason)
