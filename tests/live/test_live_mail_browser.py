"""Issue 18's e-mail "done when", in a real browser: a customer's mail sent with a real
SMTP client to `hotline serve`'s listener becomes an e-mail task, the live loop's router
gives it to an available agent, the agent reads it in a tab of the desktop and answers,
and the answer arrives at the test's SMTP sink (the relay) in the same thread; the
customer's answer to it joins the same tab."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient

from cti.server import STORE
from mail.config import MailConfig, RelayConfig
from mail.intake import task_id_for
from mail.web import MAIL
from sim.pbx_emulator.server import PbxEmulator
from tests.live.test_live_browser import live_server  # noqa: F401  (fixture)
from tests.mail.sink import Sink, free_port, smtp_sink
from tests.web.test_web_browser import CHROMIUM, browser, sign_in  # noqa: F401  (fixture)
from tests.web.web_helpers import CUSTOMER

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]

RELAY_PORT = free_port()
SERVER = {
    "routing": {"capacity": {"default": {"combos": [{"voice": 1, "email": 2}]}}},
    "mail": MailConfig(
        address="support@example.com",
        listen="127.0.0.1:0",
        accept_domains=["example.com"],
        queue="support",
        relay=RelayConfig(host="127.0.0.1", port=RELAY_PORT, timeout_s=5),
        outbox_poll_s=0.1,
    ),
}


@pytest.fixture
async def relay() -> AsyncIterator[Sink]:
    async with smtp_sink(RELAY_PORT) as sink:
        yield sink


def customer_mail(subject: str, message_id: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{CUSTOMER.name} <{CUSTOMER.email}>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(text)
    return msg


@pytest.mark.parametrize("live_server", [SERVER], indirect=True)
async def test_a_mail_reaches_an_agent_who_answers_in_the_thread(
    browser,  # noqa: F811
    relay: Sink,
    live_server: tuple[TestClient, PbxEmulator],  # noqa: F811
) -> None:
    from playwright.async_api import expect

    server, _ = live_server
    sink = relay
    app = server.server.app
    page = await sign_in(browser, server, "agent01")
    await expect(page.locator("#conn")).to_have_text("live")
    await page.click("#btn-available")
    await expect(page.locator("#reply")).to_have_text("available: done")

    bound = app[MAIL].bound
    assert bound is not None
    first = customer_mail("Invoice 42 is wrong", "<inv42@example.com>", "Hello, I was charged twice.")
    first.add_alternative(
        "<p>Hello, I was charged <b>twice</b>.<script>window.parent.pwned = 1</script>"
        '<img src="http://tracker.test/open.gif"></p>',
        subtype="html",
    )
    first.add_attachment(b"%PDF-1.4 statement", maintype="application", subtype="pdf", filename="statement.pdf")
    await aiosmtplib.send(first, hostname="127.0.0.1", port=bound[1], timeout=5)
    task_id = task_id_for("<inv42@example.com>")

    tab = page.locator(f'.task-tab[data-task="{task_id}"]')
    await expect(tab).to_have_text("email: Invoice 42 is wrong", timeout=15000)
    panel = page.locator(f'.task-panel[data-task="{task_id}"]')
    await expect(panel.locator(".customer-name")).to_have_text(CUSTOMER.name)  # matched by the From address
    await expect(panel.locator(".msg-in .msg-text")).to_have_text("Hello, I was charged twice.")
    task = await app[STORE].get_task(task_id)
    assert (task.channel, task.state, task.agent_id) == ("email", "assigned", "agent01")
    # the HTML, sanitised, in a sandboxed frame; the tracker's image never loaded
    html = panel.locator(".msg-html")
    await expect(html.locator("summary")).to_have_text("Formatted (1 remote images not loaded)")
    await html.locator("summary").click()
    assert await html.locator("iframe").get_attribute("sandbox") == ""
    await expect(panel.frame_locator(".msg-html iframe").locator("b")).to_have_text("twice")
    assert await page.evaluate("window.pwned") is None
    link = panel.locator(".msg-attachments a")
    await expect(link).to_have_text("statement.pdf (1 KB)")
    href = await link.get_attribute("href")
    body = await page.evaluate("(url) => fetch(url).then(r => r.text())", href)
    assert body == "%PDF-1.4 statement"

    await panel.locator(".task-reply-text").fill("Refunded today, sorry.")
    await panel.locator(".task-send").click()
    await expect(panel.locator(".msg-out .msg-text")).to_have_text("Refunded today, sorry.")
    [sent] = await sink.wait_for(1, timeout=10)
    assert sent["To"] == CUSTOMER.email and sent["Subject"] == "Re: Invoice 42 is wrong"
    assert sent["In-Reply-To"] == "<inv42@example.com>" and sent["References"] == "<inv42@example.com>"
    assert sent.get_content().strip() == "Refunded today, sorry."
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.com>", sent["Message-ID"])

    answer = customer_mail("Re: Invoice 42 is wrong", "<inv42b@example.com>", "Thank you!")
    answer["In-Reply-To"] = sent["Message-ID"]
    answer["References"] = f"<inv42@example.com> {sent['Message-ID']}"
    await aiosmtplib.send(answer, hostname="127.0.0.1", port=bound[1], timeout=5)
    await expect(panel.locator(".msg-in .msg-text").last).to_have_text("Thank you!", timeout=10000)
    await expect(page.locator(".task-tab")).to_have_count(1)  # the same thread, the same tab

    # the agent closes it; the customer writes again on the thread: the same task
    # comes back (routed again, the same tab id), nothing new is opened
    await panel.locator(".task-disposition").select_option("resolved")
    await panel.locator(".task-close").click()
    await expect(tab).to_have_count(0)
    again = customer_mail("Re: Invoice 42 is wrong", "<inv42c@example.com>", "One more question.")
    again["In-Reply-To"] = "<inv42b@example.com>"
    await aiosmtplib.send(again, hostname="127.0.0.1", port=bound[1], timeout=5)
    await expect(tab).to_have_count(1, timeout=15000)
    await expect(panel.locator(".msg-in .msg-text").last).to_have_text("One more question.")
    assert [t.task_id for t in await app[STORE].tasks_between(0, 1e12)] == [task_id]
