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

from mail.attachments import AttachmentFiles
from mail.config import MailConfig
from mail.imap import ImapPoller
from mail.intake import CustomerByEmail, IntakeDesk, MailIntake
from mail.listener import SmtpListener
from mail.outbox import Outbox, OutboxSender
from mail.store import MailStore

log = structlog.get_logger()


class MailService:
    def __init__(
        self,
        config: MailConfig,
        store: MailStore,
        desk: IntakeDesk,
        customer_by_email: CustomerByEmail,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.store = store
        self.files = AttachmentFiles(config.attachments_dir)
        self.intake = MailIntake(config, store, desk, self.files, customer_by_email, clock)
        self.outbox = Outbox(config, store, clock)
        self.listener = SmtpListener(config, self.intake) if config.listen else None
        self.sender = (
            OutboxSender(config, config.relay, store, self.outbox, desk, clock) if config.relay is not None else None
        )
        self.imap = ImapPoller(config.imap, self.intake) if config.imap is not None else None
        self.bound: tuple[str, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if self.listener is not None:
            self.bound = await self.listener.start()
        loops: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self.sender is not None:
            loops.append(("mail-outbox", self.sender.run))
        if self.imap is not None:
            loops.append(("mail-imap", self.imap.run))
        for name, run in loops:
            self._tasks.append(asyncio.create_task(_logged(name, run), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
