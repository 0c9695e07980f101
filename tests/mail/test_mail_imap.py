"""The IMAP poller (mail/imap.py) against a real Dovecot: unseen mail becomes tasks,
is flagged seen, and a mail fetched again (a crash before the flag) adds nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from config.schema import BusConfig
from mail.attachments import AttachmentFiles
from mail.config import ImapConfig, MailConfig
from mail.imap import ImapPoller
from mail.intake import MailIntake, email_lookup, task_id_for
from mail.reopen import TaskReopener
from mail.store import SqlMailStore
from store import open_bus
from store.sql import SqlStore
from tasks.desk import TaskDesk
from tests.mail.imap_server import DOVECOT, Imap, dovecot

pytestmark = pytest.mark.skipif(
    not Path(DOVECOT).exists() or os.geteuid() != 0,
    reason="needs Debian's dovecot-imapd (scripts/services.sh installs it) and root (Dovecot switches users)",
)


@pytest.fixture(scope="module")
def imap() -> Iterator[Imap]:
    with dovecot() as server:
        yield server


def deliver(imap: Imap, *messages: EmailMessage) -> IMAPClient:
    client = IMAPClient(imap.host, port=imap.port, ssl=False, timeout=5)
    client.login(imap.username, imap.password)
    for msg in messages:
        client.append("INBOX", msg.as_bytes())
    client.select_folder("INBOX")
    return client


def mail(n: int | str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"customer{n}@customer.test"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"question {n}"
    msg["Message-ID"] = f"<q{n}@customer.test>"
    msg.set_content(f"question number {n}")
    return msg


async def test_unseen_mail_becomes_tasks_once(imap: Imap, sql: SqlStore, tmp_path: Path) -> None:
    bus = open_bus(BusConfig())
    clock = lambda: 5000.0  # noqa: E731
    desk = TaskDesk(sql, bus, clock)
    imap_config = ImapConfig(host=imap.host, port=imap.port, security="none", username="support", password="secret")
    config = MailConfig(imap=imap_config, queue="support", attachments_dir=tmp_path / "att")
    intake = MailIntake(
        config,
        SqlMailStore.of(sql),
        desk,
        TaskReopener(sql, bus, clock),
        AttachmentFiles(config.attachments_dir),
        email_lookup(sql),
        clock,
    )
    poller = ImapPoller(imap_config, intake, clock)
    client = deliver(imap, mail(1), mail(2))
    try:
        assert await poller.poll_once() == 2
        assert await poller.poll_once() == 0  # seen now
        client.noop()  # (this session hears the poller's flags)
        assert sorted(client.search(["SEEN"])) == sorted(client.search(["ALL"]))
        for n in (1, 2):
            task = await desk.get(task_id_for(f"<q{n}@customer.test>"))
            assert (task.channel, task.queue, task.subject) == ("email", "support", f"question {n}")
            assert [m.text for m in await desk.messages(task.task_id)] == [f"question number {n}"]
        # a crash after intake and before the \Seen flag: fetched again, kept once
        client.remove_flags(client.search(["ALL"]), [b"\\Seen"])
        assert await poller.poll_once() == 2
        assert len(await desk.messages(task_id_for("<q1@customer.test>"))) == 1
        assert len(await sql.open_tasks()) == 2
    finally:
        client.logout()
        await bus.close()


async def test_a_wrong_password_is_an_error_the_poller_survives(imap: Imap, sql: SqlStore, tmp_path: Path) -> None:
    from imapclient.exceptions import LoginError

    bus = open_bus(BusConfig())
    bad = ImapConfig(host=imap.host, port=imap.port, security="none", username="support", password="wrong")
    config = MailConfig(imap=bad, attachments_dir=tmp_path / "att")
    desk = TaskDesk(sql, bus, lambda: 1.0)
    intake = MailIntake(
        config,
        SqlMailStore.of(sql),
        desk,
        TaskReopener(sql, bus, lambda: 1.0),
        AttachmentFiles(tmp_path),
        email_lookup(sql),
        lambda: 1.0,
    )
    with pytest.raises(LoginError):
        await ImapPoller(bad, intake, lambda: 1.0).poll_once()
    await bus.close()
