"""Written tasks through the live loop (issue 18), on the PBX emulator and a real store:
an agent on a call is offered an e-mail when the capacity rules allow it and not a chat
when they forbid it; a restart of the leader keeps every open task, none twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from events import CallConnected
from sim.rig import Rig
from store.models import User
from store.topics import subscribe, task_topic
from tasks.desk import TaskDesk
from tests.live.harness import live_center

BOB = User(login="bob", display_name="Bob", skills={"billing": 4, "support": 6}, phone_endpoint="Local/2002@agents")
ROUTING = {
    "defaults": {"wrap_up_s": 1},
    "rona": {"ring_timeout_s": 15, "max_misses": 1},
    # one call and one e-mail at once, or two chats: never a chat beside a call
    "capacity": {"default": {"combos": [{"voice": 1, "email": 1}, {"chat": 2}]}},
    "queues": {"support": {"targets": [{"expression": "skills.support > 0"}]}},
}


async def state_of(h: Rig, task_id: str) -> tuple[str, str | None]:
    row = await h.store.get_task(task_id)
    return row.state, row.agent_id


async def until_state(h: Rig, task_id: str, state: str, timeout: float = 10.0) -> None:
    async def check() -> bool:
        return (await h.store.get_task(task_id)).state == state

    import asyncio

    async def poll() -> None:
        while not await check():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def test_an_agent_on_a_call_gets_an_email_not_a_chat_and_a_restart_keeps_both(tmp_path: Path) -> None:
    async with live_center(tmp_path, routing=ROUTING, agents=[BOB]) as h:
        desk = TaskDesk(h.store, h.bus, h.emulator.pbx.now)  # a desk as any server process has one
        await h.command("bob", "available")
        await h.caller("Carol", "5552222", talk_s=600)  # a long call
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=15)
        assert h.center.router.agent_load("bob") == {"voice": 1}

        email = await desk.open(channel="email", queue="support", subject="Invoice", due_s=3600)
        await until_state(h, email.task_id, "assigned")
        assert await state_of(h, email.task_id) == ("assigned", "bob")  # allowed: {voice = 1, email = 1}
        await h.wait_for(lambda: h.center.router.agent_load("bob") == {"voice": 1, "email": 1})

        async with subscribe(h.bus, task_topic("chat-1")) as heard:
            chat = await desk.open(channel="chat", queue="support", subject="Hello", task_id="chat-1")
            await h.wait_for(lambda: h.center.task_routing.held(chat.task_id) == "waiting")
            await h.center.wait_idle()
            assert await state_of(h, chat.task_id) == ("waiting", None)  # forbidden beside a call
            assert (await desk.status(chat.task_id)).position == 1
            note = await asyncio.wait_for(heard.get(), 5)
            while note.kind != "position":  # (the desk's "opened" first, then the leader's poll)
                note = await asyncio.wait_for(heard.get(), 5)
            assert note.position == 1

        # the leader restarts: the e-mail is bob's again (one slot), the chat still waits
        await h.kill_center()
        await h.start_center([BOB], ROUTING)
        await h.wait_for(lambda: h.center.task_routing.held(email.task_id) == "assigned")
        await h.wait_for(lambda: h.center.task_routing.held(chat.task_id) == "waiting")
        await h.center.wait_idle()
        assert h.center.router.agent_load("bob").get("email") == 1
        assert await state_of(h, chat.task_id) == ("waiting", None)

        # the e-mail answered and closed: still on the call, so the chat still waits
        await desk.add_message(email.task_id, direction="out", author="bob", text="Here it is")
        await desk.close(email.task_id, by="bob", disposition="answered")
        await h.wait_for(lambda: h.center.task_routing.held(email.task_id) is None)
        await h.center.wait_idle()
        assert await state_of(h, chat.task_id) == ("waiting", None)
        assert h.center.task_routing.assigned == 0  # (nothing assigned by this leader yet)

        # the call ends (and its wrap-up): now the chat fits, and goes to bob once
        [call_id] = {e.call_id for e in h.events if isinstance(e, CallConnected)}
        await h.command("bob", "hangup", call_id=call_id)
        await until_state(h, chat.task_id, "assigned")
        assert await state_of(h, chat.task_id) == ("assigned", "bob")
        await h.wait_for(lambda: h.center.router.agent_load("bob") == {"chat": 1})
        assert h.center.task_routing.assigned == 1


async def test_a_task_opened_on_another_process_is_routed_by_the_leader(
    tmp_path: Path, redis_url: str, redis_namespace: str
) -> None:
    """The desk of another server process (its own store connection and Redis client)
    opens a chat; the leader hears it on Redis, its router gives it to the free agent,
    and the other process's desk sees the assignment on the task's own topic."""
    import asyncio

    from config.schema import StoreConfig
    from store import RedisBus, open_store
    from store.topics import AGENT_VIEWS, subscribe, task_topic

    leader_bus = RedisBus.from_url(redis_url, redis_namespace)
    other_bus = RedisBus.from_url(redis_url, redis_namespace)
    async with live_center(tmp_path, routing=ROUTING, agents=[BOB], bus=leader_bus) as h:
        other_store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/live.sqlite3"))
        try:
            desk = TaskDesk(other_store, other_bus, h.emulator.pbx.now)
            await h.command("bob", "available")
            await h.center.wait_idle()
            async with subscribe(other_bus, task_topic("web-1")) as heard:
                await desk.open(channel="chat", queue="support", task_id="web-1", subject="Hi")
                note = await asyncio.wait_for(heard.get(), 5)
                while note.kind != "assigned":
                    note = await asyncio.wait_for(heard.get(), 5)
            assert (note.agent_id, note.channel) == ("bob", "chat")
            assert (await desk.status("web-1")).agent_id == "bob"
            assert h.center.router.agent_load("bob") == {"chat": 1}
            # closed on the other process: bob is free again at once (the close was the wrap-up)
            await desk.close("web-1", by="bob", disposition="resolved")
            await h.wait_for(lambda: h.center.task_routing.held("web-1") is None)
            await h.center.wait_idle()
            assert h.center.router.agent_state("bob") == "available"
            view = await AGENT_VIEWS.get(leader_bus, "bob")
            assert view is not None and view.state == "available"
        finally:
            await other_store.close()
            await other_bus.close()
    await leader_bus.close()


async def test_a_transfer_to_a_named_agent_moves_the_task_and_frees_the_first(tmp_path: Path) -> None:
    alice = User(login="alice", display_name="Alice", skills={"support": 2}, phone_endpoint="Local/2001@agents")
    async with live_center(tmp_path, routing=ROUTING, agents=[BOB, alice]) as h:
        desk = TaskDesk(h.store, h.bus, h.emulator.pbx.now)
        await h.command("bob", "available")
        await h.center.wait_idle()
        chat = await desk.open(channel="chat", queue="support", subject="Refund")
        await until_state(h, chat.task_id, "assigned")
        assert await state_of(h, chat.task_id) == ("assigned", "bob")
        await h.command("alice", "available")
        await desk.transfer(chat.task_id, agent_id="alice")
        await h.wait_for(lambda: h.center.router.agent_load("alice") == {"chat": 1})
        await h.wait_for(lambda: h.center.task_routing.held(chat.task_id) == "assigned")  # (the row written)
        assert await state_of(h, chat.task_id) == ("assigned", "alice")
        assert h.center.router.agent_load("bob") == {}
        assert h.center.task_routing.assigned == 2  # bob, then alice: once each


async def test_a_task_of_an_agent_logged_out_at_restart_waits_for_them(tmp_path: Path) -> None:
    async with live_center(tmp_path, routing=ROUTING, agents=[BOB]) as h:
        desk = TaskDesk(h.store, h.bus, h.emulator.pbx.now)
        await h.command("bob", "available")
        email = await desk.open(channel="email", queue="support", subject="Contract", due_s=7200)
        await until_state(h, email.task_id, "assigned")
        await h.command("bob", "logout")
        await h.center.wait_idle()
        await h.wait_for(lambda: h.eventlog.backlog == 0)  # (the logout is in the log the restart reads)
        await h.kill_center()
        await h.start_center([BOB], ROUTING)
        await h.wait_for(lambda: h.center.task_routing.held(email.task_id) == "parked")
        assert await state_of(h, email.task_id) == ("assigned", "bob")  # still bob's, not routed again
        await h.command("bob", "available")
        await h.wait_for(lambda: h.center.task_routing.held(email.task_id) == "assigned")
        await h.wait_for(lambda: h.center.router.agent_load("bob") == {"email": 1})
        assert h.center.task_routing.assigned == 0
