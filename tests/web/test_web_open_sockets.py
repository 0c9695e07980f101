"""web/open_sockets.py on a real aiohttp server: a websocket whose handler was still
busy (awaiting the store, say) when the shutdown closed the others is closed as it is
added, so it does not hold the server's stop for the whole shutdown timeout."""

from __future__ import annotations

import asyncio
import time

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from web.open_sockets import OpenSockets

SOCKETS: web.AppKey[OpenSockets] = web.AppKey("sockets")
ENTERED: web.AppKey[asyncio.Event] = web.AppKey("entered")
RELEASE: web.AppKey[asyncio.Event] = web.AppKey("release")


async def slow_socket(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    request.app[ENTERED].set()
    await request.app[RELEASE].wait()  # (a handler's await on the store, while the shutdown starts)
    if not await request.app[SOCKETS].add(ws):
        return ws
    try:
        async for _ in ws:
            pass
    finally:
        request.app[SOCKETS].discard(ws)
    return ws


async def test_a_socket_added_during_the_shutdown_is_closed_at_once() -> None:
    app = web.Application()
    app[SOCKETS], app[ENTERED], app[RELEASE] = OpenSockets(), asyncio.Event(), asyncio.Event()
    app.on_shutdown.append(app[SOCKETS].close_all)

    async def release_late(app: web.Application) -> None:  # (after close_all ran)
        app[RELEASE].set()

    app.on_shutdown.append(release_late)
    app.router.add_get("/ws", slow_socket)
    client = TestClient(TestServer(app))
    await client.start_server()
    ws = await asyncio.wait_for(client.ws_connect("/ws"), 5)
    await asyncio.wait_for(app[ENTERED].wait(), 5)
    t0 = time.monotonic()
    closing = asyncio.create_task(client.server.close())  # (the server's stop, its client still open)
    msg = await asyncio.wait_for(ws.receive(), 10)
    assert (msg.type, ws.close_code) == (WSMsgType.CLOSE, WSCloseCode.GOING_AWAY)
    await ws.close()
    await asyncio.wait_for(closing, 10)
    assert time.monotonic() - t0 < 5  # (not the 60 s shutdown timeout)
    assert len(app[SOCKETS]) == 0
    await client.close()
