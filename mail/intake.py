"""A received mail -> its thread's task (the seam's `TaskDesk`, tasks/desk.py).

- A mail whose In-Reply-To / References name a known mail (ours or the customer's)
  joins that thread's task as an inbound message; a task that had ended waits in its
  queue again (mail/reopen.py), with a new due time.
- Otherwise a new e-mail task is opened on the queue its recipient routes to, with the
  queue's due time (hours), matched to a customer by the From address. Its task id is
  derived from the Message-ID, so a re-delivery of the same mail (the sender's MTA
  retrying after we crashed before answering 250) opens nothing new.
- Bounces and auto-replies (`ParsedMail.automatic`) never open a task: on a known
  thread they are kept as a note (the agent sees the reply bounced), else dropped.
  Nothing here answers mail automatically, so no loop can start; and our own replies
  coming back (from our address, or with one of our Message-IDs) are dropped.
- Attachments go to disk and a row each before the message is added; one larger than
  `max_attachment_bytes` is left out and named in the message's meta.

Exactly once: the thread row is written first, then the attachments and the message,
each keyed by the Message-ID (the task message's id is derived from it, and the desk's
`add_message` is idempotent on it); a re-delivery finds the row and does the rest
again, which adds nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nh3
import structlog

from mail.attachments import AttachmentFiles, safe_filename
from mail.config import MailConfig
from mail.parse import ParsedMail
from mail.reopen import TaskReopener
from mail.sanitize import sanitize_html
from mail.store import MailStore, StoredAttachment, ThreadMail
from store.port import CustomerDirectory
from tasks.desk import MAX_TEXT, TaskDesk

log = structlog.get_logger()

ATTACHMENT_URL = "/api/v1/mail/attachments/{id}"


CustomerByEmail = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Received:
    task_id: str | None  # None: dropped (an automatic mail on no known thread)
    new_task: bool
    duplicate: bool


def task_id_for(message_id: str) -> str:
    """The task a new thread's first mail opens (the same for a re-delivery)."""
    return "mail-" + hashlib.sha256(message_id.encode()).hexdigest()[:24]


def message_key(message_id: str) -> str:
    """The task message a received mail becomes (the same for a re-delivery)."""
    return "mail-in-" + hashlib.sha256(message_id.encode()).hexdigest()[:24]


class MailIntake:
    def __init__(
        self,
        config: MailConfig,
        store: MailStore,
        desk: TaskDesk,
        reopener: TaskReopener,
        files: AttachmentFiles,
        customer_by_email: CustomerByEmail,
        clock: Callable[[], float],
    ) -> None:
        self.reopener = reopener
        self.config = config
        self.store = store
        self.desk = desk
        self.files = files
        self.customer_by_email = customer_by_email
        self.clock = clock

    async def receive(self, mail: ParsedMail, recipients: list[str]) -> Received:
        now = self.clock()
        if self.config.address and mail.from_address == self.config.address:
            log.info("mail_own_address_dropped", message_id=mail.message_id)  # (our reply, copied back to us)
            return Received(None, False, False)
        thread = await self.store.thread_of((mail.message_id,))
        if thread is not None and await self._ours(thread, mail.message_id):
            log.info("mail_own_reply_dropped", message_id=mail.message_id, task_id=thread)
            return Received(None, False, False)
        if thread is not None:  # a re-delivery: finish what the first delivery began
            task_id = thread
            log.info("mail_duplicate", message_id=mail.message_id, task_id=thread)
        else:
            known = await self.store.thread_of(mail.thread_ids)
            if known is None and mail.automatic:
                log.info("mail_automatic_dropped", message_id=mail.message_id, sender=mail.from_address)
                return Received(None, False, False)
            task_id = known or task_id_for(mail.message_id)
            await self.store.add_thread_mail(
                ThreadMail(mail.message_id, task_id, "in", mail.from_address, mail.subject, now)
            )
        first = task_id == task_id_for(mail.message_id)  # this mail began its thread
        if first:
            await self._open(task_id, mail, recipients)  # (again after a crash: the desk's open is idempotent)
        await self._add(task_id, mail, now)
        if not first:
            await self._reopen(task_id, mail)
        return Received(task_id, first and thread is None, thread is not None)

    async def _open(self, task_id: str, mail: ParsedMail, recipients: list[str]) -> None:
        queue = self.config.queue_for(recipients or list(mail.to))
        customer = await self.customer_by_email(mail.from_address) if mail.from_address else None
        await self.desk.open(
            channel="email",
            queue=queue,
            customer_id=customer,
            subject=mail.subject or "(no subject)",
            attrs={"from": mail.from_address, "from_name": mail.from_name, "message_id": mail.message_id},
            due_s=self.config.due_s(queue),
            task_id=task_id,
        )
        log.info("mail_task_opened", task_id=task_id, queue=queue, customer_id=customer, sender=mail.from_address)

    async def _ours(self, task_id: str, message_id: str) -> bool:
        """Is this one of the replies we sent (it came back: a copy, a relay's loop)?"""
        return any(m.message_id == message_id and m.direction == "out" for m in await self.store.thread_mails(task_id))

    async def _reopen(self, task_id: str, mail: ParsedMail) -> None:
        """A customer's answer to an ended thread puts it back in its queue (a bounce
        or an auto-reply does not)."""
        if not mail.automatic:
            task = await self.desk.get(task_id)
            await self.reopener.reopen(task_id, self.config.due_s(task.queue))

    async def _add(self, task_id: str, mail: ParsedMail, now: float) -> None:
        kept, dropped = await self._attachments(task_id, mail, now)
        cids = {a.content_id: ATTACHMENT_URL.format(id=a.id) for a in kept if a.content_id}
        safe = sanitize_html(mail.html, cids) if mail.html else None
        text = (mail.text or (nh3.clean(mail.html, tags=set()) if mail.html else "")).strip()
        if len(text) > MAX_TEXT:  # (the desk's limit; the whole mail is the HTML or the sender's copy)
            text = text[: MAX_TEXT - 20].rstrip() + "\n[... cut]"
        meta: dict[str, Any] = {
            "message_id": mail.message_id,
            "from": mail.from_address,
            "subject": mail.subject,
            "attachments": [
                {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size} for a in kept
            ],
        }
        if dropped:
            meta["attachments_too_large"] = dropped
        if safe is not None and safe.blocked_images:
            meta["blocked_images"] = safe.blocked_images
        if mail.automatic:
            meta["automatic"] = True
        await self.desk.add_message(
            task_id,
            direction="note" if mail.automatic else "in",
            author=mail.from_address or "(unknown sender)",
            text=text or "(no text)",
            html=safe.html if safe is not None else None,
            meta=meta,
            message_id=message_key(mail.message_id),
        )

    async def _attachments(
        self, task_id: str, mail: ParsedMail, now: float
    ) -> tuple[list[StoredAttachment], list[dict[str, Any]]]:
        kept: list[StoredAttachment] = []
        dropped: list[dict[str, Any]] = []
        for n, part in enumerate(mail.attachments):
            name = safe_filename(part.filename)
            if len(part.data) > self.config.max_attachment_bytes:
                dropped.append({"filename": name, "size": len(part.data)})
                continue
            sha = await self.files.put(part.data)
            att_id = hashlib.sha256(f"{mail.message_id}#{n}".encode()).hexdigest()[:24]
            row = StoredAttachment(
                att_id, task_id, mail.message_id, name, part.content_type, len(part.data), sha, part.content_id, now
            )
            await self.store.add_attachment(row)
            kept.append(row)
        return kept, dropped


def email_lookup(directory: CustomerDirectory) -> CustomerByEmail:
    """The customer whose e-mail address is exactly `address` (case aside), by the
    directory's text search (an address is rare enough to be found in its first page)."""

    async def find(address: str) -> str | None:
        wanted = address.strip().lower()
        for customer in await directory.search_customers(wanted, limit=20):
            if customer.email.strip().lower() == wanted:
                return customer.id
        return None

    return find
