"""A customer's conversation on the task desk: started (a `ChatSession` row, then its
chat task), resumed by its token after a reload, messages in, and its end: the
customer leaving before an agent answered is an abandon, after it closes the chat.

A page that goes away (reload or close) is not ended at once: the row says since when
it is gone, and every process sweeps (`sweep`) the conversations gone longer than
`[chat] resume_s`, each ended exactly once by the store (`end_detached_chats`), also
after this process died.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from chat.config import ChatConfig
from chat.limits import AddressLimits
from chat.protocol import Start
from store.chat_sessions import ChatSession
from store.port import NotFound, Store
from tasks.desk import TaskDesk
from tasks.model import TaskMessage, TaskStatus

log = structlog.get_logger()

WAITING = frozenset({"waiting", "offered"})
OVER = frozenset({"closed", "abandoned"})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Refused(Exception):
    """What the customer is told instead (`retry_after`: a rate limit's wait)."""

    def __init__(self, message: str, retry_after: float | None = None, field: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.field = field


@dataclass(frozen=True, slots=True)
class Opened:
    token: str
    session: ChatSession


class ChatService:
    """One per process (the web side of every process)."""

    def __init__(
        self, config: ChatConfig, store: Store, desk: TaskDesk, limits: AddressLimits, clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.store = store
        self.desk = desk
        self.limits = limits
        self.clock = clock

    async def customer_for(self, email: str) -> str:
        """The customer record with this e-mail address (case aside), or ""."""
        for customer in await self.store.search_customers(email, limit=20):
            if customer.email.strip().lower() == email:
                return customer.id
        return ""

    async def start(self, start: Start, address: str) -> Opened:
        now = self.clock()
        wait = await self.limits.new_chat(address, now, secrets.token_hex(8))
        if wait > 0:
            raise Refused(f"Too many new chats from your address: try again in {int(wait) + 1} s.", wait)
        token = secrets.token_urlsafe(32)
        session = ChatSession(
            token_hash=token_hash(token),
            task_id=f"chat-{secrets.token_hex(12)}",
            queue=start.queue,
            name=start.name,
            email=start.email,
            customer_id=await self.customer_for(start.email),
            address=address,
            created_at=now,
        )
        await self.store.add_chat_session(session)  # the promise first: a reload finds it
        await self._open_task(session)
        log.info("chat_started", task_id=session.task_id, queue=session.queue, customer_id=session.customer_id)
        return Opened(token, session)

    async def _open_task(self, session: ChatSession) -> None:
        await self.desk.open(
            channel="chat",
            queue=session.queue,
            customer_id=session.customer_id or None,
            subject=f"Chat with {session.name}",
            attrs={"name": session.name, "email": session.email, "source": "widget"},
            task_id=session.task_id,
        )

    async def resume(self, token: str) -> ChatSession:
        """The open conversation of this token, back on its page; Refused otherwise."""
        session = await self.store.get_chat_session(token_hash(token))
        now = self.clock()
        if session is None or session.ended_at is not None:
            raise Refused("This chat has ended.", field="token")
        if session.detached_at is not None and now - session.detached_at > self.config.resume_s:
            raise Refused("This chat has ended.", field="token")
        await self.store.set_chat_detached(session.token_hash, None)
        try:
            await self.desk.status(session.task_id)
        except NotFound:  # the process died between the row and the task: open it now (idempotent)
            await self._open_task(session)
        return session

    async def say(self, session: ChatSession, text: str, address: str, member: str) -> TaskMessage:
        wait = await self.limits.message(address, self.clock(), member)
        if wait > 0:
            raise Refused(f"Too many messages from your address: wait {int(wait) + 1} s.", wait)
        return await self.desk.add_message(session.task_id, direction="in", author=session.name, text=text)

    async def status(self, session: ChatSession) -> TaskStatus:
        return await self.desk.status(session.task_id)

    async def messages(self, session: ChatSession, after_seq: int = 0) -> list[TaskMessage]:
        """The customer's transcript (the agents' internal notes left out)."""
        return [m for m in await self.desk.messages(session.task_id, after_seq) if m.direction != "note"]

    async def detached(self, session: ChatSession) -> None:
        await self.store.set_chat_detached(session.token_hash, self.clock())

    async def leave(self, session: ChatSession, reason: str) -> None:
        """The customer ends it (the Leave button): at once, exactly once."""
        ended = await self.store.end_chat_session(session.token_hash, self.clock(), reason)
        if ended is not None:
            await self._finish(ended)

    async def ended_by_desk(self, session: ChatSession, reason: str) -> None:
        """The agent closed it (or it was abandoned): the row follows."""
        await self.store.end_chat_session(session.token_hash, self.clock(), reason)

    async def _finish(self, session: ChatSession) -> None:
        try:
            state = (await self.desk.status(session.task_id)).state
        except NotFound:
            return
        if state in WAITING:
            await self.desk.abandon(session.task_id, session.end_reason or "customer_left")
        elif state not in OVER:
            await self.desk.close(session.task_id, by="customer")
        log.info("chat_ended", task_id=session.task_id, state=state, reason=session.end_reason)

    async def sweep_once(self) -> int:
        """End the conversations whose page has been gone longer than `resume_s`."""
        now = self.clock()
        gone = await self.store.end_detached_chats(now - self.config.resume_s, now, "page_closed")
        for session in gone:
            try:
                await self._finish(session)
            except Exception:
                log.exception("chat_end_failed", task_id=session.task_id)
        return len(gone)

    async def sweep(self) -> None:
        """Forever (owned by the app's cleanup context)."""
        every = min(max(self.config.resume_s / 4, 0.2), 5.0)
        while True:
            try:
                await self.sweep_once()
            except Exception as exc:  # noqa: BLE001 - the store is away: next time
                log.warning("chat_sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(every)
