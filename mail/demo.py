"""E-mail traffic for `hotline demo`: customers (the demo's generated ones, by their
addresses) write to the demo's SMTP listener now and then, some answering their earlier
thread (queue "email", which only the demo login answers), and the replies go to a
local relay that keeps them in memory (the demo sends nothing out)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from cti.bounded import raise_if_cancelled
from mail.config import MailConfig, RelayConfig

log = structlog.get_logger()

SUBJECTS = (
    "Question about my last invoice",
    "Cannot log in to my account",
    "Change of address",
    "Refund request",
    "Upgrade my plan",
)
ADDRESS = "support@hotline.demo"


def demo_mail_config(data_dir: Path, listen_port: int, relay_port: int) -> MailConfig:
    return MailConfig(
        address=ADDRESS,
        listen=f"127.0.0.1:{listen_port}",
        accept_domains=["hotline.demo"],
        queue="email",  # (the demo's routing gives it to the demo login only: cti/demo.py)
        due_hours=4,
        attachments_dir=data_dir / "mail-attachments",
        relay=RelayConfig(host="127.0.0.1", port=relay_port),
    )


@dataclass
class DemoRelay:
    """The relay the demo's replies go to: kept in memory, counted."""

    replies: int = 0
    server: asyncio.Server | None = field(default=None, repr=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.replies += 1
        return "250 OK"

    async def start(self) -> int:
        self.server = await asyncio.get_running_loop().create_server(lambda: SMTP(self), "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def run_mail_traffic(
    listen_port: int,
    addresses: list[tuple[str, str]],
    mails_per_hour: float,
    rng: random.Random,
    to: tuple[str, ...] = (ADDRESS, "billing@hotline.demo"),
) -> None:
    """Send customer mail to the listener (a Poisson stream), a third of it follow-ups."""
    sent: list[tuple[str, str, str]] = []  # (address, message id, subject)
    n = 0
    while True:
        raise_if_cancelled()  # (a cancel during a send may have been swallowed: it ends here)
        await asyncio.sleep(rng.expovariate(mails_per_hour / 3600.0))
        n += 1
        msg = EmailMessage()
        if sent and rng.random() < 0.33:
            address, earlier, subject = rng.choice(sent)
            msg["In-Reply-To"] = earlier
            msg["References"] = earlier
            msg["Subject"] = f"Re: {subject}"
            name = address
        else:
            name, address = rng.choice(addresses)
            subject = rng.choice(SUBJECTS)
            msg["Subject"] = subject
        message_id = f"<demo-{n}-{rng.getrandbits(32):08x}@customers.demo>"
        msg["From"] = f"{name} <{address}>"
        msg["To"] = rng.choice(to)
        msg["Message-ID"] = message_id
        msg.set_content(f"Hello,\n\n{subject.lower()}: could you help?\n\nThanks,\n{name}\n")
        try:
            await aiosmtplib.send(msg, hostname="127.0.0.1", port=listen_port, timeout=10)
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning("demo_mail_not_sent", error=str(exc))
            continue
        sent.append((address, message_id, subject))
