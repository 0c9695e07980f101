"""The demo's simulated chat customer, against the real chat websocket and task desk."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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


class _Socket:
    """The customer's websocket, its frames handed in by the test."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[Any] = asyncio.Queue()

    async def __aenter__(self) -> _Socket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send_json(self, data: Any) -> None:
        return None

    async def receive(self) -> Any:
        return await self.frames.get()


async def test_a_demo_customer_ends_at_a_cancel_that_came_with_a_frame() -> None:
    """Python 3.11's asyncio.wait_for returns the awaited result when the cancel comes
    with it (CPython gh-86296): a frame and the cancel in one turn of the event loop,
    and the customer waited on for up to its patience while `hotline demo` stopped."""
    socket = _Socket()
    session = SimpleNamespace(ws_connect=lambda url: socket)
    waiting = customer(session, "ws://demo/chat/ws", 7, random.Random(1), patience=(3600, 3600))  # type: ignore[arg-type]
    task = asyncio.create_task(waiting)
    try:
        for _ in range(5):  # (the customer and its wait_for's inner task both waiting for a frame)
            await asyncio.sleep(0)
        socket.frames.put_nowait(SimpleNamespace(type=aiohttp.WSMsgType.TEXT, data=json.dumps({"type": "status"})))
        task.cancel()  # (after the frame: wait_for finds the receive done and returns it)
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done and task.cancelled()
    finally:
        task.cancel()
