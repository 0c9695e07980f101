"""A received e-mail's bytes -> `ParsedMail`: the thread's ids, who it is from, the text
and HTML bodies, the attachments, and whether it was sent by a machine (pure: no I/O).

Threading reads Message-ID, In-Reply-To and References (RFC 5322 3.6.4); a mail
without a Message-ID gets one derived from its bytes, so a re-delivery of the same
bytes is recognised. `automatic` is true for bounces and auto-replies (RFC 3834
Auto-Submitted, a null return path, Precedence bulk/junk/list, X-Autoreply,
multipart/report delivery notifications): such mail is kept on its thread but never
opens a task nor gets an answer, so two robots cannot loop.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

_MSGID = re.compile(r"<[^<>\s]+>")
MAX_REFERENCES = 50  # a References header longer than this keeps its newest ids


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""  # "<...>" of an inline part (an HTML body's cid: image)


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str  # "<...>" as sent (or derived from the bytes)
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_address: str  # lower-cased; "" when unreadable
    from_name: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    attachments: tuple[Attachment, ...] = field(default=())
    automatic: bool = False

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The ids that may name an earlier mail of this thread, nearest first."""
        seen: list[str] = []
        for mid in (*self.in_reply_to, *reversed(self.references)):
            if mid not in seen and mid != self.message_id:
                seen.append(mid)
        return tuple(seen)


def message_ids(value: str | None) -> tuple[str, ...]:
    """The `<id>`s of a Message-ID / In-Reply-To / References header, in order."""
    return tuple(_MSGID.findall(str(value or "")))


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError):  # a header the policy cannot read
        value = None
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                value = raw
    return str(value or "").strip()


def is_automatic(msg: EmailMessage, envelope_from: str | None = None) -> bool:
    """A bounce, auto-reply or bulk mail (RFC 3834): never answered nor routed."""
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return True
    if envelope_from is not None and envelope_from.strip("<> ") == "":
        return True  # a null return path: delivery notifications
    if _header(msg, "Return-Path").replace(" ", "") == "<>":
        return True  # (as a mailbox stores the envelope's null sender)
    if _header(msg, "Precedence").lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond") or _header(msg, "X-Auto-Response-Suppress"):
        return True
    if msg.get_content_type() == "multipart/report":
        return True
    sender = parseaddr(_header(msg, "From"))[1].lower()
    return sender.split("@")[0] in ("mailer-daemon", "postmaster")


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""  # (CRLF on the wire)


def parse_mail(raw: bytes, *, envelope_from: str | None = None) -> ParsedMail:
    """Parse one message; never raises on malformed mail (what cannot be read is empty)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    ids = message_ids(_header(msg, "Message-ID"))
    message_id = ids[0] if ids else f"<{hashlib.sha256(raw).hexdigest()[:32]}@hotline.invalid>"
    name, address = parseaddr(_header(msg, "Reply-To") or _header(msg, "From"))
    if not name:
        name = parseaddr(_header(msg, "From"))[0]
    to = tuple(a.lower() for _, a in getaddresses([_header(msg, "To"), _header(msg, "Cc")]) if "@" in a)
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    text = _text_of(text_part) if isinstance(text_part, EmailMessage) else ""
    html = _text_of(html_part) if isinstance(html_part, EmailMessage) else None
    attachments: list[Attachment] = []
    for part in msg.walk():  # (inline images sit inside multipart/related, below the top)
        if not isinstance(part, EmailMessage) or part.is_multipart() or part is text_part or part is html_part:
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        cid = message_ids(_header(part, "Content-ID"))
        name = part.get_filename() or "attachment"
        attachments.append(Attachment(name, part.get_content_type(), data, cid[0] if cid else ""))
    return ParsedMail(
        message_id=message_id,
        in_reply_to=message_ids(_header(msg, "In-Reply-To")),
        references=message_ids(_header(msg, "References"))[-MAX_REFERENCES:],
        from_address=address.lower() if "@" in address else "",
        from_name=name,
        to=to,
        subject=_header(msg, "Subject").replace("\r", "").replace("\n", " ")[:998],
        text=text,
        html=html,
        attachments=tuple(attachments),
        automatic=is_automatic(msg, envelope_from),
    )


def reply_subject(subject: str) -> str:
    """`Re: subject`, without stacking `Re: Re:`."""
    stripped = subject.strip()
    return stripped if re.match(r"(?i)^re\s*:", stripped) else f"Re: {stripped}".rstrip()
