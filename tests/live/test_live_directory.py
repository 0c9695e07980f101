"""The agent directory followed live: an agent the admin adds, edits or removes while
the server runs is routed to (or not) without a restart."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from cti.live_items import DirectoryChanged
from cti.live_root import directory_watch
from events import AgentLoggedOut, CallConnected, CallOffered, CallQueued
from tests.live.harness import AGENTS, live_center

CAROL = AGENTS[0].__class__(
    login="carol", display_name="Carol", skills={"billing": 9}, phone_endpoint="Local/2003@agents"
)


async def _directory_now(h) -> None:
    h.center.submit(DirectoryChanged(tuple(await h.store.list_users("agent"))))
    await h.center.wait_idle()


async def _offers(h) -> list[CallOffered]:
    await h.wait_for(lambda: h.eventlog.backlog == 0)
    return [s.event for s in await h.store.events_between(0, 1e12) if isinstance(s.event, CallOffered)]


async def test_an_agent_added_while_running_logs_in_and_takes_calls(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        assert h.center.router.agent_state("carol") is None
        await h.store.put_user(CAROL)
        await _directory_now(h)
        assert h.center.router.agent_state("carol") == "logged_out"
        await h.command("carol", "available")
        await h.center.wait_idle()
        assert h.center.router.agent_state("carol") == "available"
        await h.caller("Dan", "5554567", talk_s=2)
        await h.wait_for(lambda: h.center.stats.calls_answered == 1)
        assert [e.agent_id for e in h.events if isinstance(e, CallConnected)] == ["2003"]  # carol's phone
        assert [o.agent_id for o in await _offers(h)] == ["carol"]


async def test_edited_skills_apply_at_once_and_a_waiting_call_is_offered(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        bob = next(u for u in AGENTS if u.login == "bob")
        await h.store.put_user(replace(bob, skills={"support": 6}))  # no billing any more
        await _directory_now(h)
        await h.command("bob", "available")
        await h.caller("Erin", "5555678", talk_s=2, patience_s=60)
        await h.wait_for(lambda: any(isinstance(e, CallQueued) for e in h.events))
        await h.center.wait_idle()
        assert await _offers(h) == []  # the billing call waits: nobody available has billing
        await h.store.put_user(replace(bob, skills={"billing": 5, "support": 6}))
        await _directory_now(h)  # bob, available, now has billing: he gets the waiting call
        await h.wait_for(lambda: h.center.stats.calls_answered == 1)
        assert [o.agent_id for o in await _offers(h)] == ["bob"]
        assert h.center.router.agent_info("bob") is not None


async def test_an_agent_removed_from_the_directory_is_logged_out(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        await h.command("alice", "available")
        await h.center.wait_idle()
        alice = next(u for u in AGENTS if u.login == "alice")
        await h.store.put_user(replace(alice, role="supervisor"))
        await _directory_now(h)
        assert h.center.router.agent_state("alice") is None
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        logged_out = [s.event for s in await h.store.events_between(0, 1e12) if isinstance(s.event, AgentLoggedOut)]
        assert [e.agent_id for e in logged_out] == ["alice"]


async def test_a_change_no_message_announced_is_found_by_the_periodic_check(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        watch = asyncio.create_task(directory_watch(h.store, h.center, await h.store.list_users("agent"), every_s=0.05))
        try:
            await h.store.put_user(CAROL)  # e.g. `hotline user add` from another process
            await h.wait_for(lambda: h.center.router.agent_state("carol") == "logged_out", timeout=5)
        finally:
            watch.cancel()
