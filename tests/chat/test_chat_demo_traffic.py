"""The demo's simulated chat customer, against the real chat websocket and task desk."""

from __future__ import annotations

import random
from pathlib import Path

import aiohttp

from chat.demo_traffic import OPENERS, customer
from chat.web import CHAT
from tests.web.conftest import serving, web_config


async def test_a_demo_customer_writes_waits_and_leaves_unanswered(tmp_path: Path) -> None:
    async with serving(web_config(f"sqlite:///{tmp_path}/demo.sqlite3")) as client, aiohttp.ClientSession() as http:
        await customer(http, str(client.make_url("/chat/ws")), 7, random.Random(1), patience=(0.2, 0.3))
        desk = client.server.app[CHAT].desk
        [task] = await client.server.app[CHAT].store.tasks_between(0, 1e12)
        assert (task.channel, task.state, task.attrs["email"]) == ("chat", "abandoned", "chat.customer7@example.com")
        [said] = await desk.messages(task.task_id)
        assert said.text in OPENERS
