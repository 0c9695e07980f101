"""The live loop's side of kept agent commands: each is applied once and answered.

The web keeps every agent command as a row (`store.port.AgentCommands`, keyed by its
request id) before it wakes the live loop over the bus (web/commands.py). The bus
message is only a wake-up; the row is what `CommandKeeper` applies:

- a wake-up for a pending row puts the row's command in the center's inbox; a
  wake-up for an answered row (a retry, a duplicate) publishes that first answer
  again, and the consumer answers a request id it answered already the same way
  (two wake-ups in flight), so nothing is applied twice;
- the answer is written on the row before it is published (`answered`); a store that
  refuses it keeps it in memory, and the poll writes it again;
- at start, after the first AMI resync (`restore`), the pending rows are taken in the
  order they were kept: those younger than `ttl_s` are applied, older ones are answered
  `expired` ("the live server was down for longer than ..."). Wake-ups that come
  before that are left to it, so a command sent while the loop was down never jumps
  ahead of one sent before it;
- a poll takes the pending rows whose wake-up was lost (the bus was away) the same
  way.

A message with no request id, or one with no row (the in-process demo's simulated
agents, a web of an older version), is applied as it came, as before.

The ages are wall-clock seconds (`wall_clock`): the web stamps the rows with its own
clock, whatever clock the router runs on (the emulator's, in tests).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from agents import commands as contract
from cti.call_control import AgentRequest
from store.models import AgentCommand
from store.port import AgentCommands, NotFound

if TYPE_CHECKING:
    from cti.live import LiveCenter

log = structlog.get_logger()

STORE_TIMEOUT_S = 5.0
POLL_S = 2.0  # how often pending rows whose wake-up was lost are looked for
REMEMBERED = 10_000  # answers kept in memory (a duplicate in flight; a store that refused the write)
HISTORY_S = 7 * 86_400.0  # answered rows are deleted after this long (at start)


def expired_error(ttl_s: float) -> str:
    return (
        f"the live server was down for longer than {ttl_s:g} s (command_ttl_s) after this command was sent;"
        " it was not applied: send it again"
    )


class CommandKeeper:
    """Applies each kept command once: the bus task's wake-ups, the consumer's answers,
    the start's replay and the poll (see the module's docstring)."""

    def __init__(
        self,
        center: LiveCenter,
        store: AgentCommands | None,
        *,
        ttl_s: float = 60.0,
        poll_s: float = POLL_S,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.center = center
        self.store = store
        self.ttl_s = ttl_s
        self.poll_s = poll_s
        self.wall_clock = wall_clock
        # Until `restore` ran, wake-ups of kept commands are left to it (their order).
        self.ready = store is None
        self._answers: OrderedDict[str, tuple[bool, str]] = OrderedDict()  # request id -> (ok, error)
        self._kept: set[str] = set()  # request ids of rows in the inbox, not answered yet
        self._unsaved: dict[str, tuple[str, str, float]] = {}  # request id -> (state, error, at)

    # ------------------------------------------------------------ the bus task

    async def on_wake(self, message: Mapping[str, Any]) -> bool:
        """A command off the bus: True when it is a kept one (taken from its row, or
        left to `restore`), False when it is to be applied as it came (no row)."""
        request_id = str(message.get("request_id") or "")
        if self.store is None or not request_id:
            return False
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                row = await self.store.get_command(request_id)
        except NotFound:
            return False
        except Exception as exc:  # noqa: BLE001 - the store is away: apply it as it came (answered later)
            log.warning("agent_command_row_unread", request_id=request_id, error=type(exc).__name__)
            return False
        if self.ready:
            await self.take(row)
        return True

    async def take(self, row: AgentCommand) -> None:
        """Apply a kept command (into the inbox), or answer it: with its first answer
        when it has one, as expired when it waited too long."""
        if row.state != "pending":
            await self.center.publish_reply(row.request_id, row.state == "applied", row.error)
            return
        if row.request_id in self._kept:
            return  # in the inbox already: its answer is published when it is applied
        answer = self._answers.get(row.request_id)
        if answer is not None:  # answered here, the row not yet (the store was away): write it now
            ok, error = answer
            await self._write(row.request_id, "applied" if ok else "refused", error, self.wall_clock())
            await self.center.publish_reply(row.request_id, ok, error)
            return
        waited = self.wall_clock() - row.created_at
        if waited > self.ttl_s:
            log.warning("agent_command_expired", request_id=row.request_id, agent_id=row.agent_id, waited_s=waited)
            await self.answered(row.request_id, False, expired_error(self.ttl_s), state="expired")
            await self.center.publish_reply(row.request_id, False, expired_error(self.ttl_s))
            return
        try:
            command = contract.parse_command(dict(row.body))
        except contract.CommandError as exc:  # (the web validated it: a row written by something else)
            await self.answered(row.request_id, False, str(exc), state="refused")
            await self.center.publish_reply(row.request_id, False, str(exc))
            return
        self._kept.add(row.request_id)
        self.center.submit(AgentRequest(row.agent_id, command, row.request_id))

    # ------------------------------------------------------------ the consumer

    async def repeat(self, request: AgentRequest) -> bool:
        """A request answered already (a second wake-up in flight): publish that answer
        again; True when so (then it is not applied again)."""
        answer = self._answers.get(request.request_id) if request.request_id else None
        if answer is None:
            return False
        log.info("agent_command_repeated", request_id=request.request_id, agent_id=request.agent_id)
        await self.center.publish_reply(request.request_id, *answer)
        return True

    async def answered(self, request_id: str, ok: bool, error: str = "", *, state: str = "") -> None:
        """Remember the answer, and write it on the command's row (if it has one)."""
        self._answers[request_id] = (ok, error)
        self._answers.move_to_end(request_id)
        while len(self._answers) > REMEMBERED:
            self._answers.popitem(last=False)
        was_kept = request_id in self._kept
        self._kept.discard(request_id)
        if self.store is None or not (was_kept or state):
            return  # not a kept command (no row to answer)
        await self._write(request_id, state or ("applied" if ok else "refused"), error, self.wall_clock())

    async def _write(self, request_id: str, state: str, error: str, at: float) -> None:
        assert self.store is not None
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                await self.store.answer_command(request_id, state, error, at)
            self._unsaved.pop(request_id, None)
        except NotFound:
            self._unsaved.pop(request_id, None)
        except Exception as exc:  # noqa: BLE001 - remembered: the poll writes it again
            self._unsaved[request_id] = (state, error, at)
            log.warning("agent_command_answer_unsaved", request_id=request_id, state=state, error=type(exc).__name__)

    # ------------------------------------------------------------ start and poll (tasks of the root)

    async def restore(self) -> int:
        """After the first resync of a (re)started loop: the pending rows, in the order
        they were kept (applied, or expired when too old); then wake-ups are taken at
        once. Forgets the rows answered more than HISTORY_S ago. How many were pending."""
        if self.store is None:
            return 0
        try:
            await self.store.forget_commands(self.wall_clock() - HISTORY_S)
            rows = await self.store.pending_commands()
        except Exception as exc:  # noqa: BLE001 - the store is away: the poll takes them when it is back
            log.warning("agent_commands_unread", error=type(exc).__name__)
            rows = []
        for row in rows:
            await self.take(row)
        self.ready = True
        return len(rows)

    async def poll(self) -> None:
        """Write again the answers the store refused, and take the rows whose wake-up
        was lost (older than a poll: a fresh row's wake-up is on its way)."""
        if self.store is None:
            return
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                for request_id, (state, error, at) in list(self._unsaved.items()):
                    await self._write(request_id, state, error, at)
                async with asyncio.timeout(STORE_TIMEOUT_S):
                    rows = await self.store.pending_commands()
            except Exception as exc:  # noqa: BLE001 - the store is away: try again at the next poll
                log.warning("agent_command_poll_failed", error=type(exc).__name__)
                continue
            due = self.wall_clock() - self.poll_s
            for row in rows:
                if row.created_at <= due:
                    await self.take(row)
