"""The mail rows (migration 0013_mail): threads by Message-ID, the durable outbox, and
the attachments' records. `MailStore` is the port; `SqlMailStore` its adapter over the
SQL store's driver (PostgreSQL and SQLite, one contract suite: tests/contract/
test_contract_mail.py).

The outbox claims a row before sending (`claim_due`: state `sending` with a lease until
`next_at`), so two servers sharing the store never send it both; a server that dies
while sending leaves the row to be retried when the lease runs out (see mail/outbox.py
for the at-least-once edge this leaves and how the fixed Message-ID covers it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from store.drivers import Driver, UniqueViolation
from store.sql import SqlStore

Direction = Literal["in", "out"]
OutboxState = Literal["queued", "sending", "sent", "failed"]


@dataclass(frozen=True, slots=True)
class ThreadMail:
    message_id: str
    task_id: str
    direction: Direction
    address: str  # the customer's: the sender of a received mail, the recipient of a reply
    subject: str
    at: float


@dataclass(frozen=True, slots=True)
class OutboxMail:
    id: str  # the task message's id: one reply, one row
    task_id: str
    message_id: str
    mail_from: str
    rcpt: str
    subject: str
    in_reply_to: str
    refs: str  # space-separated <id>s
    body: str
    state: OutboxState
    attempts: int
    next_at: float
    created_at: float
    sent_at: float | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    id: str
    task_id: str
    message_id: str  # the mail's Message-ID
    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str
    at: float


class MailStore(Protocol):
    async def add_thread_mail(self, mail: ThreadMail) -> bool:
        """Record a mail of a thread; False if its Message-ID was known already."""
        ...

    async def thread_of(self, message_ids: tuple[str, ...]) -> str | None:
        """The task of the first of `message_ids` that is known (nearest first)."""
        ...

    async def thread_mails(self, task_id: str) -> list[ThreadMail]: ...  # oldest first

    async def enqueue(self, mail: OutboxMail) -> bool:
        """Put a reply in the outbox; False (and nothing changed) if its id is there."""
        ...

    async def claim_due(self, now: float, lease_s: float, limit: int = 20) -> list[OutboxMail]:
        """Rows due (queued, or sending with an expired lease), each now `sending`
        until `now + lease_s` with one more attempt counted; only one caller gets a row."""
        ...

    async def mark_sent(self, row_id: str, at: float) -> None: ...
    async def mark_retry(self, row_id: str, next_at: float, error: str, *, failed: bool = False) -> None: ...
    async def outbox_row(self, row_id: str) -> OutboxMail | None: ...
    async def outbox_for(self, task_id: str) -> list[OutboxMail]: ...

    async def outbox_counts(self) -> dict[str, int]:
        """How many rows in each state (only the states that have rows)."""
        ...

    async def add_attachment(self, attachment: StoredAttachment) -> None: ...
    async def attachment(self, attachment_id: str) -> StoredAttachment | None: ...
    async def attachments_of(self, task_id: str) -> list[StoredAttachment]: ...


_THREAD = "message_id, task_id, direction, address, subject, at"
_OUTBOX = (
    "id, task_id, message_id, mail_from, rcpt, subject, in_reply_to, refs, body, state, attempts, next_at,"
    " created_at, sent_at, error"
)
_ATTACHMENT = "id, task_id, message_id, filename, content_type, size, sha256, content_id, at"


def _outbox(row: Mapping[str, Any]) -> OutboxMail:
    values = dict(row)
    values["attempts"] = int(values["attempts"])
    values["next_at"] = float(values["next_at"])
    values["created_at"] = float(values["created_at"])
    values["sent_at"] = None if values["sent_at"] is None else float(values["sent_at"])
    return OutboxMail(**values)


class SqlMailStore:
    """`MailStore` over the SQL store's driver (queries written once, as store/sql.py)."""

    def __init__(self, db: Driver) -> None:
        self._db = db

    @classmethod
    def of(cls, store: SqlStore) -> SqlMailStore:
        # The SQL store's own driver: the mail tables are its migration's (0013), kept
        # out of SqlStore's role ports so the mail rows stay in this room.
        return cls(store._db)

    async def add_thread_mail(self, mail: ThreadMail) -> bool:
        try:
            await self._db.execute(
                f"INSERT INTO mail_threads ({_THREAD}) VALUES ($1, $2, $3, $4, $5, $6)",
                mail.message_id,
                mail.task_id,
                mail.direction,
                mail.address,
                mail.subject,
                float(mail.at),
            )
        except UniqueViolation:
            return False
        return True

    async def thread_of(self, message_ids: tuple[str, ...]) -> str | None:
        if not message_ids:
            return None
        marks = ", ".join(f"${n + 1}" for n in range(len(message_ids)))
        rows = await self._db.fetch(
            f"SELECT message_id, task_id FROM mail_threads WHERE message_id IN ({marks})", *message_ids
        )
        found = {row["message_id"]: row["task_id"] for row in rows}
        return next((found[mid] for mid in message_ids if mid in found), None)

    async def thread_mails(self, task_id: str) -> list[ThreadMail]:
        rows = await self._db.fetch(
            f"SELECT {_THREAD} FROM mail_threads WHERE task_id = $1 ORDER BY at, message_id", task_id
        )
        return [ThreadMail(**{**row, "at": float(row["at"])}) for row in rows]

    async def enqueue(self, mail: OutboxMail) -> bool:
        m = mail
        try:
            await self._db.execute(
                f"INSERT INTO mail_outbox ({_OUTBOX}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
                " $13, $14, $15)",
                m.id,
                m.task_id,
                m.message_id,
                m.mail_from,
                m.rcpt,
                m.subject,
                m.in_reply_to,
                m.refs,
                m.body,
                m.state,
                m.attempts,
                float(m.next_at),
                float(m.created_at),
                m.sent_at,
                m.error,
            )
        except UniqueViolation:
            return False
        return True

    async def claim_due(self, now: float, lease_s: float, limit: int = 20) -> list[OutboxMail]:
        claimed: list[OutboxMail] = []
        async with self._db.transaction() as tx:
            rows = await tx.fetch(
                f"SELECT {_OUTBOX} FROM mail_outbox WHERE state IN ('queued', 'sending') AND next_at <= $1"
                " ORDER BY next_at, id LIMIT $2",
                float(now),
                int(limit),
            )
            for row in rows:
                mail = _outbox(row)
                # the guard (the state and count just read) makes a concurrent claimer's
                # update find nothing: PostgreSQL re-reads a row it waited for
                won = await tx.fetch(
                    "UPDATE mail_outbox SET state = 'sending', attempts = attempts + 1, next_at = $2"
                    " WHERE id = $1 AND attempts = $3 AND state = $4 RETURNING id",
                    mail.id,
                    float(now + lease_s),
                    mail.attempts,
                    mail.state,
                )
                if won:
                    claimed.append(_outbox({**row, "state": "sending", "attempts": mail.attempts + 1}))
        return claimed

    async def mark_sent(self, row_id: str, at: float) -> None:
        await self._db.execute(
            "UPDATE mail_outbox SET state = 'sent', sent_at = $2, error = '' WHERE id = $1", row_id, float(at)
        )

    async def mark_retry(self, row_id: str, next_at: float, error: str, *, failed: bool = False) -> None:
        await self._db.execute(
            "UPDATE mail_outbox SET state = $2, next_at = $3, error = $4 WHERE id = $1 AND state = 'sending'",
            row_id,
            "failed" if failed else "queued",
            float(next_at),
            error[:500],
        )

    async def outbox_row(self, row_id: str) -> OutboxMail | None:
        rows = await self._db.fetch(f"SELECT {_OUTBOX} FROM mail_outbox WHERE id = $1", row_id)
        return _outbox(rows[0]) if rows else None

    async def outbox_for(self, task_id: str) -> list[OutboxMail]:
        rows = await self._db.fetch(
            f"SELECT {_OUTBOX} FROM mail_outbox WHERE task_id = $1 ORDER BY created_at, id", task_id
        )
        return [_outbox(row) for row in rows]

    async def outbox_counts(self) -> dict[str, int]:
        rows = await self._db.fetch("SELECT state, COUNT(*) AS n FROM mail_outbox GROUP BY state")
        return {str(row["state"]): int(row["n"]) for row in rows}

    async def add_attachment(self, attachment: StoredAttachment) -> None:
        a = attachment
        await self._db.execute(
            f"INSERT INTO mail_attachments ({_ATTACHMENT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (id) DO NOTHING",
            a.id,
            a.task_id,
            a.message_id,
            a.filename,
            a.content_type,
            int(a.size),
            a.sha256,
            a.content_id,
            float(a.at),
        )

    async def attachment(self, attachment_id: str) -> StoredAttachment | None:
        rows = await self._db.fetch(f"SELECT {_ATTACHMENT} FROM mail_attachments WHERE id = $1", attachment_id)
        return _attachment(rows[0]) if rows else None

    async def attachments_of(self, task_id: str) -> list[StoredAttachment]:
        rows = await self._db.fetch(
            f"SELECT {_ATTACHMENT} FROM mail_attachments WHERE task_id = $1 ORDER BY at, id", task_id
        )
        return [_attachment(row) for row in rows]


def _attachment(row: Mapping[str, Any]) -> StoredAttachment:
    return StoredAttachment(**{**row, "size": int(row["size"]), "at": float(row["at"])})
