"""The customer chat's conversations (`ChatSession`, migration 0014): the port and its
SQL and in-memory adapters, mixed into `SqlStore` and `MemoryStore`.

A conversation is found only by the SHA-256 of the random token its browser holds
(never by task id from the customer's side), and it ends exactly once: the ending
methods change the row only while it is open and return it only to the caller that
ended it, so two processes sweeping the same abandoned chat act once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from store.drivers import Driver


@dataclass(frozen=True, slots=True)
class ChatSession:
    """A customer's chat from the widget: who they said they are, their task, and
    whether their page is there (`detached_at` None) or has gone (reload or close)."""

    token_hash: str
    task_id: str
    queue: str
    name: str
    email: str
    customer_id: str = ""
    address: str = ""
    created_at: float = 0.0
    detached_at: float | None = None
    ended_at: float | None = None
    end_reason: str = ""


class ChatSessions(Protocol):
    async def add_chat_session(self, session: ChatSession) -> None:
        """Keep a new conversation (a second one with the same token or task: Conflict)."""
        ...

    async def get_chat_session(self, token_hash: str) -> ChatSession | None: ...

    async def set_chat_detached(self, token_hash: str, at: float | None) -> None:
        """The page went away at `at`, or (None) is back."""
        ...

    async def end_chat_session(self, token_hash: str, at: float, reason: str) -> ChatSession | None:
        """End an open conversation: its row as ended, or None when it had already ended."""
        ...

    async def end_detached_chats(self, detached_before: float, at: float, reason: str) -> list[ChatSession]:
        """End every open conversation whose page went away before `detached_before`;
        those ended by this call."""
        ...


_COLUMNS = (
    "token_hash, task_id, queue, name, email, customer_id, address, created_at, detached_at, ended_at, end_reason"
)


def _row(row: Mapping[str, Any]) -> ChatSession:
    return ChatSession(**dict(row))


class SqlChatSessions:
    """`ChatSessions` over `self._db` (PostgreSQL and SQLite: UPDATE ... RETURNING)."""

    _db: Driver

    async def add_chat_session(self, session: ChatSession) -> None:
        from store.drivers import UniqueViolation
        from store.port import Conflict

        s = session
        try:
            await self._db.execute(
                f"INSERT INTO chat_sessions ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                s.token_hash,
                s.task_id,
                s.queue,
                s.name,
                s.email,
                s.customer_id,
                s.address,
                float(s.created_at),
                None if s.detached_at is None else float(s.detached_at),
                None if s.ended_at is None else float(s.ended_at),
                s.end_reason,
            )
        except UniqueViolation:
            raise Conflict(f"chat session for task {s.task_id!r} already exists") from None

    async def get_chat_session(self, token_hash: str) -> ChatSession | None:
        rows = await self._db.fetch(f"SELECT {_COLUMNS} FROM chat_sessions WHERE token_hash = $1", token_hash)
        return _row(rows[0]) if rows else None

    async def set_chat_detached(self, token_hash: str, at: float | None) -> None:
        await self._db.execute(
            "UPDATE chat_sessions SET detached_at = $1 WHERE token_hash = $2",
            None if at is None else float(at),
            token_hash,
        )

    async def end_chat_session(self, token_hash: str, at: float, reason: str) -> ChatSession | None:
        rows = await self._db.fetch(
            f"UPDATE chat_sessions SET ended_at = $1, end_reason = $2 WHERE token_hash = $3 AND ended_at IS NULL"
            f" RETURNING {_COLUMNS}",
            float(at),
            reason,
            token_hash,
        )
        return _row(rows[0]) if rows else None

    async def end_detached_chats(self, detached_before: float, at: float, reason: str) -> list[ChatSession]:
        rows = await self._db.fetch(
            f"UPDATE chat_sessions SET ended_at = $1, end_reason = $2"
            f" WHERE ended_at IS NULL AND detached_at IS NOT NULL AND detached_at < $3 RETURNING {_COLUMNS}",
            float(at),
            reason,
            float(detached_before),
        )
        return sorted((_row(r) for r in rows), key=lambda s: (s.created_at, s.token_hash))


class MemoryChatSessions:
    """`ChatSessions` in a dict (the in-memory store)."""

    _chat_sessions: dict[str, ChatSession]

    def _chats(self) -> dict[str, ChatSession]:
        return self._chat_sessions  # (set by MemoryStore.__init__)

    async def add_chat_session(self, session: ChatSession) -> None:
        from store.port import Conflict

        chats = self._chats()
        if session.token_hash in chats or any(s.task_id == session.task_id for s in chats.values()):
            raise Conflict(f"chat session for task {session.task_id!r} already exists")
        chats[session.token_hash] = session

    async def get_chat_session(self, token_hash: str) -> ChatSession | None:
        return self._chats().get(token_hash)

    async def set_chat_detached(self, token_hash: str, at: float | None) -> None:
        chats = self._chats()
        if token_hash in chats:
            chats[token_hash] = dataclasses.replace(chats[token_hash], detached_at=at)

    async def end_chat_session(self, token_hash: str, at: float, reason: str) -> ChatSession | None:
        chats = self._chats()
        found = chats.get(token_hash)
        if found is None or found.ended_at is not None:
            return None
        chats[token_hash] = ended = dataclasses.replace(found, ended_at=at, end_reason=reason)
        return ended

    async def end_detached_chats(self, detached_before: float, at: float, reason: str) -> list[ChatSession]:
        stale = [
            s
            for s in self._chats().values()
            if s.ended_at is None and s.detached_at is not None and s.detached_at < detached_before
        ]
        ended = [await self.end_chat_session(s.token_hash, at, reason) for s in stale]
        return sorted((s for s in ended if s is not None), key=lambda s: (s.created_at, s.token_hash))
