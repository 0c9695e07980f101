"""Helpers for the web tests, reusable by the live-loop tests (issue 7).

`BusCallDriver` plays domain events the way the live loop publishes them: each is
appended to the store's event log, then published on the bus `events` channel
(notes/live-contract.md). The web tests use it only for what reads events (screen-pop
lookups, the wallboard, reports); nothing stands in for the live loop's command side:
tests that send agent commands run the real live loop on the PBX emulator
(`center`, tests/live/test_live_commands.py) with real calls.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp.test_utils import TestClient

from events import (
    AgentLoggedIn,
    AgentStateChanged,
    CallArrived,
    CallConnected,
    CallEnded,
    CallOffered,
    CallQueued,
    Event,
    to_record,
)
from store.bus import Bus
from store.models import Customer, Interaction, User
from store.sql import SqlStore

PASSWORD = "correct horse battery"
_HASH: list[str] = []


def password_hash() -> str:
    """argon2id with light parameters (the hash carries them, so verifying is light too):
    keeps the many test logins fast; production hashes use the library defaults."""
    if not _HASH:
        from argon2 import PasswordHasher

        _HASH.append(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD))
    return _HASH[0]


async def seed_users(store: SqlStore) -> None:
    """agent01 + agent03 (team-a), agent02 (team-b), sup (supervisor of team-a), admin."""
    h = password_hash()
    for user in (
        User("agent01", "Ada Agent", "agent", h, "team-a", {"billing": 7, "support": 5}, ("en",), "Local/2001@agents"),
        User("agent02", "Bob Agent", "agent", h, "team-b", {"sales": 6}, ("en", "es"), "Local/2002@agents"),
        User("agent03", "Cy Agent", "agent", h, "team-a", {"support": 4}, ("en",), "Local/2003@agents"),
        User("sup", "Sue Supervisor", "supervisor", h, "team-a"),
        User("admin", "Al Admin", "admin", h),
    ):
        await store.put_user(user)


CUSTOMER = Customer(
    id="C0000042",
    name="Grace Hopper",
    company="Navy Computing",
    tier="vip",
    phones=("+14155550142",),
    email="grace@example.com",
    account_number="10000042",
    notes="prefers email follow-ups",
)


async def seed_customer(store: SqlStore, now: float) -> Customer:
    await store.put_customer(CUSTOMER)
    await store.put_interaction(
        Interaction(
            id="H-old-1",
            queue="billing",
            agent_id="agent07",
            customer_id=CUSTOMER.id,
            caller=CUSTOMER.phones[0],
            started_at=now - 86400,
            answered_at=now - 86390,
            ended_at=now - 86200,
            outcome="answered",
            disposition="resolved",
            notes="refunded the late fee",
        )
    )
    return CUSTOMER


class CallDriver(Protocol):
    async def offer(self, call_id: str, caller: str, queue: str, agent_id: str, **attributes: Any) -> None: ...
    async def connect(self, call_id: str, agent_id: str, queue: str) -> None: ...
    async def end(self, call_id: str) -> None: ...


@dataclass
class BusCallDriver:
    """Publishes domain events as the live loop does: append to the log, then publish."""

    store: SqlStore
    bus: Bus
    clock: Any = time.time
    published: list[Event] = field(default_factory=list)

    async def emit(self, event: Event) -> None:
        await self.store.append(event)
        await self.bus.publish("events", to_record(event))
        self.published.append(event)

    async def agent_ready(self, agent_id: str) -> None:
        await self.emit(AgentLoggedIn(self.clock(), agent_id))
        await self.emit(AgentStateChanged(self.clock(), agent_id, "available"))

    async def arrive(self, call_id: str, caller: str, queue: str, **attributes: Any) -> None:
        now = self.clock()
        await self.emit(CallArrived(now - 12, call_id, caller=caller))
        await self.emit(
            CallQueued(
                now - 10,
                call_id,
                queue=queue,
                skills={queue: 3},
                priority=1,
                customer_id=str(attributes.pop("customer_id", "")),
                attributes=attributes,
            )
        )

    async def offer(self, call_id: str, caller: str, queue: str, agent_id: str, **attributes: Any) -> None:
        await self.arrive(call_id, caller, queue, **attributes)
        await self.emit(
            CallOffered(self.clock(), call_id, agent_id, queue, reason=f"longest idle agent with {queue} >= 3")
        )

    async def connect(self, call_id: str, agent_id: str, queue: str) -> None:
        await self.emit(CallConnected(self.clock(), call_id, agent_id, queue))

    async def end(self, call_id: str) -> None:
        await self.emit(CallEnded(self.clock(), call_id, hung_up_by="caller"))


async def login(client: TestClient, user: str, password: str = PASSWORD) -> str:
    """Log a TestClient in through the form (with its CSRF token); returns the session's CSRF token."""
    page = await asyncio.wait_for(client.get("/login"), 5)
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert token, "login page has no CSRF token"
    r = await asyncio.wait_for(
        client.post(
            "/login", data={"login": user, "password": password, "csrf_token": token.group(1)}, allow_redirects=False
        ),
        10,
    )
    assert r.status == 302, await r.text()
    me = await asyncio.wait_for(client.get("/api/v1/me"), 5)
    return (await me.json())["csrf"]


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    """Poll an async or sync predicate on the loop (no sleeps of fixed length in assertions)."""

    async def loop() -> None:
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(loop(), timeout)


def busy_hour_events(now: float, agents: int = 40, calls: int = 100, waiting: int = 10) -> list[Event]:
    """A plausible busy hour, in time order: agents log in, calls queue every 30 s, most
    are answered after a varied wait (some abandon), talk, wrap up; the last `waiting`
    calls are still queued at `now`. Agents are named agent01..agentNN."""
    from events import CallAbandoned, WrapUpEnded

    out: list[Event] = []
    for i in range(1, agents + 1):
        out.append(AgentLoggedIn(now - 3500 + i, f"agent{i:02d}"))
        if i % 13 == 0:
            out.append(AgentStateChanged(now - 1200 + i, f"agent{i:02d}", "paused", "lunch"))
    queues = ("billing", "support", "sales")
    busy = agents - agents // 13
    first = now - 30 * (calls - waiting) - 200
    for i in range(calls):
        t0 = first + i * 30 if i < calls - waiting else now - 15 * (calls - i)
        cid, q = f"L{i:03d}", queues[i % 3]
        out.append(CallArrived(t0 - 3, cid, caller=f"+1415555{i:04d}"))
        out.append(CallQueued(t0, cid, queue=q, skills={q: 3}))
        if i >= calls - waiting:
            continue
        wait = (i * 7) % 45 + (25 if q == "sales" else 0)
        if i % 9 == 4:
            out.append(CallAbandoned(t0 + wait, cid, q))
            continue
        n = i % busy + 1
        agent = f"agent{n + n // 13:02d}" if n + n // 13 <= agents else f"agent{n:02d}"
        talk = 150 + (i * 37) % 300
        out.append(CallOffered(t0 + wait - 2, cid, agent, q, reason="longest idle"))
        out.append(CallConnected(t0 + wait, cid, agent, q))
        if t0 + wait + talk < now:
            out.append(CallEnded(t0 + wait + talk, cid))
            if t0 + wait + talk + 25 < now:
                out.append(WrapUpEnded(t0 + wait + talk + 25, cid, agent, "resolved"))
    return sorted(out, key=lambda e: e.at)
