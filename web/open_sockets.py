"""The websockets one part of the app has open, closed at shutdown with 1001 Going Away
(a browser reconnects, to another process if there is one).

Why a class and not a set: a handshake still in its handler when the shutdown starts
(it awaited the store, say) would add its socket after the others were closed, and that
socket, kept open by the browser, would hold the server's stop for its whole timeout.
Once `close_all` ran, `add` closes the newcomer at once."""

from __future__ import annotations

from aiohttp import WSCloseCode, web


class OpenSockets:
    def __init__(self) -> None:
        self._open: set[web.WebSocketResponse] = set()
        self._closing = False

    async def add(self, ws: web.WebSocketResponse) -> bool:
        """Keep `ws` until `discard`; False (and `ws` closed) once shutting down."""
        if self._closing:
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
            return False
        self._open.add(ws)
        return True

    def discard(self, ws: web.WebSocketResponse) -> None:
        self._open.discard(ws)

    def __len__(self) -> int:
        return len(self._open)

    async def close_all(self, _app: web.Application | None = None) -> None:
        """(An `on_shutdown` handler.)"""
        self._closing = True
        for ws in tuple(self._open):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
