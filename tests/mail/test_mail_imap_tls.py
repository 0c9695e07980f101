"""The IMAP poller over TLS against a real Dovecot that requires it (ssl = required, a
certificate from a private CA made by the test): mail is fetched over IMAPS and over
STARTTLS with the CA in `ca_file`; a server whose certificate another CA signed is
refused with a one-line reason in the log and /healthz (no traceback), and its mail is
neither taken nor flagged seen; a server without STARTTLS is never sent the password in
clear. (Dovecot counts a connection from 127.0.0.1 as secure and takes a plain login
there even with ssl = required: that a certificate is refused shows TLS was spoken.)"""

from __future__ import annotations

import asyncio
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from imapclient import IMAPClient
from structlog.testing import capture_logs

from config.schema import BusConfig
from mail.attachments import AttachmentFiles
from mail.config import ImapConfig, MailConfig
from mail.imap import ImapPoller
from mail.intake import MailIntake, email_lookup, task_id_for
from mail.reopen import TaskReopener
from mail.store import SqlMailStore
from store import open_bus
from store.bus import Bus
from store.sql import SqlStore
from tasks.desk import TaskDesk
from tests.mail.certs import Certs, make_certs
from tests.mail.imap_server import DOVECOT, Imap, dovecot
from tests.mail.test_mail_imap import mail
from tests.web.conftest import serving, web_config

pytestmark = pytest.mark.skipif(
    not Path(DOVECOT).exists() or os.geteuid() != 0,
    reason="needs Debian's dovecot-imapd (scripts/services.sh installs it) and root (Dovecot switches users)",
)


@dataclass(frozen=True)
class TlsImap:
    server: Imap
    certs: Certs  # the server's: its CA is the right ca_file
    other: Certs  # another private CA's: the wrong ca_file


@pytest.fixture(scope="module")
def imap() -> Iterator[TlsImap]:
    with tempfile.TemporaryDirectory(prefix="hotline-imap-certs-") as tmp:
        certs = make_certs(Path(tmp) / "ours")
        other = make_certs(Path(tmp) / "other", "Someone else's CA")
        with dovecot(tls=certs) as server:
            yield TlsImap(server, certs, other)


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    bus = open_bus(BusConfig())
    try:
        yield bus
    finally:
        await bus.close()


@pytest.fixture
def desk(sql: SqlStore, bus: Bus) -> TaskDesk:
    return TaskDesk(sql, bus, lambda: 5000.0)


def mailbox(imap: TlsImap) -> IMAPClient:
    """The test's own look into the mailbox (IMAPS, trusting the right CA)."""
    context = ssl.create_default_context(cafile=str(imap.certs.ca))
    client = IMAPClient(imap.server.host, port=imap.server.tls_port, ssl=True, ssl_context=context, timeout=5)
    client.login(imap.server.username, imap.server.password)
    client.select_folder("INBOX")
    return client


def deliver(imap: TlsImap, tag: str) -> str:
    """A mail into the mailbox (unseen); its Message-ID."""
    msg = mail(tag)
    client = mailbox(imap)
    try:
        client.append("INBOX", msg.as_bytes())
    finally:
        client.logout()
    return msg["Message-ID"]


def unseen(imap: TlsImap) -> int:
    client = mailbox(imap)
    try:
        return len(client.search(["UNSEEN"]))
    finally:
        client.logout()


def clear(imap: TlsImap) -> None:
    client = mailbox(imap)
    try:
        client.delete_messages(client.search(["ALL"]))
        client.expunge()
    finally:
        client.logout()


Security = Literal["tls", "starttls", "none"]


def imap_config(imap: TlsImap, security: Security, ca: Path | None, **extra: object) -> ImapConfig:
    port = imap.server.tls_port if security == "tls" else imap.server.port
    return ImapConfig(
        host=imap.server.host,
        port=port,
        security=security,
        ca_file=ca,
        username=imap.server.username,
        password=imap.server.password,
        **extra,
    )


def poller(config: ImapConfig, sql: SqlStore, bus: Bus, tmp_path: Path) -> ImapPoller:
    mail = MailConfig(imap=config, queue="support", attachments_dir=tmp_path / "att")
    clock = lambda: 5000.0  # noqa: E731
    intake = MailIntake(
        mail,
        SqlMailStore.of(sql),
        TaskDesk(sql, bus, clock),
        TaskReopener(sql, bus, clock),
        AttachmentFiles(mail.attachments_dir),
        email_lookup(sql),
        clock,
    )
    return ImapPoller(config, intake, clock)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_mail_is_fetched_over_tls_with_a_private_ca(
    imap: TlsImap, security: Security, sql: SqlStore, bus: Bus, desk: TaskDesk, tmp_path: Path
) -> None:
    clear(imap)
    message_id = deliver(imap, f"over-{security}")
    p = poller(imap_config(imap, security, imap.certs.ca), sql, bus, tmp_path)
    assert await p.poll() == 1
    assert p.health.error == "" and p.health.polled_at == 5000.0
    task = await desk.get(task_id_for(message_id))
    assert (task.channel, task.subject) == ("email", f"question over-{security}")
    assert unseen(imap) == 0


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_a_certificate_from_another_ca_is_refused_and_no_mail_is_touched(
    imap: TlsImap, security: Security, sql: SqlStore, bus: Bus, desk: TaskDesk, tmp_path: Path
) -> None:
    clear(imap)
    deliver(imap, f"refused-{security}")
    p = poller(imap_config(imap, security, imap.other.ca), sql, bus, tmp_path)
    with capture_logs() as logs:
        assert await p.poll() == 0
    [failed] = [e for e in logs if e["event"] == "mail_imap_failed"]
    assert "exc_info" not in failed and "exception" not in failed  # one line, no traceback
    port = imap.server.tls_port if security == "tls" else imap.server.port
    assert failed["error"] == (
        f"127.0.0.1:{port} ({security}): certificate refused (unable to get local issuer certificate); "
        f"it is checked against the CA in mail.imap.ca_file {str(imap.other.ca)!r}"
    )
    assert p.health.error == failed["error"] and p.health.failures == 1
    assert unseen(imap) == 1  # not flagged seen
    assert await sql.open_tasks() == []  # not taken in

    # the right CA: the same mail comes in (nothing was lost)
    fixed = poller(imap_config(imap, security, imap.certs.ca), sql, bus, tmp_path)
    assert await fixed.poll() == 1
    assert len(await sql.open_tasks()) == 1


async def test_the_system_cas_do_not_trust_a_private_one(
    imap: TlsImap, sql: SqlStore, bus: Bus, tmp_path: Path
) -> None:
    """Verification is on by default: no ca_file, the system's CAs, refused."""
    p = poller(imap_config(imap, "tls", None), sql, bus, tmp_path)
    assert await p.poll() == 0
    assert "certificate refused" in p.health.error and "the system's CAs" in p.health.error


async def test_verify_off_takes_any_certificate_and_says_so(
    imap: TlsImap, sql: SqlStore, bus: Bus, tmp_path: Path
) -> None:
    clear(imap)
    deliver(imap, "unverified")
    with capture_logs() as logs:
        p = poller(imap_config(imap, "tls", None, verify=False), sql, bus, tmp_path)
    assert [e["hint"] for e in logs if e["event"] == "mail_imap_tls_unverified"] == [
        "mail.imap.verify = false: set it true"
    ]
    assert await p.poll() == 1


async def test_no_starttls_offered_means_no_login(sql: SqlStore, bus: Bus, tmp_path: Path) -> None:
    """A server (or someone in the way) that offers no STARTTLS never gets the password."""
    with dovecot() as plain:  # (ssl = no: STARTTLS not offered)
        config = ImapConfig(
            host=plain.host, port=plain.port, security="starttls", username=plain.username, password=plain.password
        )
        p = poller(config, sql, bus, tmp_path)
        assert await p.poll() == 0
    assert p.health.error == (
        f"127.0.0.1:{plain.port} (starttls): the server offers no STARTTLS; no login was tried without TLS"
    )


async def test_healthz_names_a_refused_certificate(imap: TlsImap, tmp_path: Path) -> None:
    """`hotline serve`'s /healthz: the mail section degraded, with the reason."""
    config = imap_config(imap, "tls", imap.other.ca, poll_s=1)
    mail = MailConfig(imap=config, attachments_dir=tmp_path / "att")
    with capture_logs() as logs:
        async with serving(web_config(f"sqlite:///{tmp_path}/h.sqlite3", mail=mail)) as client:

            async def refused() -> dict[str, object]:
                while True:
                    body = await (await client.get("/healthz")).json()
                    if body["mail"].get("imap_error"):
                        return dict(body["mail"])
                    await asyncio.sleep(0.05)

            health = await asyncio.wait_for(refused(), 10)
    assert health["status"] == "degraded" and health["imap_polled_at"] is None
    assert "certificate refused (unable to get local issuer certificate)" in str(health["imap_error"])
    assert "mail.imap.ca_file" in str(health["imap_error"])
    assert not [e for e in logs if "exc_info" in e or e.get("log_level") in ("error", "critical")]


def test_the_first_versions_ssl_key_still_reads() -> None:
    base = {"host": "imap.example.com", "username": "support"}
    assert ImapConfig.model_validate(base | {"ssl": False}).security == "none"
    assert ImapConfig.model_validate(base | {"ssl": True}).security == "tls"
    assert ImapConfig.model_validate(base).security == "tls"
