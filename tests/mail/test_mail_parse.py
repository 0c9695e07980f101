"""Parsing received mail (mail/parse.py) and sanitising its HTML (mail/sanitize.py)."""

from __future__ import annotations

from email.message import EmailMessage

from mail.parse import parse_mail, reply_subject
from mail.sanitize import sanitize_html


def mail(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Ann Lee <Ann@Customer.test>")
    msg["To"] = headers.pop("To", "support@example.com")
    msg["Subject"] = headers.pop("Subject", "My invoice")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello,\nthe invoice is wrong.\n")
    return msg


def test_threading_headers_sender_and_body_are_read() -> None:
    msg = mail(
        Message_ID="<a2@customer.test>",
        In_Reply_To="<r1@example.com>",
        References="<a1@customer.test> <r1@example.com>",
    )
    got = parse_mail(msg.as_bytes())
    assert got.message_id == "<a2@customer.test>"
    assert got.in_reply_to == ("<r1@example.com>",)
    assert got.references == ("<a1@customer.test>", "<r1@example.com>")
    assert got.thread_ids == ("<r1@example.com>", "<a1@customer.test>")
    assert (got.from_address, got.from_name, got.to) == ("ann@customer.test", "Ann Lee", ("support@example.com",))
    assert got.text == "Hello,\nthe invoice is wrong.\n" and got.html is None and not got.automatic


def test_a_mail_without_message_id_gets_one_from_its_bytes() -> None:
    raw = mail().as_bytes()
    assert parse_mail(raw).message_id == parse_mail(raw).message_id
    assert parse_mail(raw).message_id.endswith("@hotline.invalid>")
    assert parse_mail(raw + b"x").message_id != parse_mail(raw).message_id


def test_bounces_and_auto_replies_are_automatic() -> None:
    assert parse_mail(mail(Auto_Submitted="auto-replied").as_bytes()).automatic
    assert not parse_mail(mail(Auto_Submitted="no").as_bytes()).automatic
    assert parse_mail(mail(Precedence="bulk").as_bytes()).automatic
    assert parse_mail(mail(From="MAILER-DAEMON@mx.test").as_bytes()).automatic
    assert parse_mail(mail().as_bytes(), envelope_from="<>").automatic
    assert parse_mail(mail(Return_Path="<>").as_bytes()).automatic
    assert not parse_mail(mail().as_bytes(), envelope_from="ann@customer.test").automatic


def test_html_alternative_and_attachments_with_content_id() -> None:
    msg = mail()
    msg.add_alternative('<p>Hi <img src="cid:logo@x"></p>', subtype="html")
    msg.get_payload()[1].add_related(b"\x89PNG", "image", "png", cid="<logo@x>")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="../../etc/invoice.pdf")
    got = parse_mail(msg.as_bytes())
    assert got.html is not None and "cid:logo@x" in got.html
    by_type = {a.content_type: a for a in got.attachments}
    assert by_type["application/pdf"].data == b"%PDF-1.4"
    assert by_type["application/pdf"].filename == "../../etc/invoice.pdf"  # (made safe when stored)
    assert by_type["image/png"].content_id == "<logo@x>"


def test_broken_mail_never_raises() -> None:
    got = parse_mail(b"From: <<<\r\nSubject: =?bogus?Q?x?=\r\nContent-Type: text/plain; charset=nope\r\n\r\n\xff\xfe")
    assert got.from_address == "" and got.message_id.startswith("<")


def test_reply_subject_does_not_stack() -> None:
    assert reply_subject("My invoice") == "Re: My invoice"
    assert reply_subject("RE: My invoice") == "RE: My invoice"
    assert reply_subject("re:x") == "re:x"


def test_sanitiser_removes_scripts_handlers_and_remote_images() -> None:
    html = (
        '<p onclick="steal()">Hi<script>alert(1)</script><img src="https://tracker.test/pixel.gif">'
        '<img src="cid:logo@x"><a href="javascript:alert(1)">x</a><a href="https://ok.test/">ok</a>'
        "<style>body{}</style><iframe src='https://x'></iframe>"
        '<a href="data:text/html,<script>alert(1)</script>">d</a><img src="data:image/png;base64,iVBO"></p>'
    )
    safe = sanitize_html(html, {"<logo@x>": "/api/v1/mail/attachments/abc"})
    assert "script" not in safe.html and "onclick" not in safe.html and "iframe" not in safe.html
    assert "tracker.test" not in safe.html and safe.blocked_images == 1
    assert 'src="/api/v1/mail/attachments/abc"' in safe.html
    assert "javascript" not in safe.html
    assert 'href="https://ok.test/"' in safe.html and 'rel="noopener noreferrer nofollow"' in safe.html
    assert 'target="_blank"' in safe.html
    assert "data:text" not in safe.html and 'src="data:image/png;base64,iVBO"' in safe.html
