"""Agent commands to the live loop: kept in the store first, then answered.

The commands themselves (types, arguments, validation) are `agents.commands`; this is
the web's side of sending one. A command is first a row (`store.port.AgentCommands`,
keyed by its request id: the client's own, else a new one), then a wake-up on
`agent-commands` as `{"agent_id", "request_id", **command.model_dump()}` (so `action`
and its arguments are top-level fields). The live loop applies the row once, writes its
answer on it and answers on `agent-replies` with `{"request_id", "ok", "error"?}`. One
subscription per process feeds a table of pending futures, so a request costs no new
bus connection.

`CommandClient.send` returns the live loop's reply (the API's 200 or 409), or the first
answer again for a request id answered already (`repeated`: nothing is applied twice).
What is no reply of the live loop is an HTTP answer raised from here (aiohttp answers
a raised `HTTPException`; the handler, agents/desktop.py, maps replies only):

- no reply in time: `CommandKept`, a 202 with the request id. The row waits for the
  live loop, which applies it when it is back or, when it waited longer than
  `[pbx] command_ttl_s`, refuses it as expired; `GET /api/v1/commands/{request_id}`
  (web/command_status.py) tells how it ended;
- a request id that names another command: 400 naming `request_id`;
- the store cannot keep the command: 503, and nothing was sent.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from agents.commands import Command, action_of
from store.bus import Bus
from store.models import AgentCommand
from store.port import AgentCommands

log = structlog.get_logger()

COMMANDS_CHANNEL = "agent-commands"
REPLIES_CHANNEL = "agent-replies"
STORE_TIMEOUT_S = 5.0  # how long keeping (or reading) a command may take


@dataclass(frozen=True, slots=True)
class CommandReply:
    """The live loop's answer; `timed_out` when none came (the error says so);
    `repeated` when it is the stored first answer to a request id sent again."""

    request_id: str
    ok: bool
    error: str = ""
    timed_out: bool = False
    repeated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "ok": self.ok,
            **({"error": self.error} if self.error else {}),
            **({"repeated": True} if self.repeated else {}),
        }


def status_url(request_id: str) -> str:
    return f"/api/v1/commands/{request_id}"


def command_body(command: Command) -> dict[str, Any]:
    """What the row keeps and the live loop parses: the action and its arguments."""
    return command.model_dump(mode="json", exclude={"request_id"})


def command_message(agent_id: str, request_id: str, command: Command) -> dict[str, Any]:
    """The bus message for a command (what the live loop receives)."""
    return {"agent_id": agent_id, "request_id": request_id, **command_body(command)}


def reply_of(row: AgentCommand, *, repeated: bool = False) -> CommandReply:
    """An answered row as the API's reply."""
    error = row.error or ("" if row.state == "applied" else f"{row.action} {row.state}")
    return CommandReply(row.request_id, ok=row.state == "applied", error=error, repeated=repeated)


def status_json(row: AgentCommand) -> dict[str, Any]:
    """A kept command as `GET /api/v1/commands/{request_id}` shows it."""
    answered = row.state != "pending"
    return {
        "request_id": row.request_id,
        "agent_id": row.agent_id,
        "action": row.action,
        "command": dict(row.body),
        "state": row.state,
        "ok": (row.state == "applied") if answered else None,
        **({"error": row.error} if row.error else {}),
        "created_at": row.created_at,
        "answered_at": row.answered_at if answered else None,
    }


def _json_error(kind: type[web.HTTPException], body: dict[str, Any]) -> web.HTTPException:
    return kind(text=json.dumps(body), content_type="application/json")


class CommandKept(web.HTTPAccepted):
    """No reply in time: the command is a row and waits for the live loop (202)."""

    def __init__(self, request_id: str, waited_s: float, ttl_s: float) -> None:
        message = (
            f"no reply from the call server within {waited_s:g} s: the command is kept and will be applied when"
            f" the live server is back (refused if that takes longer than {ttl_s:g} s); see {status_url(request_id)}"
        )
        body = {"request_id": request_id, "state": "pending", "message": message, "status": status_url(request_id)}
        super().__init__(text=json.dumps(body), content_type="application/json")


class CommandClient:
    """`await send(agent_id, command, timeout)` keeps the command, wakes the live loop and
    waits for the matching reply."""

    def __init__(
        self,
        bus: Bus,
        store: AgentCommands,
        *,
        clock: Callable[[], float] = time.time,
        ttl_s: float = 60.0,
    ) -> None:
        self._bus = bus
        self._store = store
        self._clock = clock
        self._ttl_s = ttl_s
        # request id -> (the reply's future, how many sends wait for it)
        self._pending: dict[str, tuple[asyncio.Future[dict[str, Any]], int]] = {}
        self._ready = asyncio.Event()

    async def run(self) -> None:
        async with self._bus.subscribe(REPLIES_CHANNEL) as sub:
            self._ready.set()
            async for _channel, message in sub:
                waiting = self._pending.get(str(message.get("request_id", "")))
                if waiting is not None and not waiting[0].done():
                    waiting[0].set_result(message)

    async def send(self, agent_id: str, command: Command, timeout: float) -> CommandReply:
        request_id = command.request_id or uuid.uuid4().hex
        action = action_of(type(command))
        row = await self._keep(AgentCommand(request_id, agent_id, command_body(command), created_at=self._clock()))
        if (row.agent_id, dict(row.body)) != (agent_id, command_body(command)):
            clash = f"request_id: {request_id!r} already names another command ({row.action} for {row.agent_id})"
            raise _json_error(web.HTTPBadRequest, {"error": clash})
        if row.state != "pending":  # sent again: the first answer, nothing applied twice
            log.info("agent_command_repeated", action=action, agent_id=agent_id, request_id=request_id)
            return reply_of(row, repeated=True)
        # Several sends of one request id (a retry while the first waits) share the reply.
        fut, waiting = self._pending.get(request_id) or (asyncio.get_running_loop().create_future(), 0)
        self._pending[request_id] = (fut, waiting + 1)
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
                await self._wake(agent_id, request_id, command)
                reply = await asyncio.shield(fut)
        except TimeoutError:
            return await self._not_answered(row, action, timeout)
        finally:
            _, waiting = self._pending[request_id]
            if waiting == 1:
                del self._pending[request_id]
            else:
                self._pending[request_id] = (fut, waiting - 1)
        ok = bool(reply.get("ok"))
        error = str(reply.get("error") or "")
        if not ok and not error:
            error = f"{action} refused by the call server"
        return CommandReply(request_id, ok=ok, error=error)

    async def _keep(self, row: AgentCommand) -> AgentCommand:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                return await self._store.put_command(row)
        except Exception as exc:  # noqa: BLE001 - any store failure: the command is not kept, say so
            log.error("agent_command_not_kept", request_id=row.request_id, error=type(exc).__name__)
            raise _json_error(
                web.HTTPServiceUnavailable,
                {"error": "the command could not be kept (the store is unavailable): nothing was sent; send it again"},
            ) from None

    async def _wake(self, agent_id: str, request_id: str, command: Command) -> None:
        try:
            await self._bus.publish(COMMANDS_CHANNEL, command_message(agent_id, request_id, command))
        except Exception as exc:  # noqa: BLE001 - the row is kept: the live loop's poll finds it
            log.warning("agent_command_wake_failed", request_id=request_id, error=type(exc).__name__)

    async def _not_answered(self, row: AgentCommand, action: str, timeout: float) -> CommandReply:
        """No reply on the bus in time: the row may hold the answer (a lost reply), else
        the command waits for the live loop (202)."""
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                stored = await self._store.get_command(row.request_id)
        except Exception as exc:  # noqa: BLE001 - the row was kept: it still waits
            log.warning("agent_command_unread", request_id=row.request_id, error=type(exc).__name__)
            stored = row
        if stored.state != "pending":
            return reply_of(stored)
        log.warning("agent_command_kept", action=action, agent_id=row.agent_id, request_id=row.request_id)
        raise CommandKept(row.request_id, timeout, self._ttl_s)
