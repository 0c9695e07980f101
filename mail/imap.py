"""The IMAP mailbox poller (`[mail.imap]`): every `poll_s`, the folder's unseen mail is
fetched (imapclient, a blocking client, in a worker thread), handed to intake, and only
then flagged \\Seen. A crash between the two fetches the mail again, and intake knows
the re-delivery by its Message-ID: once in the thread.

The connection is TLS from the start, upgraded with STARTTLS before the login, or plain,
as `security` says; the server's certificate is checked (`ca_file`, else the system's
CAs). A poll that fails (the mailbox down, a certificate refused, the login refused)
touches no mail: it is logged in one line naming the cause, kept in `health` for
/healthz (mail/web.py), and the next poll tries again."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError

from mail.config import ImapConfig
from mail.intake import MailIntake
from mail.parse import parse_mail

log = structlog.get_logger()
BATCH = 50  # mails per poll


class ImapTlsError(Exception):
    """The mailbox's TLS was refused: its certificate, its name, or no STARTTLS."""


@dataclass
class ImapHealth:
    """The last polls, as /healthz shows them."""

    polled_at: float | None = None  # when the last poll that worked ended (the service's clock)
    error: str = ""  # the last poll's failure ("" when it worked)
    failures: int = 0  # polls failed in a row


def why_tls_failed(exc: ssl.SSLError | CapabilityError, config: ImapConfig) -> str:
    """One line an operator can act on (a certificate error's own text is terse)."""
    where = f"{config.host}:{config.port} ({config.security})"
    if isinstance(exc, CapabilityError):
        return f"{where}: the server offers no STARTTLS; no login was tried without TLS"
    if isinstance(exc, ssl.SSLCertVerificationError):
        trusted = f"the CA in mail.imap.ca_file {str(config.ca_file)!r}" if config.ca_file else "the system's CAs"
        return f"{where}: certificate refused ({exc.verify_message}); it is checked against {trusted}"
    return f"{where}: TLS failed ({exc.reason or exc})"


class ImapPoller:
    def __init__(self, config: ImapConfig, intake: MailIntake, clock: Callable[[], float]) -> None:
        self.config = config
        self.intake = intake
        self.clock = clock
        self.health = ImapHealth()
        if config.security != "none" and not config.verify:
            log.warning("mail_imap_tls_unverified", host=config.host, hint="mail.imap.verify = false: set it true")

    def _connect(self) -> IMAPClient:
        c = self.config
        context = c.tls_context()
        try:
            client = IMAPClient(c.host, port=c.port, ssl=c.security == "tls", ssl_context=context, timeout=30)
            if c.security == "starttls":
                try:
                    client.starttls(context)
                except Exception:
                    with contextlib.suppress(Exception):
                        client.shutdown()
                    raise
        except (ssl.SSLError, CapabilityError) as exc:
            raise ImapTlsError(why_tls_failed(exc, c)) from None
        try:
            client.login(c.username, c.password.get_secret_value())
            client.select_folder(c.folder)
        except Exception:
            with contextlib.suppress(Exception):
                client.logout()
            raise
        return client

    def _fetch(self, client: IMAPClient) -> list[tuple[int, bytes]]:
        uids = sorted(client.search(["UNSEEN"]))[:BATCH]
        if not uids:
            return []
        got = client.fetch(uids, ["BODY.PEEK[]"])
        return [(uid, bytes(got[uid][b"BODY[]"])) for uid in uids if uid in got]

    async def poll_once(self) -> int:
        """One poll; returns how many mails were taken in."""
        client = await asyncio.to_thread(self._connect)
        try:
            taken = 0
            for uid, raw in await asyncio.to_thread(self._fetch, client):
                await self.intake.receive(parse_mail(raw), [])
                await asyncio.to_thread(client.add_flags, [uid], [b"\\Seen"])
                taken += 1
            return taken
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(client.logout)

    async def poll(self) -> int:
        """One poll as the loop runs it: a failure is logged and kept in `health`,
        never raised (the mailbox may be down: it is polled again)."""
        try:
            taken = await self.poll_once()
        except ImapTlsError as exc:
            self._failed(str(exc))
            return 0
        except Exception as exc:  # noqa: BLE001 - the mailbox may be down: logged, polled again
            self._failed(f"{self.config.host}:{self.config.port}: {type(exc).__name__}: {exc}")
            return 0
        self.health = ImapHealth(polled_at=self.clock())
        if taken:
            log.info("mail_imap_polled", taken=taken, folder=self.config.folder)
        return taken

    def _failed(self, error: str) -> None:
        self.health = ImapHealth(self.health.polled_at, error, self.health.failures + 1)
        log.warning("mail_imap_failed", host=self.config.host, error=error, failures=self.health.failures)

    async def run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.config.poll_s)
