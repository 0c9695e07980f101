"""The IMAP mailbox poller (`[mail.imap]`): every `poll_s`, the folder's unseen mail is
fetched (imapclient, a blocking client, in a worker thread), handed to intake, and only
then flagged \\Seen. A crash between the two fetches the mail again, and intake knows
the re-delivery by its Message-ID: once in the thread."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import structlog
from imapclient import IMAPClient

from mail.config import ImapConfig
from mail.intake import MailIntake
from mail.parse import parse_mail

log = structlog.get_logger()
BATCH = 50  # mails per poll


class ImapPoller:
    def __init__(self, config: ImapConfig, intake: MailIntake) -> None:
        self.config = config
        self.intake = intake

    def _connect(self) -> IMAPClient:
        c = self.config
        context = ssl.create_default_context() if c.ssl else None
        client = IMAPClient(c.host, port=c.port, ssl=c.ssl, ssl_context=context, timeout=30)
        client.login(c.username, c.password.get_secret_value())
        client.select_folder(c.folder)
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

    async def run(self) -> None:
        while True:
            try:
                taken = await self.poll_once()
                if taken:
                    log.info("mail_imap_polled", taken=taken, folder=self.config.folder)
            except Exception as exc:  # noqa: BLE001 - the mailbox may be down: logged, polled again
                log.warning("mail_imap_failed", host=self.config.host, error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.config.poll_s)
