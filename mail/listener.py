"""The inbound SMTP listener (aiosmtpd), served in `hotline serve`'s own event loop.

A recipient outside `accept_domains` is refused at RCPT (550: we are no open relay);
a mail larger than `max_message_bytes` at DATA (552, aiosmtpd's size limit). A mail is
answered 250 only once its task and message are stored; when the store fails the
answer is 451, so the sending MTA keeps the mail and tries again (intake recognises
the re-delivery)."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from mail.config import MailConfig
from mail.intake import MailIntake
from mail.parse import parse_mail

log = structlog.get_logger()


class _Handler:
    def __init__(self, config: MailConfig, intake: MailIntake) -> None:
        self.config = config
        self.intake = intake

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if "@" not in address or (self.config.accept_domains and domain not in self.config.accept_domains):
            return "550 5.7.1 Relaying denied: not a mailbox of this contact center"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        mail = parse_mail(raw, envelope_from=envelope.mail_from)
        try:
            got = await self.intake.receive(mail, [str(r) for r in envelope.rcpt_tos])
        except Exception:
            log.exception("mail_intake_failed", message_id=mail.message_id)
            return "451 4.3.0 Temporarily unable to store the message, try again later"
        log.info("mail_received", message_id=mail.message_id, task_id=got.task_id, new=got.new_task)
        return "250 Message accepted"


class MailListenError(RuntimeError):
    """The listener cannot bind its address (`hotline serve` says so and exits)."""


class SmtpListener:
    """Owns the listening socket; `start()` binds, `stop()` closes."""

    def __init__(self, config: MailConfig, intake: MailIntake) -> None:
        self.config = config
        self.handler = _Handler(config, intake)
        self.server: asyncio.Server | None = None

    async def start(self) -> tuple[str, int]:
        host, _, port = self.config.listen.rpartition(":")
        loop = asyncio.get_running_loop()

        def factory() -> Any:
            return SMTP(
                self.handler,
                data_size_limit=self.config.max_message_bytes,
                enable_SMTPUTF8=True,
                decode_data=False,
                ident="Hotline",
                # (named here: aiosmtpd would look the host's name up in DNS, blocking the
                # loop, at every connection)
                hostname=self.config.address.rpartition("@")[2] or "hotline",
            )

        try:
            self.server = await loop.create_server(factory, host.strip("[]"), int(port))
        except OSError as exc:
            raise MailListenError(
                f"mail.listen: cannot listen on {self.config.listen} ({exc.strerror or exc})"
            ) from None
        bound = self.server.sockets[0].getsockname()
        log.info("mail_listener_started", host=bound[0], port=bound[1])
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
