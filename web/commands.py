"""Agent commands to the live loop over the bus, with their replies.

The commands themselves (types, arguments, validation) are `agents.commands`; this is
only the bus client. Requests go out on `agent-commands` as
`{"agent_id", "request_id", **command.model_dump()}` (so `action` and its arguments
are top-level fields); the live loop answers on `agent-replies` with
`{"request_id", "ok", "error"?}`. One subscription per process feeds a table of
pending futures, so a request costs no new bus connection.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import structlog

from agents.commands import Command, action_of
from store.bus import Bus

log = structlog.get_logger()

COMMANDS_CHANNEL = "agent-commands"
REPLIES_CHANNEL = "agent-replies"


@dataclass(frozen=True, slots=True)
class CommandReply:
    """The live loop's answer; `timed_out` when none came (the error says so)."""

    request_id: str
    ok: bool
    error: str = ""
    timed_out: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "ok": self.ok, **({"error": self.error} if self.error else {})}


def command_message(agent_id: str, request_id: str, command: Command) -> dict[str, Any]:
    """The bus message for a command (what the live loop receives)."""
    return {"agent_id": agent_id, "request_id": request_id, **command.model_dump(mode="json")}


class CommandClient:
    """`await send(agent_id, command, timeout)` publishes and waits for the matching reply."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ready = asyncio.Event()

    async def run(self) -> None:
        async with self._bus.subscribe(REPLIES_CHANNEL) as sub:
            self._ready.set()
            async for _channel, message in sub:
                fut = self._pending.pop(str(message.get("request_id", "")), None)
                if fut is not None and not fut.done():
                    fut.set_result(message)

    async def send(self, agent_id: str, command: Command, timeout: float) -> CommandReply:
        request_id = uuid.uuid4().hex
        action = action_of(type(command))
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
                await self._bus.publish(COMMANDS_CHANNEL, command_message(agent_id, request_id, command))
                reply = await fut
        except TimeoutError:
            log.warning("agent_command_timeout", action=action, agent_id=agent_id, request_id=request_id)
            return CommandReply(
                request_id, ok=False, error=f"no reply from the call server within {timeout:g} s", timed_out=True
            )
        finally:
            self._pending.pop(request_id, None)
        ok = bool(reply.get("ok"))
        error = str(reply.get("error") or "")
        if not ok and not error:
            error = f"{action} refused by the call server"
        return CommandReply(request_id, ok=ok, error=error)
