"""Agent commands to the live loop over the bus, with their replies.

Requests go out on `agent-commands`; the live loop answers on `agent-replies` with the
same `request_id` (see notes/live-contract.md). One subscription per process feeds a
table of pending futures, so a request costs no new bus connection.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import structlog

from store.bus import Bus

log = structlog.get_logger()

COMMANDS_CHANNEL = "agent-commands"
REPLIES_CHANNEL = "agent-replies"

ACTIONS = (
    "login",
    "available",
    "pause",
    "logout",
    "hold",
    "resume",
    "hangup",
    "blind_transfer",
    "attended_transfer",
    "complete_transfer",
    "wrap_up_done",
    "preview_dial",
    "preview_skip",
)
CALL_ACTIONS = frozenset(
    {
        "hold",
        "resume",
        "hangup",
        "blind_transfer",
        "attended_transfer",
        "complete_transfer",
        "preview_dial",
        "preview_skip",
    }
)
TRANSFER_KINDS = ("agent", "queue", "number")


class CommandError(ValueError):
    pass


def build_command(agent_id: str, body: dict[str, Any], pause_codes: set[str]) -> dict[str, Any]:
    """Validate a desktop's request into a bus command (raises CommandError naming the field)."""
    action = body.get("action")
    if action not in ACTIONS:
        raise CommandError(f"action: must be one of {', '.join(ACTIONS)}, not {action!r}")
    command: dict[str, Any] = {"agent_id": agent_id, "action": action}
    if action in CALL_ACTIONS:
        call_id = body.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise CommandError(f"call_id: required for {action}")
        command["call_id"] = call_id
    if action == "pause":
        reason = body.get("reason")
        if reason not in pause_codes:
            raise CommandError(
                f"reason: must be one of the pause codes ({', '.join(sorted(pause_codes))}), not {reason!r}"
            )
        command["reason"] = reason
    if action in ("blind_transfer", "attended_transfer"):
        target = body.get("target")
        if not isinstance(target, str) or not target.strip():
            raise CommandError(f"target: required for {action} (an agent, a queue or a number)")
        kind = body.get("target_kind", "number")
        if kind not in TRANSFER_KINDS:
            raise CommandError(f"target_kind: must be one of {', '.join(TRANSFER_KINDS)}, not {kind!r}")
        command["target"] = f"{kind}:{target.strip()}"
    if action == "wrap_up_done":
        command["disposition"] = str(body.get("disposition", ""))
        command["notes"] = str(body.get("notes", ""))
    return command


class CommandClient:
    """`await send(command, timeout)` publishes and waits for the matching reply."""

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

    async def send(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            await self._ready.wait()
        request_id = uuid.uuid4().hex
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        try:
            await self._bus.publish(COMMANDS_CHANNEL, {**command, "request_id": request_id})
            async with asyncio.timeout(timeout):
                reply = await fut
        except TimeoutError:
            log.warning("agent_command_timeout", action=command.get("action"), agent_id=command.get("agent_id"))
            return {
                "request_id": request_id,
                "ok": False,
                "error": f"no reply from the call server within {timeout:g} s",
            }
        finally:
            self._pending.pop(request_id, None)
        return {
            "request_id": request_id,
            "ok": bool(reply.get("ok")),
            **({"error": str(reply["error"])} if reply.get("error") else {}),
        }
