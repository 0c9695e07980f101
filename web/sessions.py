"""Server-side web sessions: the cookie carries only a random secret; the store keeps
its SHA-256 (`store.port.WebSessions`) and the user's role is read from the store at
every request. So a logout, a password or role change, a disabled user or an admin's
"sign out everywhere" (the rows deleted) takes effect at the next request, on every
server process sharing the store, and a stolen copy of the table signs nobody in.

Idle and absolute timeouts are checked here (time passed in); `last_seen_at` is
written at most once a minute per session, not at every request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from store.models import User, WebSession
from store.port import NotFound, Store
from web.security import hash_token

TOUCH_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_s: float = 2 * 3600.0  # no request for this long: signed out
    max_s: float = 12 * 3600.0  # signed out this long after the login, whatever the activity

    def expired(self, session: WebSession, now: float) -> bool:
        return now - session.last_seen_at > self.idle_s or now - session.created_at > self.max_s

    def needs_touch(self, session: WebSession, now: float) -> bool:
        return now - session.last_seen_at >= min(TOUCH_EVERY_S, self.idle_s / 10)


def session_id(secret: str) -> str:
    """The store's key for a cookie's secret."""
    return hash_token(secret)


async def open_session(store: Store, login: str, now: float) -> str:
    """A new session for `login`; returns the secret for the cookie (shown nowhere else)."""
    secret = secrets.token_urlsafe(32)
    await store.put_session(WebSession(session_id(secret), login, now, now))
    return secret


async def session_user(store: Store, policy: SessionPolicy, secret: str, now: float) -> User | None:
    """The signed-in user, or None: unknown, revoked or expired session (an expired one
    is deleted), user gone or disabled."""
    key = session_id(secret)
    found = await store.get_session(key)
    if found is None:
        return None
    if policy.expired(found, now):
        await store.delete_session(key)
        return None
    try:
        user = await store.get_user(found.login)
    except NotFound:
        return None
    if user.disabled:
        return None
    if policy.needs_touch(found, now):
        await store.touch_session(key, now)
    return user


async def close_session(store: Store, secret: str) -> None:
    await store.delete_session(session_id(secret))
