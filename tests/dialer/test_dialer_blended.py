"""Blended pacing (issue 18): the live dialer counts an agent holding chats or e-mails
as its own when their capacity still lets them take a call, and not when it does not
(routing/capacity.py), on the PBX emulator with a real store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sim.rig import Rig
from store.models import User
from tasks.desk import TaskDesk
from tests.dialer.test_dialer_live import blended_rig, in_loop

# all three work the campaign and take chats; their capacity differs
AGENTS = [
    User(login="vera", display_name="Vera", skills={"outbound": 5, "chat": 5}, phone_endpoint="Local/2001@agents"),
    User(login="cleo", display_name="Cleo", skills={"outbound": 5, "chat": 5}, phone_endpoint="Local/2002@agents"),
    User(login="eric", display_name="Eric", skills={"outbound": 5, "chat": 5}, phone_endpoint="Local/2003@agents"),
]
ROUTING = {
    "defaults": {"wrap_up_s": 1},
    "rona": {"ring_timeout_s": 15, "max_misses": 1},
    "capacity": {
        # vera: a call beside up to two chats; cleo: a call, or a chat; eric: chats only
        "default": {"combos": [{"voice": 1, "chat": 2}]},
        "agents": {"cleo": {"combos": [{"voice": 1}, {"chat": 1}]}, "eric": {"combos": [{"chat": 3}]}},
    },
    "queues": {"chats": {"targets": [{"expression": "skills.chat > 0"}]}},
}


async def _now(value: Any) -> Any:
    return value


async def holding(rig: Rig, desk: TaskDesk, task_id: str, agent: str) -> None:
    """A chat for `agent` alone, assigned to them (the router's slot taken)."""
    await desk.open(channel="chat", queue="chats", task_id=task_id, skills={"chat": 1})

    async def assigned() -> None:
        while (row := await rig.store.get_task(task_id)).state != "assigned":
            await asyncio.sleep(0.02)
        assert row.agent_id == agent, row

    await asyncio.wait_for(assigned(), 15)
    await rig.center.wait_idle()


async def test_an_agent_holding_a_chat_counts_for_the_dialer_only_when_voice_still_fits(tmp_path: Path) -> None:
    async with blended_rig(tmp_path, ROUTING, AGENTS, ["busy"] * 6) as (rig, runner):
        desk = TaskDesk(rig.store, rig.bus, rig.emulator.pbx.now)
        await rig.command("cleo", "available")  # (one at a time: each chat to its agent)
        await holding(rig, desk, "chat-cleo", "cleo")
        await rig.command("vera", "available")
        await holding(rig, desk, "chat-vera", "vera")
        await rig.command("eric", "available")
        # a chat nobody can take waits: it is no inbound call to keep an agent for
        await desk.open(channel="chat", queue="chats", task_id="chat-french", skills={"french": 1})
        await rig.wait_for(lambda: rig.center.task_routing.held("chat-french") == "waiting")
        await rig.center.wait_idle()
        assert rig.center.router.agent_load("vera") == {"chat": 1}
        assert rig.center.router.agent_load("cleo") == {"chat": 1}
        snap = await in_loop(rig, lambda: _now(runner.snapshot(rig.emulator.pbx.now())))
        # vera may take a call beside her chat; cleo may not while she holds hers;
        # eric never takes calls
        assert (snap.agents_ready, snap.agents_idle, snap.inbound_waiting) == (1, 1, 0)
        assert await in_loop(rig, runner.tick) == 1  # progressive: one call, for vera
