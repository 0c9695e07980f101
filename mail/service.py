"""E-mail in `hotline serve`: `MailService` owns the listener, the IMAP poller and the
outbox sender of one server process (started and stopped by mail/web.py's cleanup
context). Every server process may run it: the outbox rows are claimed one sender at a
time (mail/store.py), and the listener of each server stores through the same desk."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from cti.bounded import cancel_within
from mail.attachments import AttachmentFiles
from mail.config import MailConfig
from mail.imap import ImapPoller
from mail.intake import CustomerByEmail, MailIntake
from mail.listener import SmtpListener
from mail.outbox import Outbox, OutboxSender, Unthreaded
from mail.reopen import TaskReopener
from mail.store import MailStore
from store.port import TaskRows
from tasks.desk import TaskDesk
from tasks.model import Task, TaskMessage

log = structlog.get_logger()

STOP_WAIT_S = 5.0  # how long stop() waits for its cancelled loops to end


class MailService:
    def __init__(
        self,
        config: MailConfig,
        store: MailStore,
        desk: TaskDesk,
        rows: TaskRows,
        reopener: TaskReopener,
        customer_by_email: CustomerByEmail,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.store = store
        self.files = AttachmentFiles(config.attachments_dir)
        self.intake = MailIntake(config, store, desk, reopener, self.files, customer_by_email, clock)
        self.outbox = Outbox(config, store, clock)
        self.listener = SmtpListener(config, self.intake) if config.listen else None
        self.sender = (
            OutboxSender(config, config.relay, store, self.outbox, desk, clock) if config.relay is not None else None
        )
        self.imap = ImapPoller(config.imap, self.intake, clock) if config.imap is not None else None
        self.desk = desk
        self.rows = rows
        self.bound: tuple[str, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        # (with no relay configured the replies wait in the outbox for one)
        self.desk.on_outbound("email", self._outbound)
        await self.recover()
        if self.listener is not None:
            self.bound = await self.listener.start()
        loops: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self.sender is not None:
            loops.append(("mail-outbox", self.sender.run))
        if self.imap is not None:
            loops.append(("mail-imap", self.imap.run))
        for name, run in loops:
            self._tasks.append(asyncio.create_task(_logged(name, run), name=name))

    async def _outbound(self, task: Task, message: TaskMessage) -> None:
        """The desk's hook for an agent's reply on an e-mail task (stored already): its
        outbox row, before the desk answers the agent (a failure is theirs to see)."""
        await self.outbox.enqueue_reply(task.task_id, message.message_id, message.text)

    async def recover(self) -> int:
        """Replies stored by the desk whose outbox row was not written (the process
        stopped between the two): enqueued now. Open e-mail tasks are looked at."""
        queued = 0
        for task in await self.rows.open_tasks():
            if task.channel != "email":
                continue
            for message in await self.rows.task_messages(task.task_id):
                if message.direction == "out" and await self.store.outbox_row(message.message_id) is None:
                    with contextlib.suppress(Unthreaded):
                        await self.outbox.enqueue_reply(task.task_id, message.message_id, message.text)
                        queued += 1
        if queued:
            log.info("mail_outbox_recovered", queued=queued)
        return queued

    async def stop(self) -> None:
        """Bounded: a loop that does not end at its cancel is left to end in the
        background, and the server stops all the same."""
        left = await cancel_within(self._tasks, STOP_WAIT_S)
        if left:
            log.warning("mail_tasks_left_ending", tasks=left)
        self._tasks.clear()
        if self.listener is not None:
            await self.listener.stop()


async def _logged(name: str, run: Callable[[], Awaitable[Any]]) -> None:
    try:
        await run()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("mail_task_failed", task=name)
        raise
