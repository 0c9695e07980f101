"""Agent commands are kept and answered (issue 14): the web API keeps each command as a
row before it wakes the live loop, and the live loop applies each request id once.

Two processes' worth of Hotline on PostgreSQL and Redis: the web of `hotline serve`
(create_app, no live loop of its own) and the live loop from its composition root on
the PBX emulator (sim/rig.py), which the tests kill and start again as SIGKILL and a
restart would. A command sent while the live loop is down is applied once when it is
back (the agent takes the caller who waited), one that waited too long is refused as
expired, and a request id sent again gets its first answer without being applied twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.schema import StoreConfig
from events import AgentLoggedIn, AgentStateChanged, CallConnected, CallHeld, Event
from sim.rig import DEFAULT_ROUTING, Rig, live_rig
from store import RedisBus, open_bus, open_store
from store.models import AgentCommand, User
from store.port import AgentCommands
from tests.web.conftest import started, web_config
from tests.web.web_helpers import login, seed_users
from web.app import CLOCK, COMMAND_TIMEOUT
from web.commands import COMMANDS_CHANNEL, REPLIES_CHANNEL

ROUTING: dict[str, Any] = {**DEFAULT_ROUTING, "defaults": {"wrap_up_s": 60}}


def wf(coro, t=15):  # type: ignore[no-untyped-def]
    return asyncio.wait_for(coro, t)


@dataclass
class Kept:
    rig: Rig
    web: TestClient
    agents: list[User]
    csrf: str = ""

    async def send(self, action: str, **fields: Any) -> tuple[int, dict[str, Any]]:
        r = await wf(
            self.web.post(
                "/api/v1/agents/agent01/commands",
                json={"action": action, **fields},
                headers={"X-CSRF-Token": self.csrf},
            )
        )
        return r.status, await r.json()

    async def status(self, request_id: str) -> dict[str, Any]:
        r = await wf(self.web.get(f"/api/v1/commands/{request_id}"))
        assert r.status == 200, await r.text()
        return dict(await r.json())

    async def restart(self) -> None:
        await self.rig.start_center(self.agents, ROUTING)

    async def logged(self, kind: type[Event], **match: Any) -> list[Event]:
        await self.rig.wait_for(lambda: self.rig.eventlog.backlog == 0)
        stored = [s.event for s in await self.rig.store.events_between(0, 1e13)]
        return [e for e in stored if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())]

    async def until_logged(self, kind: type[Event], timeout: float = 20.0, **match: Any) -> Event:
        async def poll() -> Event:
            while True:
                found = await self.logged(kind, **match)
                if found:
                    return found[0]
                await asyncio.sleep(0.05)

        return await asyncio.wait_for(poll(), timeout)

    async def waiting_caller(self) -> str:
        """A caller the live loop has queued (nobody available yet)."""
        await self.rig.caller("Caller", "4155550142", patience_s=900, talk_s=900)
        await self.rig.wait_for(lambda: any(s.queued for s in self.rig.center.calls.values()))
        return next(cid for cid, s in self.rig.center.calls.items() if s.queued)


async def _until_answered(store: AgentCommands, request_id: str) -> AgentCommand:
    while (row := await store.get_command(request_id)).state == "pending":
        await asyncio.sleep(0.05)
    return row


@pytest.fixture
async def kept(
    fresh_pg_url: str, redis_url: str, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Kept]:
    import cti.server as server_mod

    monkeypatch.setattr(server_mod, "open_bus", lambda config: open_bus(config, redis_namespace))
    store = await open_store(StoreConfig(url=fresh_pg_url))
    await store.migrate()
    await seed_users(store)
    agents = [u for u in await store.list_users("agent") if u.login == "agent01"]
    bus = RedisBus.from_url(redis_url, redis_namespace)
    try:
        async with live_rig(store, agents, bus=bus, routing=ROUTING) as rig:
            web = await started(web_config(fresh_pg_url, redis_url))
            try:
                web.server.app[COMMAND_TIMEOUT] = 1.0
                k = Kept(rig, web, agents)
                k.csrf = await login(web, "agent01")
                yield k
            finally:
                await wf(web.close(), 20)
    finally:
        await bus.close()
        await store.close()


async def test_a_command_sent_while_the_live_loop_is_down_is_applied_once_when_it_is_back(kept: Kept) -> None:
    call_id = await kept.waiting_caller()
    await kept.rig.kill_center()

    status, reply = await kept.send("available")
    assert status == 202 and reply["state"] == "pending", reply
    assert "kept" in reply["message"] and "applied when the live server is back" in reply["message"]
    request_id = reply["request_id"]
    assert (await kept.status(request_id))["state"] == "pending"
    # the desktop (or a script) tries again with the same id while the loop is still down
    status, again = await kept.send("available", request_id=request_id)
    assert (status, again["request_id"]) == (202, request_id)

    await kept.restart()
    connected = await kept.until_logged(CallConnected, call_id=call_id)
    assert connected.agent_id == "agent01"  # the agent went available and took the waiting caller
    answered = await kept.status(request_id)
    assert (answered["state"], answered["ok"], answered["action"]) == ("applied", True, "available")
    assert answered["answered_at"] >= answered["created_at"]
    assert len(await kept.logged(AgentLoggedIn, agent_id="agent01")) == 1  # applied once
    # and once more with the same id, the loop up: the first answer, nothing applied again
    before = await kept.logged(AgentStateChanged, agent_id="agent01")
    status, repeated = await kept.send("available", request_id=request_id)
    assert (status, repeated) == (200, {"request_id": request_id, "ok": True, "repeated": True})
    await kept.rig.center.wait_idle()
    assert await kept.logged(AgentStateChanged, agent_id="agent01") == before
    assert str(kept.rig.center.router.agent_state("agent01")) == "on_call"


async def test_a_command_that_waited_too_long_for_the_live_loop_is_refused_as_expired(kept: Kept) -> None:
    call_id = await kept.waiting_caller()
    await kept.rig.kill_center()
    app = kept.web.server.app
    app[CLOCK] = lambda: time.time() - 3600  # sent an hour before the loop is back
    status, reply = await kept.send("available", request_id="desk-1:available")
    assert (status, reply["request_id"]) == (202, "desk-1:available")
    app[CLOCK] = time.time

    await kept.restart()
    answered = await kept.status("desk-1:available")
    assert (answered["state"], answered["ok"]) == ("expired", False), answered
    assert "down for longer than 60 s" in answered["error"] and "send it again" in answered["error"]
    assert str(kept.rig.center.router.agent_state("agent01")) != "available"
    assert not await kept.logged(AgentStateChanged, agent_id="agent01", state="available")
    assert kept.rig.center.calls[call_id].queued  # the caller still waits
    # sent again with the same id: the same refusal (a new id applies it)
    status, repeated = await kept.send("available", request_id="desk-1:available")
    assert (status, repeated["ok"], repeated["error"], repeated["repeated"]) == (
        409,
        False,
        answered["error"],
        True,
    )
    status, fresh = await kept.send("available")
    assert (status, fresh["ok"]) == (200, True)
    assert (await kept.until_logged(CallConnected, call_id=call_id)).agent_id == "agent01"


async def test_a_retried_request_id_and_a_duplicate_wake_up_are_applied_once(kept: Kept) -> None:
    call_id = await kept.waiting_caller()
    assert (await kept.send("available"))[0] == 200
    await kept.until_logged(CallConnected, call_id=call_id)

    status, held = await kept.send("hold", call_id=call_id, request_id="hold-1")
    assert (status, held) == (200, {"request_id": "hold-1", "ok": True})
    await kept.until_logged(CallHeld, call_id=call_id)
    assert (await kept.send("resume", call_id=call_id))[0] == 200
    # the hold sent again (a lost answer, a double click): answered, not applied again
    status, again = await kept.send("hold", call_id=call_id, request_id="hold-1")
    assert (status, again) == (200, {"request_id": "hold-1", "ok": True, "repeated": True})
    # the same id for another command is bad input
    status, clash = await kept.send("pause", reason="lunch", request_id="hold-1")
    assert status == 400 and clash["error"].startswith("request_id"), clash
    # a wake-up delivered twice (the bus, a second web process) is answered from the row
    bus = kept.rig.bus
    async with bus.subscribe(REPLIES_CHANNEL) as replies:
        wake = {"agent_id": "agent01", "request_id": "hold-1", "action": "hold", "call_id": call_id}
        await bus.publish(COMMANDS_CHANNEL, wake)
        await bus.publish(COMMANDS_CHANNEL, wake)
        for _ in range(2):
            _, answer = await wf(replies.get())
            assert answer == {"request_id": "hold-1", "ok": True}
    await kept.rig.center.wait_idle()
    assert len(await kept.logged(CallHeld, call_id=call_id)) == 1
    assert not kept.rig.emulator.pbx.channels[kept.rig.center.calls[call_id].channel].moh  # talking, not on hold
    # two wake-ups of a command not applied yet (both on their way at once): applied once
    store = kept.rig.store
    await store.put_command(AgentCommand("hold-2", "agent01", {"action": "hold", "call_id": call_id}, time.time()))
    await asyncio.gather(*(bus.publish(COMMANDS_CHANNEL, {**wake, "request_id": "hold-2"}) for _ in range(2)))
    await wf(_until_answered(store, "hold-2"))
    await kept.rig.center.wait_idle()
    assert len(await kept.logged(CallHeld, call_id=call_id)) == 2  # hold-1's and hold-2's
