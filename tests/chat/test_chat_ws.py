"""The customer chat's websocket against the real task desk and store (SQLite, the
in-process bus): a conversation's start, its place in queue, messages both ways as
plain text, typing, the limits, resuming after a reload, and its end.

(The agent's side here is the task desk the desktop's API calls; the whole chain with
the live loop's router and the agent's desktop is in test_chat_browser.py.)"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient

from chat import web as chat_web
from chat.config import ChatConfig
from chat.service import token_hash
from chat.web import CHAT, Connection
from cti.server import BUS, STORE
from tests.web.conftest import redis_processes, serving, web_config  # noqa: F401  (fixture)
from tests.web.web_helpers import CUSTOMER

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    chat = ChatConfig(
        queues=["support", "sales"],
        allowed_origins=["https://shop.example.com"],
        resume_s=0.6,
        max_text=100,
        messages_per_minute=4,
        address_messages_per_minute=6,
        address_chats_per_hour=3,
        address_connections=5,
    )
    async with serving(web_config(f"sqlite:///{tmp_path}/chat.sqlite3", chat=chat)) as c:
        yield c


async def frame(ws: ClientWebSocketResponse, *kinds: str) -> dict[str, Any]:
    """The next frame of one of `kinds` (any when none), skipping others."""
    while True:
        got = json.loads(await asyncio.wait_for(ws.receive_str(), 3))
        if not kinds or got["type"] in kinds:
            return got


async def started(client: TestClient, name: str = "Grace", email: str = "grace@example.com", **extra: Any) -> Any:
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "start", "name": name, "email": email, **extra})
    hello = await frame(ws, "started")
    return ws, hello


def desk(client: TestClient) -> Any:
    return client.server.app[CHAT].desk


async def task_of(client: TestClient, token: str) -> str:
    session = await client.server.app[STORE].get_chat_session(token_hash(token))
    assert session is not None
    return session.task_id


async def until(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_customer_starts_waits_in_line_and_is_matched_to_the_customer_record(client: TestClient) -> None:
    ws1, hello = await started(client)
    assert len(hello["token"]) == 43 and hello["chat"] == {"name": "Grace", "queue": "support"}
    assert (await frame(ws1, "status"))["position"] == 1
    ws2, hello2 = await started(client, "Bo", "bo@example.com")
    assert (await frame(ws2, "status"))["position"] == 2
    task = await desk(client).get(await task_of(client, hello["token"]))
    assert (task.channel, task.queue, task.state, task.customer_id) == ("chat", "support", "waiting", CUSTOMER.id)
    assert task.attrs["email"] == "grace@example.com"
    other = await desk(client).get(await task_of(client, hello2["token"]))
    assert other.customer_id is None  # no record with that address
    ws3, _ = await started(client, "Sam", "sam@example.com", queue="sales")
    assert (await frame(ws3, "status"))["position"] == 1  # a line per queue
    for ws in (ws1, ws2, ws3):
        await ws.close()


async def test_messages_both_ways_are_plain_text_and_notes_stay_inside(client: TestClient) -> None:
    ws, hello = await started(client)
    task_id = await task_of(client, hello["token"])
    await ws.send_json({"type": "say", "text": XSS})
    mine = await frame(ws, "message")
    assert (mine["direction"], mine["author"], mine["text"]) == ("in", "Grace", XSS)
    await desk(client).add_message(task_id, direction="note", author="agent01", text="internal: VIP")
    await desk(client).add_message(task_id, direction="out", author="Ada", text="<b>Hello</b> & welcome")
    theirs = await frame(ws, "message")
    assert (theirs["direction"], theirs["text"]) == ("out", "<b>Hello</b> & welcome")
    stored = await desk(client).messages(task_id)
    assert [(m.direction, m.text, m.html) for m in stored] == [
        ("in", XSS, None),
        ("note", "internal: VIP", None),
        ("out", "<b>Hello</b> & welcome", None),
    ]
    await ws.close()


async def test_typing_hints_go_both_ways(client: TestClient) -> None:
    from store.topics import subscribe, task_topic

    ws, hello = await started(client)
    task_id = await task_of(client, hello["token"])
    async with subscribe(client.server.app[BUS], task_topic(task_id)) as inbox:
        await ws.send_json({"type": "typing", "on": True})
        note = await asyncio.wait_for(inbox.get(), 3)
        assert (note.kind, note.who) == ("typing", "customer")
    await desk(client).typing(task_id, "agent01")
    assert (await frame(ws, "typing"))["on"] is True
    await ws.close()


async def test_bad_frames_and_limits_get_clear_errors_and_the_connection_stays(client: TestClient) -> None:
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "say", "text": "hi"})
    assert (await frame(ws, "error"))["message"] == "type: start or resume a chat first"
    await ws.send_json({"type": "start", "name": "Grace", "email": "nope"})
    bad = await frame(ws, "error")
    assert bad["field"] == "email" and bad["message"].startswith("email: must be an e-mail address")
    await ws.send_str("{not json")
    assert (await frame(ws, "error"))["message"] == "frame: must be a JSON object"
    await ws.send_json({"type": "start", "name": "Grace", "email": "grace@example.com"})
    await frame(ws, "started")
    await ws.send_json({"type": "start", "name": "Again", "email": "grace@example.com"})
    assert (await frame(ws, "error"))["message"] == "type: this connection already has a chat"
    await ws.send_json({"type": "say", "text": "x" * 101})
    assert (await frame(ws, "error"))["message"] == "text: at most 100 characters (this one has 101)"
    for n in range(4):
        await ws.send_json({"type": "say", "text": f"m{n}"})
        assert (await frame(ws, "message"))["text"] == f"m{n}"
    await ws.send_json({"type": "say", "text": "one too many"})
    limited = await frame(ws, "error")
    assert limited["message"].startswith("You are sending messages too fast: wait ")
    assert 55 <= limited["retry_after"] <= 61
    await ws.send_json({"type": "ping"})
    assert (await frame(ws))["type"] == "pong"  # still open
    await ws.close()


async def test_the_address_limits_hold_over_connections(client: TestClient) -> None:
    sockets = []
    for n in range(3):
        ws, _ = await started(client, f"C{n}", f"c{n}@example.com")
        sockets.append(ws)
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "start", "name": "C4", "email": "c4@example.com"})
    refused = await frame(ws, "error")
    assert refused["message"].startswith("Too many new chats from your address: try again in ")
    sent = 0
    for n in range(8):  # 6 a minute from one address, whatever the connection
        await sockets[n % 3].send_json({"type": "say", "text": f"m{n}"})
        got = await frame(sockets[n % 3], "message", "error")
        sent += got["type"] == "message"
        if got["type"] == "error":
            assert got["message"].startswith("Too many messages from your address")
    assert sent == 6
    for s in [*sockets, ws]:
        await s.close()


async def test_a_flood_of_frames_closes_that_connection(client: TestClient) -> None:
    ws, _ = await started(client)
    for _ in range(101):
        await ws.send_json({"type": "ping"})
    closing = await frame(ws, "error")
    assert closing == {"type": "error", "message": "Too many frames: this connection is closed.", "fatal": True}
    await asyncio.wait_for(ws.receive(), 3)
    assert ws.close_code == 4429


async def test_open_connections_per_address_are_capped(client: TestClient) -> None:
    sockets = [await client.ws_connect("/chat/ws") for _ in range(5)]
    extra = await client.ws_connect("/chat/ws")
    refused = await frame(extra, "error")
    assert refused == {"type": "error", "message": "Too many chat windows open from your address.", "fatal": True}
    await asyncio.wait_for(extra.receive(), 3)
    assert extra.close_code == 4429
    await sockets[0].close()

    async def room() -> bool:
        ws = await client.ws_connect("/chat/ws")
        await ws.send_json({"type": "ping"})
        ok = (await frame(ws))["type"] == "pong"
        if ok:
            sockets.append(ws)
        else:
            await ws.close()
        return ok

    await until(room)  # a closed one makes room
    for s in sockets[1:]:
        await s.close()


async def test_the_agent_transfers_and_closes_and_the_customer_hears_it(client: TestClient) -> None:
    other, _ = await started(client, "Bo", "bo@example.com", queue="sales")
    ws, hello = await started(client)
    task_id = await task_of(client, hello["token"])
    assert (await frame(ws, "status"))["position"] == 1
    await desk(client).transfer(task_id, queue="sales")
    assert (await frame(ws, "status"))["position"] == 2  # behind Bo, who came first, in the new queue
    await desk(client).close(task_id, by="agent01")
    ended = await frame(ws, "ended")
    assert (ended["reason"], ended["message"]) == ("closed", "The agent ended the chat.")
    session = await client.server.app[STORE].get_chat_session(token_hash(hello["token"]))
    assert session is not None and session.end_reason == "closed"
    await ws.send_json({"type": "say", "text": "hello?"})
    assert (await frame(ws, "error"))["message"] == "type: start or resume a chat first"
    for s in (ws, other):
        await s.close()


async def test_a_frame_too_large_closes_only_that_connection(client: TestClient) -> None:
    ws, _ = await started(client)
    await ws.send_str(json.dumps({"type": "say", "text": "x" * 20_000}))
    msg = await asyncio.wait_for(ws.receive(), 3)
    while msg.type.name == "TEXT":
        msg = await asyncio.wait_for(ws.receive(), 3)
    assert ws.close_code in (1009, 1006)  # message too big (the client may see only the drop)
    other, _ = await started(client, "Bo", "bo@example.com")
    await other.close()


async def test_a_reload_resumes_with_the_transcript_and_a_token_reads_only_its_own_chat(client: TestClient) -> None:
    ws, hello = await started(client)
    task_id = await task_of(client, hello["token"])
    await ws.send_json({"type": "say", "text": "first"})
    await frame(ws, "message")
    await desk(client).add_message(task_id, direction="note", author="agent01", text="secret note")
    await ws.close()
    again = await client.ws_connect("/chat/ws")
    await again.send_json({"type": "resume", "token": hello["token"]})
    back = await frame(again, "resumed")
    assert [m["text"] for m in back["messages"]] == ["first"]  # no internal note
    assert (await frame(again, "status"))["position"] == 1
    stranger = await client.ws_connect("/chat/ws")
    await stranger.send_json({"type": "resume", "token": "A" * 43})
    refused = await frame(stranger, "error")
    assert (refused["field"], refused["message"]) == ("token", "This chat has ended.")
    await stranger.send_json({"type": "resume", "token": task_id})
    assert (await frame(stranger, "error"))["message"] == "token: not a chat token"
    for s in (again, stranger):
        await s.close()


async def test_closing_the_page_before_an_answer_is_an_abandon_and_leave_ends_at_once(client: TestClient) -> None:
    ws, hello = await started(client)
    task_id = await task_of(client, hello["token"])
    await ws.close()

    async def abandoned() -> bool:
        return (await desk(client).get(task_id)).state == "abandoned"

    await until(abandoned)  # resume_s (0.6 s) after the page went away
    late = await client.ws_connect("/chat/ws")
    await late.send_json({"type": "resume", "token": hello["token"]})
    assert (await frame(late, "error"))["message"] == "This chat has ended."

    ws2, hello2 = await started(client, "Bo", "bo@example.com")
    await ws2.send_json({"type": "leave"})
    ended = await frame(ws2, "ended")
    assert ended["reason"] == "left"
    assert (await desk(client).get(await task_of(client, hello2["token"]))).state == "abandoned"
    await ws2.send_json({"type": "start", "name": "Bo", "email": "bo@example.com"})  # again, on the same page
    hello3 = await frame(ws2, "started")
    assert (await frame(ws2, "status"))["position"] == 1
    assert await task_of(client, hello3["token"]) != await task_of(client, hello2["token"])
    for s in (late, ws2):
        await s.close()


async def test_the_pages_and_their_headers(client: TestClient) -> None:
    page = await client.get("/chat/?queue=sales")
    assert page.status == 200
    body = await page.text()
    assert 'data-queue="sales"' in body and 'src="/chat/chat.js"' in body
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://shop.example.com" in csp and "script-src 'self'" in csp
    assert 'data-queue="support"' in await (await client.get("/chat/?queue=<x>")).text()
    widget = await client.get("/chat/widget.js")
    assert widget.status == 200 and widget.content_type == "text/javascript"
    assert "hotline-chat-frame" in await widget.text()
    assert (await client.get("/chat/chat.js")).status == 200
    assert (await client.get("/chat/secret.py")).status == 404
    hijack = await client.get(
        "/chat/ws", headers={"Origin": "https://evil.example", "Upgrade": "websocket", "Connection": "Upgrade"}
    )
    assert hijack.status == 403


async def test_a_chat_left_while_the_server_restarts_is_still_abandoned_once(tmp_path: Path) -> None:
    """The page goes away, the process stops: the next process's sweep ends the chat."""
    config = web_config(f"sqlite:///{tmp_path}/restart.sqlite3", chat=ChatConfig(resume_s=0.5))
    async with serving(config) as first:
        ws, hello = await started(first)
        task_id = await task_of(first, hello["token"])
        await ws.send_json({"type": "say", "text": "anyone there?"})
        await frame(ws, "message")
    # (the shutdown closed the page's socket: it is gone since then)
    async with serving(config) as second:

        async def abandoned() -> bool:
            return (await desk(second).get(task_id)).state == "abandoned"

        await until(abandoned)
        session = await second.server.app[STORE].get_chat_session(token_hash(hello["token"]))
        assert session is not None and session.end_reason == "page_closed"
        assert [m.text for m in await desk(second).messages(task_id)] == ["anyone there?"]
        assert await second.server.app[CHAT].sweep_once() == 0  # once


async def test_two_processes_on_postgresql_and_redis_carry_one_chat(redis_processes) -> None:  # noqa: F811
    """The customer on one process, the agent's desk on another; the page reloads onto
    the second process and resumes."""
    a, b = await redis_processes(), await redis_processes()
    try:
        ws, hello = await started(a)
        task_id = await task_of(a, hello["token"])
        await desk(b).add_message(task_id, direction="out", author="Ada", text="Hi from process B")
        assert (await frame(ws, "message"))["text"] == "Hi from process B"
        await ws.close()
        again = await b.ws_connect("/chat/ws")
        await again.send_json({"type": "resume", "token": hello["token"]})
        assert [m["text"] for m in (await frame(again, "resumed"))["messages"]] == ["Hi from process B"]
        await again.close()
        # the address's new chats are counted over both processes (on Redis): 10 an hour
        sockets = [(await started(a if n % 2 else b, f"C{n}", f"c{n}@example.com"))[0] for n in range(9)]
        extra = await a.ws_connect("/chat/ws")
        await extra.send_json({"type": "start", "name": "C9", "email": "c9@example.com"})
        assert (await frame(extra, "error"))["message"].startswith("Too many new chats from your address")
        for s in [*sockets, extra]:
            await s.close()
    finally:
        for c in (a, b):
            await asyncio.wait_for(c.close(), 20)


async def test_the_desktops_task_socket_is_only_for_the_agent_of_the_task(client: TestClient) -> None:
    from aiohttp import WSServerHandshakeError

    from tests.web.web_helpers import login

    ws, hello = await started(client)
    task_id = await task_of(client, hello["token"])
    for who, path, status in (
        (None, f"/agent/tasks/{task_id}/ws", 401),
        ("agent01", f"/agent/tasks/{task_id}/ws", 403),  # waiting: nobody's yet
        ("agent01", "/agent/tasks/nope/ws", 404),
    ):
        if who:
            await login(client, who)
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect(path)
        assert refused.value.status == status
    await ws.close()


async def test_the_forwarder_ends_at_a_cancel_that_came_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11's asyncio.wait_for returns the awaited result when the cancel comes
    with it (CPython gh-86296): a note and the cancel in one turn of the event loop,
    and the forwarder went on until the chat ended while `detach` (the customer's
    socket closing) waited for it."""
    notes: asyncio.Queue[str] = asyncio.Queue()

    @asynccontextmanager
    async def subscribe(bus: Any, topic: Any) -> AsyncIterator[asyncio.Queue[str]]:
        yield notes

    heard: list[str] = []

    async def catch_up() -> str:
        return "assigned"

    async def on_note(note: str, state: str) -> str:
        heard.append(note)
        return state

    monkeypatch.setattr(chat_web, "subscribe", subscribe)
    connection = Connection.__new__(Connection)  # (only what `forward` reads)
    connection.app, connection.ended = {BUS: None}, False  # type: ignore[assignment]
    connection.catch_up, connection.on_note = catch_up, on_note  # type: ignore[method-assign]
    task = asyncio.create_task(connection.forward(SimpleNamespace(task_id="t1")))  # type: ignore[arg-type]
    try:
        for _ in range(5):  # (the forwarder and its wait_for's inner task both waiting for a note)
            await asyncio.sleep(0)
        notes.put_nowait("message")
        task.cancel()  # (after the note: wait_for finds the get done and returns it)
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done and task.cancelled()
        assert heard == ["message"]
    finally:
        task.cancel()
