"""`[mail]`: inbound e-mail (SMTP listener and/or IMAP mailbox), the relay replies go
through, attachments, and each queue's service level in hours.

    [mail]
    address = "support@example.com"        # From: of the agents' replies
    listen = "127.0.0.1:2525"              # the SMTP listener (HOST:PORT; "" = none)
    accept_domains = ["example.com"]       # RCPT TO domains accepted ([] = any)
    max_message_bytes = 10_000_000         # larger mail is refused at DATA (552)
    max_attachment_bytes = 5_000_000       # a larger attachment is dropped (noted on the message)
    attachments_dir = "var/mail-attachments"
    queue = "support"                      # the queue of mail to an address not in [mail.routes]
    due_hours = 4                          # service level: answer within (per queue below)
    [mail.routes]                          # recipient address -> queue
    "billing@example.com" = "billing"
    [mail.queue_due_hours]
    billing = 8
    [mail.relay]
    host = "smtp.example.com"
    port = 587
    security = "starttls"                  # none | starttls | tls
    username = "hotline"
    password = "..."
    [mail.imap]                            # optional: a mailbox polled as well
    host = "imap.example.com"
    port = 993                             # 143 with starttls
    security = "tls"                       # tls (IMAPS) | starttls | none
    ca_file = "certs/mail-ca.pem"          # trust this CA (a private one) instead of the system's
    verify = true                          # check the server's certificate and name (keep on)
    username = "support"
    password = "..."
    folder = "INBOX"
    poll_s = 60

Paths are relative to the configuration file's directory when it is loaded from one.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from config.checks import Located

_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")
_DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"must be an e-mail address such as support@example.com, not {value!r}")
    return value.lower()


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RelayConfig(_Part):
    """The SMTP relay the replies go through (aiosmtplib)."""

    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str = ""
    password: SecretStr = SecretStr("")
    timeout_s: float = Field(30.0, gt=0, le=600)


class ImapConfig(_Part):
    """A mailbox polled for new mail (imapclient, in a thread). `security`: "tls" talks
    TLS from the first byte (IMAPS, port 993), "starttls" upgrades a plain connection
    (port 143) before the login and never logs in without it, "none" sends the password
    in clear (a mailbox on the same host only). The server's certificate is checked
    against `ca_file` when given (a private CA or a self-signed certificate), else the
    system's CAs; `verify = false` skips the check (a test mailbox only: anyone on the
    way could read the password). `ssl = true/false` (the first version's key) is read
    as security "tls"/"none"."""

    host: str
    port: int = Field(993, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "tls"
    ca_file: Path | None = None  # (relative: to the file)
    verify: bool = True
    username: str
    password: SecretStr = SecretStr("")
    folder: str = "INBOX"
    poll_s: float = Field(60.0, ge=1, le=86_400)

    @model_validator(mode="before")
    @classmethod
    def _ssl_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ssl" in data:
            data = dict(data)
            ssl_on = data.pop("ssl")
            if "security" in data:
                raise Located([(("ssl",), "give security (tls, starttls or none), not ssl as well")])
            if not isinstance(ssl_on, bool):
                raise Located([(("ssl",), "must be true or false (or use security = tls, starttls or none)")])
            data["security"] = "tls" if ssl_on else "none"
        return data

    @field_validator("ca_file")
    @classmethod
    def _check_ca_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """Read once here: a missing or unreadable file is a configuration error at
        start-up, not a failure at every poll."""
        if value is None:
            return None
        base = getattr(info.context, "base_dir", None)
        path = value if value.is_absolute() or base is None else base / value
        try:
            ssl.create_default_context(cafile=str(path))
        except FileNotFoundError:
            raise ValueError(f"no such file: {str(path)!r}") from None
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"not a PEM file of CA certificates: {str(path)!r} ({exc})") from None
        return path

    @model_validator(mode="after")
    def _tls_settings_need_tls(self) -> ImapConfig:
        if self.security == "none" and self.ca_file is not None:
            raise Located([(("ca_file",), 'only with security = "tls" or "starttls"')])
        return self

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS settings of a connection (None with security "none")."""
        if self.security == "none":
            return None
        context = ssl.create_default_context(cafile=None if self.ca_file is None else str(self.ca_file))
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class MailConfig(_Part):
    address: str = ""
    listen: str = ""
    accept_domains: list[str] = Field(default_factory=list)
    max_message_bytes: int = Field(10_000_000, ge=1_000, le=1_000_000_000)
    max_attachment_bytes: int = Field(5_000_000, ge=0, le=1_000_000_000)
    attachments_dir: Path = Field(Path("var/mail-attachments"), validate_default=True)  # (relative: to the file)
    queue: str = "email"
    due_hours: float = Field(4.0, gt=0, le=24 * 365)
    routes: dict[str, str] = Field(default_factory=dict)
    queue_due_hours: dict[str, float] = Field(default_factory=dict)
    relay: RelayConfig | None = None
    imap: ImapConfig | None = None
    send_attempts: int = Field(10, ge=1, le=1000)  # a reply the relay refuses this often is marked failed
    retry_s: float = Field(60.0, gt=0, le=86_400)  # wait between attempts (doubling, at most an hour)
    outbox_poll_s: float = Field(2.0, gt=0, le=3600)

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        return _address(value) if value else value

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        if not value:
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:2525 (port 0 takes any free one)")
        return value

    @field_validator("accept_domains")
    @classmethod
    def _check_domains(cls, value: list[str]) -> list[str]:
        bad = [(n, d) for n, d in enumerate(value) if not _DOMAIN.match(d)]
        if bad:
            raise Located([((n,), f"must be a domain such as example.com, not {d!r}") for n, d in bad])
        return [d.lower() for d in value]

    @field_validator("queue")
    @classmethod
    def _check_queue(cls, value: str) -> str:
        if not _QUEUE.match(value):
            raise ValueError("must be a queue name (letters, digits, _ . -)")
        return value

    @field_validator("routes")
    @classmethod
    def _check_routes(cls, value: dict[str, str]) -> dict[str, str]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for addr, queue in value.items():
            if not _ADDRESS.match(addr):
                problems.append(((addr,), "the key must be an e-mail address such as billing@example.com"))
            elif not _QUEUE.match(queue):
                problems.append(((addr,), "must be a queue name (letters, digits, _ . -)"))
        if problems:
            raise Located(problems)
        return {addr.lower(): queue for addr, queue in value.items()}

    @field_validator("queue_due_hours")
    @classmethod
    def _check_due(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [queue for queue, hours in value.items() if not 0 < hours <= 24 * 365]
        if bad:
            raise Located([((queue,), "must be a number of hours > 0 (at most a year)") for queue in bad])
        return value

    @field_validator("attachments_dir")
    @classmethod
    def _resolve_dir(cls, value: Path, info: ValidationInfo) -> Path:
        base = getattr(info.context, "base_dir", None)
        return value if value.is_absolute() or base is None else base / value

    @model_validator(mode="after")
    def _replies_need(self) -> MailConfig:
        if self.relay is not None and not self.address:
            raise Located([(("address",), "required with [mail.relay]: the From: of the agents' replies")])
        return self

    @property
    def enabled(self) -> bool:
        """Is mail received at all (a listener or a mailbox)?"""
        return bool(self.listen) or self.imap is not None

    def queue_for(self, recipients: list[str]) -> str:
        """The queue of a mail sent to `recipients`: the first routed one, else the default."""
        for rcpt in recipients:
            queue = self.routes.get(rcpt.lower())
            if queue:
                return queue
        return self.queue

    def due_s(self, queue: str) -> float:
        return 3600.0 * self.queue_due_hours.get(queue, self.due_hours)
