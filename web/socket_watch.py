"""Long-lived websockets (desktops, wallboards, chat tabs) end (close 4401) once their
caller is signed out: session or token revoked or expired, user disabled or gone, role
changed. Every `period()` seconds one check covers every socket of this process, with
a few queries in all (at 1,000 desktops, a check of its own per socket cost 400 queries
a second and delayed the leader's lease)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import structlog
from aiohttp import web

from store.models import ApiToken, User, WebSession
from web.sessions import SessionPolicy

log = structlog.get_logger()

SIGNED_OUT = 4401


class SignInStore(Protocol):
    """What the check reads of the store (store.sql.SqlStore has it)."""

    async def find_api_tokens(self, token_hashes: Iterable[str]) -> dict[str, ApiToken]: ...
    async def get_sessions(self, session_ids: Iterable[str]) -> dict[str, WebSession]: ...
    async def get_users(self, logins: Iterable[str]) -> dict[str, User]: ...
    async def delete_session(self, session_id: str) -> bool: ...
    async def touch_session(self, session_id: str, at: float) -> None: ...


@dataclass(eq=False)
class Watched:
    """One socket and how its caller signed in."""

    ws: web.WebSocketResponse
    path: str
    role: str
    token_hash: str = ""  # signed in with an API token: its hash
    session_id: str = ""  # signed in with a session: the stored session's id
    still: Callable[[], Awaitable[bool]] | None = None  # a check of its own (the TV's cookie)


class SocketWatch:
    def __init__(
        self,
        store: Callable[[], SignInStore],
        policy: Callable[[], SessionPolicy],
        clock: Callable[[], float],
        period: Callable[[], float],
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self._period = period
        self._watched: dict[web.WebSocketResponse, Watched] = {}
        self.checks = 0

    def add(self, watched: Watched) -> None:
        self._watched[watched.ws] = watched

    def discard(self, ws: web.WebSocketResponse) -> None:
        self._watched.pop(ws, None)

    def __len__(self) -> int:
        return len(self._watched)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._period())
            try:
                await self.check()
            except Exception as exc:  # noqa: BLE001 - the store is away: ask again next time
                log.warning("socket_session_check_failed", error=type(exc).__name__)

    async def check(self) -> int:
        """Close the sockets whose caller is signed out; how many were closed."""
        watched = [w for w in self._watched.values() if not w.ws.closed]
        self.checks += 1
        out = [w for w, ok in zip(watched, await self._signed_in(watched), strict=True) if not ok]
        for w in out:
            log.info("socket_signed_out", path=w.path)
            self.discard(w.ws)
            await w.ws.close(code=SIGNED_OUT, message=b"signed out")
        return len(out)

    async def _signed_in(self, watched: list[Watched]) -> list[bool]:
        store = self._store()
        now = self._clock()
        policy = self._policy()
        by_token = [w for w in watched if w.token_hash and w.still is None]
        by_session = [w for w in watched if w.session_id and w.still is None]
        tokens = await store.find_api_tokens({w.token_hash for w in by_token}) if by_token else {}
        sessions = await store.get_sessions({w.session_id for w in by_session}) if by_session else {}
        logins = _logins(tokens.values(), sessions.values())
        users = await store.get_users(logins) if logins else {}
        own = [w for w in watched if w.still is not None]
        own_results = await asyncio.gather(*(_own(w) for w in own))
        results = dict(zip(own, own_results, strict=True))
        verdict: list[bool] = []
        for w in watched:
            if w.still is not None:
                verdict.append(results[w])
            elif w.token_hash:
                token = tokens.get(w.token_hash)
                valid = token is not None and not token.revoked and not (token.expires_at and now >= token.expires_at)
                verdict.append(valid and _same_user(users.get(token.login if token else ""), w.role))
            elif w.session_id:
                verdict.append(await self._session_still(store, policy, sessions.get(w.session_id), users, w, now))
            else:
                verdict.append(False)
        return verdict

    async def _session_still(
        self,
        store: SignInStore,
        policy: SessionPolicy,
        session: WebSession | None,
        users: dict[str, User],
        w: Watched,
        now: float,
    ) -> bool:
        """As `web.sessions.session_user`: an expired session is deleted, a live one
        touched when due (an open desktop keeps its session alive)."""
        if session is None:
            return False
        if policy.expired(session, now):
            await store.delete_session(session.id)
            return False
        if not _same_user(users.get(session.login), w.role):
            return False
        if policy.needs_touch(session, now):
            await store.touch_session(session.id, now)
        return True


def _logins(tokens: Iterable[ApiToken], sessions: Iterable[WebSession]) -> set[str]:
    return {t.login for t in tokens} | {s.login for s in sessions}


def _same_user(user: User | None, role: str) -> bool:
    return user is not None and not user.disabled and user.role == role


async def _own(w: Watched) -> bool:
    assert w.still is not None
    try:
        return await w.still()
    except Exception as exc:  # noqa: BLE001 - the store is away: this socket is asked again next time
        log.warning("socket_session_check_failed", error=type(exc).__name__, path=w.path)
        return True
