"""Access control pieces with no web framework in them: password hashing (argon2id),
roles and who may see whom, the login rate limiter (time passed in), API token format.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from store.models import User

ROLE_RANK = {"agent": 1, "supervisor": 2, "admin": 3}
TOKEN_PREFIX = "hl_"

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
# Verified against when the login does not exist, so both paths cost the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("password: must not be empty")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Constant work whether or not the user has a hash (no login enumeration by timing)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def teams_of(user: User) -> frozenset[str]:
    """A supervisor's `team` field may list several teams, comma-separated."""
    return frozenset(t.strip() for t in user.team.split(",") if t.strip())


@dataclass(frozen=True, slots=True)
class Identity:
    login: str
    role: str
    teams: frozenset[str] = frozenset()
    display_name: str = ""
    via: str = "session"  # session | token

    @classmethod
    def of(cls, user: User, via: str = "session") -> Identity:
        return cls(user.login, user.role, teams_of(user), user.display_name or user.login, via)

    def at_least(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]

    def may_see_agent(self, agent_id: str, agent_team: str | None) -> bool:
        """Agents: only themselves. Supervisors: themselves and agents of their teams.
        Admins: everyone. `agent_team` None means the agent is unknown."""
        if self.role == "admin" or agent_id == self.login:
            return True
        if self.role == "supervisor" and agent_team is not None:
            return bool(self.teams & {t.strip() for t in agent_team.split(",")})
        return False

    def may_see_team(self, team: str) -> bool:
        return self.role == "admin" or (self.role == "supervisor" and team in self.teams)


# ---------------------------------------------------------------- login rate limiting


@dataclass(slots=True)
class LoginRateLimiter:
    """At most `max_failures` failed logins per key (client address; login name) within
    `window_s`. Time is passed in. This holds one process's failures; the web app also
    keeps them on the bus (`Bus.add_hit`), shared by every server process on one Redis,
    and waits for the longer of the two (`wait_from`), so several processes behind a
    balancer do not multiply the bound; this copy serves while the bus is away."""

    max_failures: int = 5
    window_s: float = 300.0
    max_keys: int = 100_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, keys: tuple[str, ...], now: float) -> float:
        """Seconds until a login attempt is allowed again for these keys (0: allowed)."""
        for key in keys:
            q = self._failures.get(key)
            while q and q[0] <= now - self.window_s:
                q.popleft()
        return self.wait_from([self._failures.get(key) or () for key in keys], now)

    def wait_from(self, failures: Iterable[Sequence[float]], now: float) -> float:
        """The same rule over failure times from anywhere (one sorted list per key)."""
        wait = 0.0
        for times in failures:
            recent = [t for t in times if t > now - self.window_s]
            if len(recent) >= self.max_failures:
                wait = max(wait, recent[-self.max_failures] + self.window_s - now)
        return wait

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        if len(self._failures) > self.max_keys:  # bounded memory under a spray attack
            for key in [k for k, q in self._failures.items() if not q or q[-1] <= now - self.window_s]:
                del self._failures[key]
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self.max_failures * 4)).append(now)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            if key.startswith("login:"):
                self._failures.pop(key, None)


# ---------------------------------------------------------------- API tokens


def new_api_token() -> tuple[str, str, str]:
    """(token id, the secret token shown once, its hash to store)."""
    token_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return token_id, token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
