"""A chat from the customer's websocket through `hotline serve`'s live loop on the PBX
emulator (issue 18): offered to the agent until they accept it on the web API, counted
in the channel report and not in the voice report (both read through the web API), and
each of its steps once in the event log."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestClient, TestServer

from chat.config import ChatConfig
from cti.live_app import LIVE
from cti.server import STORE, create_app
from events import AgentStateChanged
from sim.pbx_emulator.server import PbxEmulator
from store import open_store
from tests.chat.test_chat_live_browser import live_config
from tests.chat.test_chat_ws import frame, started, task_of
from tests.live.test_live_browser import SECRET
from tests.live.test_live_commands import Desk
from tests.web.web_helpers import seed_customer, seed_users

ROUTING = {
    "defaults": {"wrap_up_s": 30},
    "rona": {"ring_timeout_s": 15, "accept_s": {"chat": 30}},
    "capacity": {"default": {"combos": [{"voice": 1, "chat": 2}]}},
    "queues": {q: {"targets": [{"expression": f"skills.{q} > 0"}]} for q in ("billing", "support", "sales")},
    "default_queue": "billing",
}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestClient]:
    emulator = PbxEmulator("hotline", SECRET)
    await emulator.start()
    config = live_config(
        tmp_path,
        emulator,
        routing=ROUTING,
        chat=ChatConfig(queues=["support"], allowed_origins=["https://shop.example.com"]),
    )
    store = await open_store(config.store)
    await store.migrate()
    await seed_users(store)
    await seed_customer(store, time.time())
    await store.close()
    client = TestClient(TestServer(create_app(config)))
    await asyncio.wait_for(client.start_server(), 20)
    try:
        yield client
    finally:
        await asyncio.wait_for(client.close(), 20)
        await emulator.stop()


async def until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while not await predicate():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def test_a_websocket_chat_is_accepted_on_the_api_and_counted_by_channel_not_as_a_call(
    server: TestClient,
) -> None:
    app = server.server.app
    base = str(server.make_url("")).rstrip("/")
    ada = Desk("agent01", ClientSession(cookie_jar=CookieJar(unsafe=True)), base)
    sup = Desk("sup", ClientSession(cookie_jar=CookieJar(unsafe=True)), base)
    ws = None
    try:
        await ada.sign_in()
        await sup.sign_in()
        await until(lambda: _true(LIVE in app and app[LIVE] is not None))
        await ada.ok("available")
        ws, hello = await started(server, "Grace", "grace@example.com")
        task_id = await task_of(server, hello["token"])
        store = app[STORE]

        async def offered() -> bool:
            row = await store.get_task(task_id)
            return row.state == "offered" and row.agent_id == "agent01"

        await until(offered)
        status, body, _ = await ada.get("/api/v1/agents/agent01/tasks")
        [tab] = json.loads(body)["tasks"]
        assert status == 200 and tab["task"]["state"] == "offered" and tab["customer"]["name"] == "Grace Hopper"
        await ada.ok("task_accept", task_id=task_id)
        assert (await frame(ws, "assigned"))["agent"]
        await ada.ok("task_reply", task_id=task_id, text="Hello Grace, how can I help?")
        assert (await frame(ws, "message"))["text"] == "Hello Grace, how can I help?"
        await ws.send_json({"type": "leave"})
        live = app[LIVE]

        async def released() -> bool:
            return live.task_routing.held(task_id) is None and (await store.get_task(task_id)).state == "closed"

        await until(released)
        await asyncio.wait_for(live.eventlog.flushed(), 10)

        # each step once in the log; no voice state for the chat
        events = [s.event for s in await store.events_between(0, 1e12)]
        steps = [type(e).__name__ for e in events if getattr(e, "task_id", "") == task_id]
        assert steps == ["TaskQueued", "TaskOffered", "TaskAccepted", "TaskClosed"]
        states = {e.state for e in events if isinstance(e, AgentStateChanged) and e.agent_id == "agent01"}
        assert states == {"available"}

        # the reports a supervisor reads: the chat in the channel report, no call in the voice one
        status, body, _ = await sup.get("/api/v1/reports/channels")
        chat = json.loads(body)["channels"]["chat"]
        assert status == 200 and (chat["offered"], chat["answered"], chat["abandoned"]) == (1, 1, 0)
        assert chat["first_response_s"] is not None
        status, body, _ = await sup.get("/api/v1/reports")
        report = json.loads(body)
        assert status == 200 and report["overall"]["offered"] == 0
        row = report["agents"]["agent01"]["total"]
        assert (row["offers"], row["handled"], row["on_call_s"], row["reserved_s"], row["occupancy"]) == (0, 0, 0, 0, 0)
    finally:
        if ws is not None:
            await ws.close()
        await ada.session.close()
        await sup.session.close()


async def _true(value: bool) -> bool:
    return value
