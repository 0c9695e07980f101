"""A customer's mail to an ended thread (closed, or abandoned) puts its task back in
its queue: the same task (one interaction, one transcript), waiting again with a new
due time. The seam's TaskDesk has no reopen of its own (tasks/desk.py): this does it
the way the desk changes a task, a compare-and-set on the row, then a note on the bus
("opened", as for a new task) for the leader's task loop and the desktops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import structlog

from store.bus import Bus
from store.port import TaskRows
from store.topics import TASK_CHANGES, TaskNote, task_topic
from tasks.model import ENDED_STATES

log = structlog.get_logger()


class TaskReopener:
    def __init__(self, rows: TaskRows, bus: Bus, clock: Callable[[], float]) -> None:
        self.rows = rows
        self.bus = bus
        self.clock = clock

    async def reopen(self, task_id: str, due_s: float) -> bool:
        """Waiting again if it had ended; False when it is open (nothing to do)."""
        task = await self.rows.get_task(task_id)
        if task.is_open:
            return False
        now = self.clock()
        again = replace(
            task,
            state="waiting",
            agent_id=None,
            target_agent=None,
            offered_at=None,
            closed_at=None,
            outcome="",
            due_at=now + due_s,
            updated_at=now,
        )
        if not await self.rows.update_task(again, from_states=ENDED_STATES):
            return False  # reopened meanwhile (another server took the same reply)
        log.info("mail_task_reopened", task_id=task_id, queue=task.queue, was=task.state)
        note = TaskNote("opened", task_id, queue=task.queue, channel=task.channel, reason="customer replied")
        await task_topic(task_id).publish(self.bus, note)
        await TASK_CHANGES.publish(self.bus, note)
        return True
