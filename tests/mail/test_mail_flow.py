"""E-mail end to end below the web: a real SMTP client sends to the listener
(aiosmtpd), intake threads the mail into a task on the real TaskDesk (SQL store), the
agent's reply goes through the desk's add_message(direction="out"), and the outbox
sends it through a real SMTP relay (an aiosmtpd sink) in the same thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from config.schema import BusConfig, StoreConfig
from mail.config import MailConfig, RelayConfig
from mail.intake import email_lookup, message_key, task_id_for
from mail.outbox import reply_message_id
from mail.reopen import TaskReopener
from mail.service import MailService
from mail.store import SqlMailStore
from store import open_bus, open_store
from store.models import Customer
from store.sql import SqlStore
from tasks.desk import TaskDesk
from tests.mail.sink import Sink, smtp_sink


@dataclass
class Rig:
    store: SqlStore
    desk: TaskDesk
    mail: MailService
    sink: Sink
    clock: Callable[[], float]

    @property
    def port(self) -> int:
        assert self.mail.bound is not None
        return self.mail.bound[1]

    async def send(self, msg: EmailMessage, **kwargs: Any) -> Any:
        return await aiosmtplib.send(msg, hostname="127.0.0.1", port=self.port, timeout=5, **kwargs)


def config(sink_port: int, tmp_path: Path, **changes: Any) -> MailConfig:
    values: dict[str, Any] = {
        "address": "support@example.com",
        "listen": "127.0.0.1:0",
        "accept_domains": ["example.com"],
        "queue": "support",
        "routes": {"billing@example.com": "billing"},
        "queue_due_hours": {"billing": 8},
        "attachments_dir": tmp_path / "attachments",
        "max_message_bytes": 200_000,
        "max_attachment_bytes": 50_000,
        "relay": RelayConfig(host="127.0.0.1", port=sink_port, timeout_s=5),
        "outbox_poll_s": 0.05,
    }
    return MailConfig(**{**values, **changes})


async def start_rig(tmp_path: Path, sink: Sink) -> tuple[Rig, Callable[[], Any]]:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/h.sqlite3"))
    await store.migrate()
    bus = open_bus(BusConfig())
    clock = lambda: 1_000_000.0  # noqa: E731 - a fixed instant: the due times are exact
    desk = TaskDesk(store, bus, clock)
    service = MailService(
        config(sink.port, tmp_path),
        SqlMailStore.of(store),
        desk,
        store,
        TaskReopener(store, bus, clock),
        email_lookup(store),
        clock,
    )
    await service.start()

    async def stop() -> None:
        await service.stop()
        await bus.close()
        await store.close()

    return Rig(store, desk, service, sink, clock), stop


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with smtp_sink() as sink:
        r, stop = await start_rig(tmp_path, sink)
        try:
            yield r
        finally:
            await stop()


def customer_mail(subject: str = "My invoice", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Ann Lee <ann@customer.test>")
    msg["To"] = headers.pop("To", "billing@example.com")
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("Message_ID", "<a1@customer.test>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello,\nthe invoice is wrong.\n")
    return msg


async def test_a_mail_opens_a_task_and_the_reply_goes_out_in_the_thread(rig: Rig) -> None:
    await rig.store.put_customer(Customer("C7", "Ann Lee", email="Ann@Customer.test"))
    msg = customer_mail()
    msg.add_alternative(
        '<p onclick="x()">Hello <img src="https://tracker.test/p.gif"><img src="cid:logo@customer.test"></p>',
        subtype="html",
    )
    msg.get_payload()[1].add_related(b"\x89PNG fake", "image", "png", cid="<logo@customer.test>")
    msg.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
    await rig.send(msg)

    task = await rig.desk.get(task_id_for("<a1@customer.test>"))
    assert (task.channel, task.queue, task.customer_id, task.state) == ("email", "billing", "C7", "waiting")
    assert task.subject == "My invoice" and task.due_at == rig.clock() + 8 * 3600
    [received] = await rig.desk.messages(task.task_id)
    assert (received.direction, received.author) == ("in", "ann@customer.test")
    assert received.text.startswith("Hello,\nthe invoice is wrong.")
    assert received.html is not None and "onclick" not in received.html and "tracker.test" not in received.html
    assert received.meta["blocked_images"] == 1
    files = {a["filename"]: a for a in received.meta["attachments"]}
    assert files["invoice.pdf"]["size"] == len(b"%PDF-1.4 invoice")
    logo = next(a for a in files.values() if a["content_type"] == "image/png")
    assert f'src="/api/v1/mail/attachments/{logo["id"]}"' in received.html
    stored = await rig.mail.store.attachment(files["invoice.pdf"]["id"])
    assert stored is not None and rig.mail.files.path_of(stored.sha256).read_bytes() == b"%PDF-1.4 invoice"

    # the agent answers on the desktop: the desk stores it and hands it to the outbox
    reply = await rig.desk.add_message(task.task_id, direction="out", author="agent1", text="Dear Ann,\nfixed.")
    [sent] = await rig.sink.wait_for(1)
    assert sent["In-Reply-To"] == "<a1@customer.test>" and sent["References"] == "<a1@customer.test>"
    assert sent["Subject"] == "Re: My invoice" and sent["X-Envelope-To"] == "ann@customer.test"
    assert sent["Message-ID"] == reply_message_id(reply.message_id, "support@example.com")

    # the customer answers the reply: the same task
    answer = customer_mail("Re: My invoice", Message_ID="<a2@customer.test>", In_Reply_To=sent["Message-ID"])
    await rig.send(answer)
    assert [m.direction for m in await rig.desk.messages(task.task_id)] == ["in", "out", "in"]


async def test_a_redelivered_mail_adds_nothing_and_a_reply_to_a_closed_thread_reopens_it(rig: Rig) -> None:
    await rig.send(customer_mail(To="help@example.com"))
    await rig.send(customer_mail(To="help@example.com"))  # the sender's MTA retries
    task_id = task_id_for("<a1@customer.test>")
    assert len(await rig.desk.messages(task_id)) == 1
    assert (await rig.desk.get(task_id)).queue == "support"
    await rig.desk.close(task_id, by="agent1")
    late = customer_mail("Re: My invoice", Message_ID="<a3@customer.test>", References="<x@y> <a1@customer.test>")
    await rig.send(late)
    task = await rig.desk.get(task_id)
    assert (task.state, task.due_at) == ("waiting", rig.clock() + 4 * 3600)
    assert [m.message_id for m in await rig.desk.messages(task_id)][-1] == message_key("<a3@customer.test>")


async def test_bounces_and_auto_replies_never_open_nor_reopen_a_task(rig: Rig) -> None:
    await rig.send(customer_mail(Auto_Submitted="auto-replied", Message_ID="<ooo@customer.test>"))
    assert await rig.store.open_tasks() == []
    await rig.send(customer_mail())
    task_id = task_id_for("<a1@customer.test>")
    await rig.desk.close(task_id, by="agent1")
    bounce = customer_mail("Undeliverable", From="MAILER-DAEMON@mx.customer.test", Message_ID="<b@mx>")
    bounce["In-Reply-To"] = "<a1@customer.test>"
    await rig.send(bounce, sender="")
    task = await rig.desk.get(task_id)
    assert task.state == "closed"
    assert [(m.direction, m.meta.get("automatic")) for m in await rig.desk.messages(task_id)] == [
        ("in", None),
        ("note", True),
    ]


async def test_the_listener_refuses_other_domains_and_oversized_mail(rig: Rig) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await rig.send(customer_mail(To="someone@elsewhere.test"))
    assert refused.value.recipients[0].code == 550
    big = customer_mail()
    big.set_content("x" * 300_000)
    with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:
        await rig.send(big)
    assert too_big.value.code == 552
    assert await rig.store.open_tasks() == []


async def test_an_oversized_attachment_is_left_out_and_named(rig: Rig) -> None:
    msg = customer_mail()
    msg.add_attachment(b"x" * 60_000, maintype="application", subtype="octet-stream", filename="big.bin")
    await rig.send(msg)
    [received] = await rig.desk.messages(task_id_for("<a1@customer.test>"))
    assert received.meta["attachments"] == []
    assert received.meta["attachments_too_large"] == [{"filename": "big.bin", "size": 60_000}]


async def test_a_reply_stored_before_a_crash_is_sent_after_the_restart(tmp_path: Path) -> None:
    async with smtp_sink() as sink:
        first, stop = await start_rig(tmp_path, sink)
        await first.send(customer_mail())
        task_id = task_id_for("<a1@customer.test>")
        # the desk stored the reply, and the process died before the outbox row
        # (the desk's hook is not registered on this desk: as if it never ran)
        bare = TaskDesk(first.store, open_bus(BusConfig()), first.clock)
        reply = await bare.add_message(task_id, direction="out", author="agent1", text="answer")
        await stop()
        second, stop = await start_rig(tmp_path, sink)
        try:
            [sent] = await sink.wait_for(1)
            assert sent["Message-ID"] == reply_message_id(reply.message_id, "support@example.com")
            await asyncio.sleep(0)  # (one more loop turn: nothing else is sent)
            assert len(sink.received) == 1
            assert second.mail.bound is not None
        finally:
            await stop()


async def test_a_mail_with_no_text_or_a_very_long_one_is_still_taken(rig: Rig) -> None:
    bare = EmailMessage()
    bare["From"] = "bob@customer.test"
    bare["To"] = "help@example.com"
    bare["Message-ID"] = "<bare@customer.test>"
    bare.add_attachment(b"scan", maintype="image", subtype="jpeg", filename="scan.jpg")
    await rig.send(bare)
    [message] = await rig.desk.messages(task_id_for("<bare@customer.test>"))
    assert message.text == "(no text)" and message.meta["attachments"][0]["filename"] == "scan.jpg"
    assert (await rig.desk.get(task_id_for("<bare@customer.test>"))).subject == "(no subject)"
    long = customer_mail(Message_ID="<long@customer.test>")
    long.set_content("word " * 10_000)
    await rig.send(long)
    [message] = await rig.desk.messages(task_id_for("<long@customer.test>"))
    assert message.text.endswith("[... cut]") and len(message.text) <= 20_000


async def test_the_demos_mail_traffic_opens_tasks_and_follows_up(rig: Rig) -> None:
    import random

    from mail.demo import run_mail_traffic

    writers = [("Ann Lee", "ann@customer.test"), ("Bob Roe", "bob@customer.test")]
    to = ("help@example.com", "billing@example.com")
    traffic = asyncio.create_task(run_mail_traffic(rig.port, writers, 360_000.0, random.Random(7), to))

    async def mails_in() -> int:
        return sum([len(await rig.desk.messages(t.task_id)) for t in await rig.store.tasks_between(0, 1e12)])

    async def twelve() -> None:
        while await mails_in() < 12:
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(twelve(), 10)
    finally:
        traffic.cancel()
        await asyncio.gather(traffic, return_exceptions=True)
    tasks = await rig.store.tasks_between(0, 1e12)
    assert {t.channel for t in tasks} == {"email"} and {t.attrs["from"] for t in tasks} <= {w[1] for w in writers}
    threads = [len(await rig.desk.messages(t.task_id)) for t in tasks]
    assert len(tasks) < sum(threads)  # some mails were follow-ups on their thread


async def test_the_demos_mail_traffic_ends_at_a_cancel_its_send_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11's wait_for, with which aiosmtplib waits for each SMTP reply, returns the
    reply when the cancel comes with it: the send ends normally in a cancelled task, and
    the test above once waited for the traffic until its timeout."""
    import random

    from mail.demo import run_mail_traffic

    sends: list[EmailMessage] = []

    async def send(msg: EmailMessage, **kwargs: Any) -> None:
        sends.append(msg)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if len(sends) > 1:
                raise  # (the first cancel only: as the race does)

    monkeypatch.setattr(aiosmtplib, "send", send)
    traffic = asyncio.create_task(run_mail_traffic(25, [("Ann Lee", "ann@customer.test")], 360_000.0, random.Random(7)))
    while not sends:
        await asyncio.sleep(0.001)
    traffic.cancel()
    done, _ = await asyncio.wait({traffic}, timeout=2)
    assert traffic in done and traffic.cancelled() and len(sends) == 1


async def test_our_own_reply_coming_back_is_dropped(rig: Rig) -> None:
    await rig.send(customer_mail())
    task_id = task_id_for("<a1@customer.test>")
    await rig.desk.add_message(task_id, direction="out", author="agent1", text="answer")
    [sent] = await rig.sink.wait_for(1)
    del sent["X-Envelope-To"]
    sent.replace_header("From", "Someone <relay@customer.test>")  # (same Message-ID: our reply, looped back)
    await rig.send(sent, sender="relay@customer.test", recipients=["help@example.com"])
    await rig.send(customer_mail(From="support@example.com", Message_ID="<copy@example.com>"))
    assert [m.direction for m in await rig.desk.messages(task_id)] == ["in", "out"]
    assert len(await rig.store.tasks_between(0, 1e12)) == 1


async def test_a_crash_after_the_thread_row_and_before_the_task_is_finished_by_the_retry(rig: Rig) -> None:
    from mail.store import ThreadMail

    # the first delivery wrote the thread row, then the server died (no 250: the MTA retries)
    task_id = task_id_for("<a1@customer.test>")
    await rig.mail.store.add_thread_mail(
        ThreadMail("<a1@customer.test>", task_id, "in", "ann@customer.test", "My invoice", 1.0)
    )
    await rig.send(customer_mail())
    task = await rig.desk.get(task_id)
    assert (task.channel, task.queue, task.state) == ("email", "billing", "waiting")
    assert [m.direction for m in await rig.desk.messages(task_id)] == ["in"]
