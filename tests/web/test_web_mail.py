"""E-mail in `hotline serve` (mail/web.py): the app's own SMTP listener takes a mail,
its attachment and HTML are served only to those allowed, and an agent's reply leaves
through the relay (a real aiosmtpd sink) with its state on the task's mail view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient

from cti.server import STORE
from mail.config import MailConfig, RelayConfig
from mail.intake import task_id_for
from mail.web import MAIL
from tasks.web import TASK_DESK
from tests.mail.sink import Sink, smtp_sink
from tests.web.conftest import serving, web_config
from tests.web.web_helpers import login, wait_until


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    async with smtp_sink() as s:
        yield s


@pytest.fixture
async def app_client(tmp_path: Path, sink: Sink) -> AsyncIterator[TestClient]:
    mail = MailConfig(
        address="support@example.com",
        listen="127.0.0.1:0",
        queue="support",
        attachments_dir=tmp_path / "attachments",
        relay=RelayConfig(host="127.0.0.1", port=sink.port, timeout_s=5),
        outbox_poll_s=0.05,
    )
    async with serving(web_config(f"sqlite:///{tmp_path}/web.sqlite3", mail=mail)) as c:
        yield c


async def send_in(client: TestClient) -> str:
    msg = EmailMessage()
    msg["From"] = "Grace Hopper <grace@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = "Broken invoice"
    msg["Message-ID"] = "<g1@example.com>"
    msg.set_content("See the attachment.")
    msg.add_alternative('<p>See <b>it</b><script>alert(1)</script><img src="http://x.test/t.gif"></p>', subtype="html")
    msg.add_attachment(b"%PDF-1.4 data", maintype="application", subtype="pdf", filename="invoice.pdf")
    bound = client.server.app[MAIL].bound
    assert bound is not None
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=bound[1], timeout=5)
    return task_id_for("<g1@example.com>")


async def test_attachments_and_html_only_for_those_allowed(app_client: TestClient) -> None:
    app = app_client.server.app
    task_id = await send_in(app_client)
    task = await app[STORE].get_task(task_id)
    assert task.customer_id == "C0000042"  # matched by the From address
    [message] = await app[STORE].task_messages(task_id)
    att_id = message.meta["attachments"][0]["id"]
    url = f"/api/v1/mail/attachments/{att_id}"
    html_url = f"/api/v1/tasks/{task_id}/messages/{message.message_id}/html"

    assert (await app_client.get(url)).status == 401
    await login(app_client, "agent01")
    assert (await app_client.get(url)).status == 403  # not theirs (nobody has it yet)
    assert (await app_client.get(html_url)).status == 403
    # the router gives it to agent01
    await app[STORE].update_task(replace(task, state="assigned", agent_id="agent01"), from_states=("waiting",))
    got = await app_client.get(url)
    assert got.status == 200 and await got.read() == b"%PDF-1.4 data"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"] == "attachment; filename*=UTF-8''invoice.pdf"
    page = await app_client.get(html_url)
    body = await page.text()
    assert page.status == 200 and "<b>it</b>" in body and "script" not in body and "x.test" not in body
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert (await app_client.get("/api/v1/mail/attachments/nope")).status == 404
    assert [(e.actor, e.target) for e in await app[STORE].audit_entries(action="mail.attachment")] == [
        ("agent01", task_id)
    ]

    await login(app_client, "agent02")  # another team's agent
    assert (await app_client.get(url)).status == 403
    await login(app_client, "sup")  # agent01's supervisor
    assert (await app_client.get(url)).status == 200


async def test_the_agents_reply_is_sent_and_its_state_shown(app_client: TestClient, sink: Sink) -> None:
    app = app_client.server.app
    task_id = await send_in(app_client)
    task = await app[STORE].get_task(task_id)
    await app[STORE].update_task(replace(task, state="assigned", agent_id="agent01"), from_states=("waiting",))
    reply = await app[TASK_DESK].add_message(task_id, direction="out", author="agent01", text="Fixed, sorry.")
    [sent] = await sink.wait_for(1)
    assert (sent["In-Reply-To"], sent["Subject"]) == ("<g1@example.com>", "Re: Broken invoice")
    await login(app_client, "agent01")

    async def state() -> str:
        body = await (await app_client.get(f"/api/v1/tasks/{task_id}/mail")).json()
        return str(body["outbox"][0]["state"])

    async def sent_state() -> bool:
        return await state() == "sent"

    await wait_until(sent_state)
    body = await (await app_client.get(f"/api/v1/tasks/{task_id}/mail")).json()
    assert body["outbox"][0]["id"] == reply.message_id and body["outbox"][0]["state"] == "sent"
    assert body["attachments"][0]["filename"] == "invoice.pdf"
    health = (await (await app_client.get("/healthz")).json())["mail"]
    bound = app[MAIL].bound
    assert bound is not None
    assert health == {"status": "ok", "listen": f"127.0.0.1:{bound[1]}", "imap": False, "outbox": {"sent": 1}}


async def test_healthz_says_mail_is_off_without_a_mail_section(client: TestClient) -> None:
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["mail"] == {"status": "disabled"}
