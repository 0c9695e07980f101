"""Outages answer 503 with a clear JSON error, never a 500 with a traceback.

When the store (PostgreSQL, SQLite) or the bus (Redis) cannot be reached, whatever
handler was running, the caller gets 503 saying which part is away and to try again
(`Retry-After`); the log gets one warning line. Any other unexpected failure is a 500
whose body names a reference found in the log (with the traceback), and nothing else.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger()

RETRY_AFTER_S = 5
_STORE_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
)
_SQLITE_DOWN = ("database is locked", "unable to open database", "disk i/o error")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def unavailable_part(exc: BaseException) -> str | None:
    """Which part an exception says is away ("store", "bus", "store or bus"), else None."""
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        return "bus"
    if isinstance(exc, _STORE_DOWN):
        return "store"
    if isinstance(exc, sqlite3.OperationalError) and any(m in str(exc).lower() for m in _SQLITE_DOWN):
        return "store"
    if isinstance(exc, (OSError, TimeoutError)):  # refused, reset, unreachable, no answer in time
        return "store or bus"
    return None


def _answer(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.startswith("/api/"):
        response = web.json_response({"error": message}, status=status)
    else:
        response = web.Response(status=status, text=f"{status}: {message}")
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


@web.middleware
async def outage_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            raise  # a websocket's own close says it
        part = unavailable_part(exc)
        if part is not None:
            log.warning("request_unavailable", path=request.path, part=part, error=type(exc).__name__)
            return _answer(request, 503, f"the {part} is unavailable; try again shortly")
        ref = secrets.token_hex(4)
        log.error("request_failed", path=request.path, ref=ref, error=type(exc).__name__, exc_info=exc)
        return _answer(request, 500, f"internal error (reference {ref} in the server's log)")
