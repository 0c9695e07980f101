"""The agents' replies, sent through the relay from a durable outbox.

`Outbox.enqueue_reply` turns an outbound task message (the desktop's reply, written
through the seam's `add_message(direction="out")`) into one outbox row, keyed by the
message's id (enqueuing twice changes nothing). The row fixes everything the mail will
carry before the first attempt: To (the customer's address on the thread's last
received mail), `Re:` subject, In-Reply-To (that mail's Message-ID), References (the
thread's ids, oldest first) and its own Message-ID, which is also recorded on the
thread so the customer's answer to the reply joins the same task.

`OutboxSender` claims due rows (mail/store.py: one claimer per row, with a lease),
sends each with aiosmtplib, and marks it sent; a refusal or an unreachable relay is
retried with a doubling wait, and after `send_attempts` the row is `failed` and a note
on the task says so.

Exactly once, and its one edge: a server that dies after the relay accepted the mail
and before `mark_sent` committed leaves the row `sending`; when its lease runs out
(`lease_s`: longer than a send can last) the row is sent again. That second copy
carries the same Message-ID, which receiving systems and mail clients use to drop
duplicates, so the customer sees one reply, but the relay did carry it twice
(at-least-once on the wire, once in the thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
import structlog

from cti.bounded import raise_if_cancelled
from mail.config import MailConfig, RelayConfig
from mail.parse import reply_subject
from mail.store import MailStore, OutboxMail, ThreadMail
from tasks.desk import TaskDesk

log = structlog.get_logger()

LEASE_S = 120.0  # a claimed row is retried after this long if its sender vanished (at least)
MAX_REFS = 20
MAX_RETRY_S = 3600.0


class Unthreaded(ValueError):
    """An outbound message on a task with no received mail to answer."""


def reply_message_id(message_id: str, address: str) -> str:
    """A reply's Message-ID: from the task message's id (any characters) as RFC 5322's
    dot-atom, at our address's domain; the same for the same message."""
    digest = hashlib.sha256(message_id.encode()).hexdigest()[:32]
    return f"<{digest}@{address.rpartition('@')[2] or 'hotline.invalid'}>"


class Outbox:
    def __init__(self, config: MailConfig, store: MailStore, clock: Callable[[], float]) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.wake = asyncio.Event()

    async def enqueue_reply(self, task_id: str, message_id: str, text: str) -> OutboxMail:
        """The reply's outbox row (made once; the existing row on a repeat)."""
        existing = await self.store.outbox_row(message_id)
        if existing is not None:
            return existing
        mails = await self.store.thread_mails(task_id)
        received = [m for m in mails if m.direction == "in" and m.address]
        if not received:
            raise Unthreaded(f"task {task_id!r} has no received e-mail to answer")
        last, first = received[-1], received[0]
        refs = [m.message_id for m in mails if m.at <= last.at][-MAX_REFS:]
        now = self.clock()
        row = OutboxMail(
            id=message_id,
            task_id=task_id,
            message_id=reply_message_id(message_id, self.config.address),
            mail_from=self.config.address,
            rcpt=last.address,
            subject=reply_subject(first.subject or "(no subject)"),
            in_reply_to=last.message_id,
            refs=" ".join(refs),
            body=text,
            state="queued",
            attempts=0,
            next_at=now,
            created_at=now,
        )
        # The thread row first: the customer's answer finds the task even if this
        # process stops before the outbox row is in (the reply is then enqueued again).
        await self.store.add_thread_mail(ThreadMail(row.message_id, task_id, "out", row.rcpt, row.subject, now))
        if not await self.store.enqueue(row):
            found = await self.store.outbox_row(message_id)
            assert found is not None
            return found
        log.info("mail_reply_queued", task_id=task_id, row=row.id, rcpt=row.rcpt)
        self.wake.set()
        return row


def build_email(row: OutboxMail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = row.mail_from
    msg["To"] = row.rcpt
    msg["Subject"] = row.subject
    msg["Message-ID"] = row.message_id
    msg["Date"] = formatdate(row.created_at, localtime=False)
    if row.in_reply_to:
        msg["In-Reply-To"] = row.in_reply_to
    if row.refs:
        msg["References"] = row.refs
    msg["Auto-Submitted"] = "no"  # an agent wrote it (RFC 3834): an auto-responder may answer
    msg.set_content(row.body)
    return msg


class OutboxSender:
    def __init__(
        self,
        config: MailConfig,
        relay: RelayConfig,
        store: MailStore,
        outbox: Outbox,
        desk: TaskDesk,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.relay = relay
        self.store = store
        self.outbox = outbox
        self.desk = desk
        self.clock = clock
        # longer than a send can take (each SMTP step may wait timeout_s): a live sender's
        # row is never claimed by another
        self.lease_s = max(LEASE_S, 4 * relay.timeout_s)

    async def run(self) -> None:
        """Send what is due, then wait for a new reply or the next poll; forever."""
        while True:
            try:
                await self.send_due()
            except Exception:
                log.exception("mail_outbox_error")
            raise_if_cancelled()  # (a cancel during a send may have been swallowed: MailService.stop waits)
            self.outbox.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.wake.wait(), timeout=self.config.outbox_poll_s)

    async def send_due(self) -> int:
        sent = 0
        for row in await self.store.claim_due(self.clock(), self.lease_s):
            sent += await self._send(row)
        return sent

    async def _send(self, row: OutboxMail) -> int:
        r = self.relay
        try:
            await aiosmtplib.send(
                build_email(row),
                hostname=r.host,
                port=r.port,
                username=r.username or None,
                password=r.password.get_secret_value() or None,
                use_tls=r.security == "tls",
                start_tls=True if r.security == "starttls" else False,
                timeout=r.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            failed = row.attempts >= self.config.send_attempts
            wait = min(MAX_RETRY_S, self.config.retry_s * 2 ** (row.attempts - 1))
            error = f"{type(exc).__name__}: {exc}"
            await self.store.mark_retry(row.id, self.clock() + wait, error, failed=failed)
            log.warning("mail_send_failed", row=row.id, attempt=row.attempts, failed=failed, error=error)
            if failed:
                await self.desk.add_message(
                    row.task_id,
                    direction="note",
                    author="mail",
                    text=f"The reply to {row.rcpt} could not be sent after {row.attempts} attempts: {error}",
                    meta={"outbox_id": row.id, "failed": True},
                )
            return 0
        await self.store.mark_sent(row.id, self.clock())
        log.info("mail_sent", row=row.id, task_id=row.task_id, rcpt=row.rcpt, message_id=row.message_id)
        return 1
