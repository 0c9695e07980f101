"""The durable outbox (mail/outbox.py) sending through a real SMTP relay (an aiosmtpd
sink) over the real SQL store: threading headers, exactly once across a restart, and
retries while the relay refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from config.schema import StoreConfig
from mail.config import MailConfig, RelayConfig
from mail.outbox import Outbox, OutboxSender, Unthreaded, reply_message_id
from mail.store import SqlMailStore, ThreadMail
from store import open_store
from store.sql import SqlStore
from tasks.desk import TaskDesk
from tests.mail.sink import Sink, smtp_sink


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    async with smtp_sink() as s:
        yield s


def mail_config(port: int, **changes: Any) -> MailConfig:
    relay = RelayConfig(host="127.0.0.1", port=port, timeout_s=5)
    return MailConfig(address="support@example.com", relay=relay, retry_s=30, **changes)


async def thread(store: SqlMailStore, desk: TaskDesk) -> None:
    await desk.open(channel="email", queue="support", subject="Invoice", task_id="t1")
    await store.add_thread_mail(ThreadMail("<a1@customer.test>", "t1", "in", "ann@customer.test", "Invoice", 10.0))
    await store.add_thread_mail(ThreadMail("<a2@customer.test>", "t1", "in", "ann@customer.test", "Re: x", 20.0))


async def test_a_reply_is_sent_once_in_the_thread(sql: SqlStore, desk: TaskDesk, sink: Sink) -> None:
    store, clock, config = SqlMailStore.of(sql), Clock(), mail_config(sink.port)
    await thread(store, desk)
    outbox = Outbox(config, store, clock)
    row = await outbox.enqueue_reply("t1", "msg-1", "Dear Ann,\nfixed.\n")
    assert await outbox.enqueue_reply("t1", "msg-1", "changed") == row  # (a repeat: same row)
    sender = OutboxSender(config, config.relay, store, outbox, desk, clock)
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0
    [sent] = await sink.wait_for(1)
    assert sent["Message-ID"] == reply_message_id("msg-1", "support@example.com")
    assert sent["In-Reply-To"] == "<a2@customer.test>"
    assert sent["References"] == "<a1@customer.test> <a2@customer.test>"
    assert sent["Subject"] == "Re: Invoice"
    assert (sent["From"], sent["X-Envelope-To"]) == ("support@example.com", "ann@customer.test")
    assert sent.get_content().replace("\r\n", "\n") == "Dear Ann,\nfixed.\n"
    # the customer's answer to the reply will find the thread by the reply's id
    assert await store.thread_of((reply_message_id("msg-1", "support@example.com"),)) == "t1"
    stored = await store.outbox_row("msg-1")
    assert stored is not None and stored.state == "sent"


async def test_the_sender_ends_at_a_cancel_its_send_swallowed(
    sql: SqlStore, desk: TaskDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.11's wait_for, with which aiosmtplib waits for each SMTP reply, returns the
    reply when the cancel comes with it: the send ends normally in a cancelled task, and
    MailService.stop (a server stopping) waited for the sender's loop forever."""
    store, clock, config = SqlMailStore.of(sql), Clock(), mail_config(25)
    await thread(store, desk)
    outbox = Outbox(config, store, clock)
    await outbox.enqueue_reply("t1", "msg-1", "answer")
    sending = asyncio.Event()

    async def send(*args: Any, **kwargs: Any) -> None:
        sending.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # (the relay's 250 came with the cancel)

    monkeypatch.setattr(aiosmtplib, "send", send)
    sender = asyncio.create_task(OutboxSender(config, config.relay, store, outbox, desk, clock).run())
    try:
        await sending.wait()
        sender.cancel()
        done, _ = await asyncio.wait({sender}, timeout=2)
        assert sender in done and sender.cancelled()
        row = await store.outbox_row("msg-1")
        assert row is not None and row.state == "sent"  # (the mail went: its row says so)
    finally:
        sender.cancel()


def test_a_reply_message_id_is_a_dot_atom_whatever_the_task_message_id() -> None:
    import re

    made = reply_message_id("agent01:t-1 ~<x>", "support@example.com")
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.com>", made)
    assert made == reply_message_id("agent01:t-1 ~<x>", "support@example.com") != reply_message_id("x", "s@e.com")


async def test_a_task_with_no_received_mail_cannot_be_answered_by_mail(sql: SqlStore) -> None:
    outbox = Outbox(mail_config(25), SqlMailStore.of(sql), Clock())
    with pytest.raises(Unthreaded):
        await outbox.enqueue_reply("t-none", "msg-1", "hello")


async def test_a_restart_sends_what_was_queued_and_not_what_was_sent(
    tmp_path: Path, desk: TaskDesk, sink: Sink
) -> None:
    url = f"sqlite:///{tmp_path}/h.sqlite3"
    clock = Clock()
    config = mail_config(sink.port)
    first = await open_store(StoreConfig(url=url))
    await first.migrate()
    store = SqlMailStore.of(first)
    await thread(store, desk)
    outbox = Outbox(config, store, clock)
    await outbox.enqueue_reply("t1", "msg-1", "one")
    await OutboxSender(config, config.relay, store, outbox, desk, clock).send_due()
    await outbox.enqueue_reply("t1", "msg-2", "two")  # queued, then the server stops
    await first.close()

    second = await open_store(StoreConfig(url=url))
    try:
        store = SqlMailStore.of(second)
        outbox = Outbox(config, store, clock)
        sender = OutboxSender(config, config.relay, store, outbox, desk, clock)
        assert await sender.send_due() == 1
        got = await sink.wait_for(2)
        assert [m["Message-ID"] for m in got] == [
            reply_message_id("msg-1", "support@example.com"),
            reply_message_id("msg-2", "support@example.com"),
        ]
        # a sender that died between the relay's 250 and mark_sent: sent again after
        # its lease, with the same Message-ID (the documented at-least-once edge)
        await outbox.enqueue_reply("t1", "msg-3", "three")
        [claimed] = await store.claim_due(clock(), sender.lease_s)
        clock.now += sender.lease_s + 1
        assert await sender.send_due() == 1
        assert [m["Message-ID"] for m in await sink.wait_for(3)][2] == reply_message_id("msg-3", "support@example.com")
        assert claimed.attempts == 1
    finally:
        await second.close()


async def test_a_refusing_relay_is_retried_then_the_agent_is_told(sql: SqlStore, desk: TaskDesk, sink: Sink) -> None:
    store, clock, config = SqlMailStore.of(sql), Clock(), mail_config(sink.port, send_attempts=2)
    await thread(store, desk)
    outbox = Outbox(config, store, clock)
    sender = OutboxSender(config, config.relay, store, outbox, desk, clock)
    await outbox.enqueue_reply("t1", "msg-1", "one")
    sink.refuse = "451 4.3.0 try later"
    assert await sender.send_due() == 0
    row = await store.outbox_row("msg-1")
    assert row is not None and (row.state, row.next_at) == ("queued", clock() + 30)
    assert await sender.send_due() == 0  # not yet due
    clock.now += 30
    sink.refuse = "550 5.1.1 no such user"
    assert await sender.send_due() == 0
    row = await store.outbox_row("msg-1")
    assert row is not None and row.state == "failed" and "550" in row.error
    [note] = await desk.messages("t1")
    assert note.direction == "note" and "could not be sent after 2 attempts" in note.text
    assert sink.received == []


async def test_an_unreachable_relay_is_an_error_on_the_row_not_a_crash(sql: SqlStore, desk: TaskDesk) -> None:
    store, clock = SqlMailStore.of(sql), Clock()
    async with smtp_sink() as gone:
        port = gone.port
    config = mail_config(port)
    await thread(store, desk)
    outbox = Outbox(config, store, clock)
    await outbox.enqueue_reply("t1", "msg-1", "one")
    sender = OutboxSender(config, config.relay, store, outbox, desk, clock)
    assert await sender.send_due() == 0
    row = await store.outbox_row("msg-1")
    assert row is not None and row.state == "queued" and row.error
