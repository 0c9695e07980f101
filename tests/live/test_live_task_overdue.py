"""An e-mail past its due time escalates (issue 18), through the live loop's router on
the PBX emulator with a real store: the queue's first target lasts until the task is
due (`until_due`), the next one raises its priority, as targets over time escalate a
waiting call; so the overdue e-mail is offered ahead of a higher-priority one still in
time, and the channel board and report count it as overdue."""

from __future__ import annotations

from pathlib import Path

from reports.channels import board, channel_report
from tasks.desk import TaskDesk
from tests.live.harness import live_center
from tests.live.test_live_task_channels import BOB, until_row

ROUTING = {
    "defaults": {"wrap_up_s": 1},
    "capacity": {"default": {"combos": [{"voice": 1}, {"email": 1}]}},
    "queues": {
        "email": {
            "targets": [
                {"name": "in time", "expression": "skills.support > 0", "until_due": True},
                {"name": "overdue", "expression": "skills.support > 0", "priority": 9},
            ]
        }
    },
}


async def test_an_overdue_email_is_offered_ahead_of_a_higher_priority_one_in_time(tmp_path: Path) -> None:
    async with live_center(tmp_path, routing=ROUTING, agents=[BOB]) as h:
        clock = h.emulator.pbx.now
        desk = TaskDesk(h.store, h.bus, clock)
        late = await desk.open(channel="email", queue="email", subject="Due soon", due_s=30, task_id="late")
        vip = await desk.open(channel="email", queue="email", subject="VIP", due_s=8 * 3600, priority=5, task_id="vip")
        await h.wait_for(lambda: h.center.task_routing.held("late") == "waiting")
        await h.wait_for(lambda: h.center.task_routing.held("vip") == "waiting")
        due_at = late.due_at
        assert due_at is not None
        await h.wait_for(lambda: clock() > due_at + 1, timeout=15)  # (10x: 3 s)

        rows = await h.store.open_tasks()
        assert board(rows, clock())["email"]["overdue"] == 1
        report = channel_report(rows, [], 0, 1e12, now=clock())
        assert report["channels"]["email"]["overdue"] == 1 and report["channels"]["chat"]["overdue"] == 0

        await h.command("bob", "available")
        taken = await until_row(h, "late", "assigned")
        assert taken.agent_id == "bob"
        await h.center.wait_idle()
        assert (await h.store.get_task(vip.task_id)).state == "waiting"  # one e-mail at a time
        await desk.add_message("late", direction="out", author="bob", text="Sorry for the wait.")
        await desk.close("late", by="bob", disposition="answered")
        assert (await until_row(h, "vip", "assigned")).agent_id == "bob"
        rows = await h.store.tasks_between(0, 1e12)
        report = channel_report(rows, [], 0, 1e12, now=clock())
        assert report["channels"]["email"]["overdue"] == 1  # answered after its due time: still counted
