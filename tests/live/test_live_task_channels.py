"""Written tasks in the live loop against the voice reports and the event log (issue 18),
on the PBX emulator with a real store:

- a chat-only agent's day leaves the voice report as it is (no reserved / on_call for a
  chat), while the channel report shows the chat, the same from the rows and from the
  task events the leader logged (each once);
- an offered chat waits for the agent's accept; not accepted in time it goes to the next
  agent as a missed call does (the agent paused after rona.max_misses); the offer is in
  the row, so a restarted leader keeps it;
- e-mails sent by a real SMTP client to the listener are offered earliest due first.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from events import (
    AgentStateChanged,
    CallQueued,
    Event,
    TaskAccepted,
    TaskClosed,
    TaskNotAccepted,
    TaskOffered,
    TaskQueued,
)
from mail.config import MailConfig
from mail.intake import email_lookup
from mail.reopen import TaskReopener
from mail.service import MailService
from mail.store import SqlMailStore
from reports.channels import channel_report, tasks_from_events
from reports.kpi import batch_report
from sim.rig import Rig
from store.models import User
from tasks.desk import NotOffered, TaskDesk
from tests.live.harness import live_center

ALICE = User(
    login="alice", display_name="Alice", skills={"billing": 4, "support": 6}, phone_endpoint="Local/2001@agents"
)
BOB = User(login="bob", display_name="Bob", skills={"billing": 4, "support": 6}, phone_endpoint="Local/2002@agents")
QUEUES = {
    "support": {"targets": [{"expression": "skills.support > 0"}]},
    "billing": {"targets": [{"expression": "skills.support > 0"}]},
}


async def until_row(h: Rig, task_id: str, state: str, timeout: float = 15.0) -> Any:
    async def poll() -> Any:
        while (row := await h.store.get_task(task_id)).state != state:
            await asyncio.sleep(0.02)
        return row

    return await asyncio.wait_for(poll(), timeout)


async def logged(h: Rig) -> list[Event]:
    await h.center.wait_idle()
    await asyncio.wait_for(h.eventlog.flushed(), 10)
    return [s.event for s in await h.store.events_between(0, 1e12)]


def of_task(events: list[Event], task_id: str) -> list[Event]:
    return [e for e in events if getattr(e, "task_id", "") == task_id]


async def test_a_chat_only_agents_day_leaves_the_voice_report_unchanged(tmp_path: Path) -> None:
    routing = {
        "defaults": {"wrap_up_s": 1},
        "rona": {"ring_timeout_s": 15, "max_misses": 1},
        # bob takes chats only, alice calls only
        "capacity": {"default": {"combos": [{"voice": 1}]}, "agents": {"bob": {"combos": [{"chat": 2}]}}},
        "queues": QUEUES,
    }
    async with live_center(tmp_path, routing=routing, agents=[ALICE, BOB]) as h:
        desk = TaskDesk(h.store, h.bus, h.emulator.pbx.now)
        await h.command("alice", "available")
        await h.command("bob", "available")
        await h.caller("Carol", "5552222", talk_s=20)
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=15)

        await desk.open(channel="chat", queue="support", subject="Hello", task_id="chat-1")
        row = await until_row(h, "chat-1", "assigned")
        assert row.agent_id == "bob"
        assert h.center.router.agent_state("bob") == "available"  # for calls: a chat is not a call
        await desk.add_message("chat-1", direction="out", author="bob", text="Hi, how can I help?")
        await desk.close("chat-1", by="bob", disposition="resolved")
        await h.wait_for(lambda: h.center.task_routing.held("chat-1") is None)
        # the call ends, and alice's wrap-up
        await h.wait_for(lambda: h.center.stats.calls_answered == 1 and not h.center.calls, timeout=20)
        await h.wait_for(lambda: h.center.router.agent_state("alice") == "available", timeout=20)
        events = await logged(h)
        rows = await h.store.tasks_between(0, 1e12)

    # the voice side: bob never reserved nor on a call; the report counts the call only
    assert {e.state for e in events if isinstance(e, AgentStateChanged) and e.agent_id == "bob"} == {"available"}
    assert not [e for e in events if isinstance(e, CallQueued) and e.call_id.startswith("task:")]
    report = batch_report(events).to_dict()
    bob = report["agents"]["bob"]["total"]
    assert (bob["offers"], bob["handled"], bob["reserved_s"], bob["on_call_s"], bob["occupancy"]) == (0, 0, 0, 0, 0)
    assert bob["available_s"] > 0
    assert (report["overall"]["offered"], report["overall"]["answered"]) == (1, 1)
    assert report["agents"]["alice"]["total"]["handled"] == 1

    # the chat in the log: each step once, with its channel, agent and queue
    steps = of_task(events, "chat-1")
    assert [type(e).__name__ for e in steps] == ["TaskQueued", "TaskOffered", "TaskAccepted", "TaskClosed"]
    assert all(getattr(e, "channel", "") == "chat" for e in steps)
    assert [getattr(e, "agent_id", "") for e in steps[1:]] == ["bob", "bob", "bob"]
    closed = steps[-1]
    assert isinstance(closed, TaskClosed) and (closed.by, closed.disposition, closed.queue) == (
        "bob",
        "resolved",
        "support",
    )

    # the channel report: the chat, the same from the rows and from the events
    end = max(e.at for e in events) + 1
    from_rows = channel_report(rows, [], 0, end, end)["channels"]["chat"]
    from_events = channel_report(tasks_from_events(events), [], 0, end, end)["channels"]["chat"]
    assert from_rows == from_events
    assert (from_rows["offered"], from_rows["answered"], from_rows["abandoned"]) == (1, 1, 0)
    assert from_rows["first_response_s"] is not None and from_rows["handle_s"] is not None


ACCEPT_ROUTING = {
    "defaults": {"wrap_up_s": 1},
    "rona": {"ring_timeout_s": 15, "max_misses": 1, "accept_s": {"chat": 60}},
    "capacity": {"default": {"combos": [{"voice": 1}, {"chat": 2}]}},
    "queues": QUEUES,
}


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_an_offered_chat_not_accepted_goes_to_the_next_agent_and_a_restart_keeps_the_offer(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("fresh_pg_url") if store == "postgresql" else None
    async with live_center(tmp_path, routing=ACCEPT_ROUTING, agents=[ALICE, BOB], store_url=url) as h:
        desk = TaskDesk(h.store, h.bus, h.emulator.pbx.now)
        await h.command("alice", "available")
        await h.command("bob", "available")
        await h.center.wait_idle()
        await desk.open(channel="chat", queue="support", subject="Refund", task_id="chat-2")
        first = await until_row(h, "chat-2", "offered")
        missed_by = first.agent_id
        assert missed_by in ("alice", "bob")
        other = "bob" if missed_by == "alice" else "alice"
        assert h.center.router.agent_load(missed_by) == {"chat": 1}  # reserved for it meanwhile
        await asyncio.sleep(0.3)
        assert (await h.store.get_task("chat-2")).state == "offered"  # not taken without the accept

        # 60 s without an accept: to the other agent; the first one missed it (paused: max_misses 1)
        async def offered_to_other() -> None:
            while (r := await h.store.get_task("chat-2")).state != "offered" or r.agent_id != other:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(offered_to_other(), 20)
        await h.wait_for(lambda: h.center.router.agent_state(missed_by) == "paused")
        assert (h.center.router.agent_info(missed_by) or {})["pause_reason"] == "rona"
        with pytest.raises(NotOffered):
            await desk.accept("chat-2", missed_by)

        # the leader restarts: the offer is in the row, still the other agent's
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        await h.kill_center()
        await h.start_center([ALICE, BOB], ACCEPT_ROUTING)
        await h.wait_for(lambda: h.center.task_routing.held("chat-2") == "offered")
        assert (await h.store.get_task("chat-2")).agent_id == other
        await desk.accept("chat-2", other)
        await h.wait_for(lambda: h.center.task_routing.held("chat-2") == "assigned")
        assert (await h.store.get_task("chat-2")).state == "assigned"
        assert h.center.router.agent_load(other) == {"chat": 1}
        assert h.center.router.agent_load(missed_by) == {}
        events = await logged(h)

    steps = of_task(events, "chat-2")
    assert [type(e).__name__ for e in steps] == [
        "TaskQueued",
        "TaskOffered",
        "TaskNotAccepted",
        "TaskOffered",
        "TaskAccepted",
    ]
    assert [e.agent_id for e in steps if isinstance(e, TaskOffered | TaskNotAccepted | TaskAccepted)] == [
        missed_by,
        missed_by,
        other,
        other,
    ]
    assert isinstance(steps[0], TaskQueued) and steps[0].channel == "chat"
    # no voice states for the written task; the miss paused the agent as a missed call does
    states = [(e.agent_id, e.state) for e in events if isinstance(e, AgentStateChanged)]
    assert (missed_by, "paused") in states
    assert not [s for s in states if s[1] in ("reserved", "on_call", "wrap_up")]


async def test_an_agent_logging_out_hands_the_offer_to_the_next_agent_at_once(tmp_path: Path) -> None:
    async with live_center(tmp_path, routing=ACCEPT_ROUTING, agents=[ALICE, BOB]) as h:
        desk = TaskDesk(h.store, h.bus, h.emulator.pbx.now)
        await h.command("alice", "available")
        await h.command("bob", "available")
        await h.center.wait_idle()
        await desk.open(channel="chat", queue="support", subject="Order", task_id="chat-3")
        first = await until_row(h, "chat-3", "offered")
        leaving = first.agent_id or ""
        other = "bob" if leaving == "alice" else "alice"
        await h.command(leaving, "logout")

        async def offered_to_other() -> None:
            while (r := await h.store.get_task("chat-3")).state != "offered" or r.agent_id != other:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(offered_to_other(), 3)  # not after the 60 s (6 s here) accept time
        await desk.accept("chat-3", other)
        await h.wait_for(lambda: h.center.task_routing.held("chat-3") == "assigned")
        events = await logged(h)
    steps = [(type(e).__name__, getattr(e, "agent_id", "")) for e in of_task(events, "chat-3")]
    assert steps == [("TaskQueued", ""), ("TaskOffered", leaving), ("TaskOffered", other), ("TaskAccepted", other)]


def mail(to: str, subject: str, message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ann Lee <ann@customer.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content("Hello,\nplease help.\n")
    return msg


async def test_waiting_emails_are_offered_earliest_due_first(tmp_path: Path) -> None:
    """Two e-mails arrive while no agent is free, the later due first (support: 24 h)
    then the earlier due (billing: 8 h); the agent, free for one e-mail at a time, is
    offered the billing one first."""
    routing = {
        "defaults": {"wrap_up_s": 1},
        "capacity": {"default": {"combos": [{"voice": 1}, {"email": 1}]}},
        "queues": QUEUES,
    }
    async with live_center(tmp_path, routing=routing, agents=[BOB]) as h:
        desk = TaskDesk(h.store, h.bus, h.emulator.pbx.now)
        config = MailConfig(
            address="support@example.com",
            listen="127.0.0.1:0",
            accept_domains=["example.com"],
            queue="support",
            routes={"billing@example.com": "billing"},
            due_hours=24,
            queue_due_hours={"billing": 8},
            attachments_dir=tmp_path / "attachments",
        )
        clock = h.emulator.pbx.now
        service = MailService(
            config,
            SqlMailStore.of(h.store),
            desk,
            h.store,
            TaskReopener(h.store, h.bus, clock),
            email_lookup(h.store),
            clock,
        )
        await service.start()
        try:
            assert service.bound is not None
            port = service.bound[1]
            for msg in (
                mail("support@example.com", "Later due", "<later@customer.test>"),
                mail("billing@example.com", "Earlier due", "<earlier@customer.test>"),
            ):
                await aiosmtplib.send(msg, hostname="127.0.0.1", port=port, timeout=5)
            rows = {t.subject: t for t in await h.store.open_tasks()}
            later, earlier = rows["Later due"], rows["Earlier due"]
            assert later.created_at <= earlier.created_at
            assert earlier.due_at is not None and later.due_at is not None and earlier.due_at < later.due_at
            await h.wait_for(lambda: h.center.task_routing.held(later.task_id) == "waiting")
            await h.wait_for(lambda: h.center.task_routing.held(earlier.task_id) == "waiting")
            assert (await desk.status(earlier.task_id)).position == 1  # the customer's side says so too

            await h.command("bob", "available")
            taken = await until_row(h, earlier.task_id, "assigned")
            assert taken.agent_id == "bob"
            await h.center.wait_idle()
            assert (await h.store.get_task(later.task_id)).state == "waiting"  # one e-mail at a time
            await desk.close(earlier.task_id, by="bob", disposition="answered")
            assert (await until_row(h, later.task_id, "assigned")).agent_id == "bob"
            events = await logged(h)
        finally:
            await service.stop()
    queued = {e.task_id: e for e in events if isinstance(e, TaskQueued)}
    assert queued[earlier.task_id].due_at == earlier.due_at and queued[later.task_id].due_at == later.due_at
    offered = [e.task_id for e in events if isinstance(e, TaskOffered)]
    assert offered == [earlier.task_id, later.task_id]
    assert [e.task_id for e in events if isinstance(e, TaskAccepted)] == offered
