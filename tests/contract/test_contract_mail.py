"""One contract suite over the mail rows (`mail.store.MailStore`): PostgreSQL (asyncpg)
and SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mail.store import MailStore, OutboxMail, SqlMailStore, StoredAttachment, ThreadMail
from tests.contract.test_contract_store import _sql_store


@pytest.fixture(params=["postgresql", "sqlite"])
async def mail(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[MailStore]:
    s = await _sql_store(request.param, request, tmp_path)
    if request.param == "postgresql":
        await s._db.execute("TRUNCATE mail_threads, mail_outbox, mail_attachments")
    try:
        yield SqlMailStore.of(s)
    finally:
        await s.close()


def reply(row_id: str, next_at: float = 10.0, **changes: Any) -> OutboxMail:
    values: dict[str, Any] = {
        "id": row_id,
        "task_id": "t1",
        "message_id": f"<{row_id}@example.com>",
        "mail_from": "support@example.com",
        "rcpt": "ann@customer.test",
        "subject": "Re: invoice",
        "in_reply_to": "<a1@customer.test>",
        "refs": "<a1@customer.test>",
        "body": "Hello Ann",
        "state": "queued",
        "attempts": 0,
        "next_at": next_at,
        "created_at": next_at,
    }
    return OutboxMail(**{**values, **changes})


async def test_a_thread_is_found_by_any_of_its_message_ids_nearest_first(mail: MailStore) -> None:
    assert await mail.add_thread_mail(ThreadMail("<a1@x>", "t1", "in", "ann@x", "invoice", 1.0))
    assert await mail.add_thread_mail(ThreadMail("<r1@y>", "t1", "out", "ann@x", "Re: invoice", 2.0))
    assert await mail.add_thread_mail(ThreadMail("<b1@x>", "t2", "in", "bob@x", "hello", 3.0))
    assert not await mail.add_thread_mail(ThreadMail("<a1@x>", "t9", "in", "eve@x", "again", 4.0))
    assert await mail.thread_of(("<nope@x>", "<r1@y>", "<b1@x>")) == "t1"
    assert await mail.thread_of(("<nope@x>",)) is None
    assert await mail.thread_of(()) is None
    assert [m.message_id for m in await mail.thread_mails("t1")] == ["<a1@x>", "<r1@y>"]
    assert (await mail.thread_mails("t1"))[1] == ThreadMail("<r1@y>", "t1", "out", "ann@x", "Re: invoice", 2.0)


async def test_a_reply_is_enqueued_once_and_claimed_by_one_sender(mail: MailStore) -> None:
    assert await mail.enqueue(reply("m1"))
    assert not await mail.enqueue(reply("m1", body="changed"))
    assert (await mail.outbox_row("m1")) == reply("m1")
    assert await mail.claim_due(5.0, 60.0) == []  # not due yet
    first, second = await asyncio.gather(mail.claim_due(20.0, 60.0), mail.claim_due(20.0, 60.0))
    claimed = first + second
    assert [(r.id, r.state, r.attempts) for r in claimed] == [("m1", "sending", 1)]
    assert await mail.claim_due(30.0, 60.0) == []  # under its lease
    await mail.mark_sent("m1", 31.0)
    row = await mail.outbox_row("m1")
    assert row is not None and (row.state, row.sent_at, row.attempts) == ("sent", 31.0, 1)
    assert await mail.claim_due(1e9, 60.0) == []  # sent: never again


async def test_a_sender_that_died_leaves_the_row_to_be_claimed_after_its_lease(mail: MailStore) -> None:
    await mail.enqueue(reply("m1"))
    assert len(await mail.claim_due(20.0, 60.0)) == 1
    again = await mail.claim_due(81.0, 60.0)
    assert [(r.id, r.attempts) for r in again] == [("m1", 2)]


async def test_a_refused_reply_waits_for_its_retry_then_fails(mail: MailStore) -> None:
    await mail.enqueue(reply("m1"))
    await mail.claim_due(20.0, 60.0)
    await mail.mark_retry("m1", 100.0, "SMTPRecipientsRefused: 550")
    row = await mail.outbox_row("m1")
    assert row is not None and (row.state, row.next_at, row.error) == ("queued", 100.0, "SMTPRecipientsRefused: 550")
    assert await mail.claim_due(99.0, 60.0) == []
    await mail.claim_due(100.0, 60.0)
    await mail.mark_retry("m1", 200.0, "again", failed=True)
    assert await mail.claim_due(1e9, 60.0) == []
    assert [r.state for r in await mail.outbox_for("t1")] == ["failed"]
    await mail.enqueue(reply("m2"))
    assert await mail.outbox_counts() == {"failed": 1, "queued": 1}


async def test_attachments_round_trip_per_task(mail: MailStore) -> None:
    a = StoredAttachment("a1", "t1", "<a1@x>", "invoice.pdf", "application/pdf", 1234, "ab" * 32, "", 1.0)
    b = StoredAttachment("a2", "t1", "<a1@x>", "logo.png", "image/png", 10, "cd" * 32, "<logo@x>", 1.0)
    await mail.add_attachment(a)
    await mail.add_attachment(a)  # a re-delivery: no second row
    await mail.add_attachment(b)
    assert await mail.attachment("a1") == a
    assert await mail.attachment("zz") is None
    assert await mail.attachments_of("t1") == [a, b]
    assert await mail.attachments_of("t2") == []
