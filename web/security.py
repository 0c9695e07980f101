"""Access control pieces with no web framework in them: password hashing (argon2id),
roles and who may see whom, the login rate limiter (time passed in), API token format.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from store.hits import HitWindows
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
    """At most `per_login` attempts per login name and `per_address` per client address
    within `window_s`, counted BEFORE the password is checked (`HitWindows.reserve`:
    a burst of parallel guesses cannot all pass the check before one is counted). A
    right password takes its attempt back from the address and clears the login's, so
    the address's bound, set higher, only stops a spray over many logins: one person's
    typos lock their own login, not the colleagues behind the same address. This holds
    one process's count; the web app also reserves on the bus (`Bus.reserve_hits`),
    shared by every process on one Redis, and this copy still holds when the bus is away."""

    per_login: int = 5
    per_address: int = 30
    window_s: float = 300.0
    windows: HitWindows = field(default_factory=HitWindows)

    def limits(self, login: str, address: str) -> dict[str, int]:
        return {f"login:{login.lower()}": self.per_login, f"ip:{address}": self.per_address}

    def reserve(self, limits: dict[str, int], now: float, member: str) -> float:
        """0: the attempt is counted, go on; else the seconds to wait (nothing counted)."""
        return self.windows.reserve(limits, now, self.window_s, member)

    def succeeded(self, limits: dict[str, int], member: str) -> None:
        for key in limits:
            if key.startswith("login:"):
                self.windows.clear(key)
            else:
                self.windows.release(key, member)


# ---------------------------------------------------------------- redirects after login

_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(target: str) -> str:
    """The same-origin path to go to after the login, or "" (go home). Read as a
    browser reads a Location (WHATWG URL parsing): C0 controls and spaces at the ends
    stripped, tabs and newlines removed anywhere, a backslash taken for a slash; so
    "/<TAB>/evil.example" is "//evil.example", another host, and refused. What is returned
    is that normalised form, the one checked."""
    cleaned = _TAB_OR_NEWLINE.sub("", target.strip("".join(map(chr, range(0x21))))).replace("\\", "/")
    if _CONTROL.search(cleaned) or not cleaned.startswith("/") or cleaned.startswith("//"):
        return ""
    parts = urlsplit(cleaned)
    return "" if parts.scheme or parts.netloc else cleaned


# ---------------------------------------------------------------- API tokens


SCOPES = ("read", "agent", "admin")
TOKEN_DAYS_DEFAULT = 90
TOKEN_DAYS_MAX = 365
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# what an `agent` token may change: the desktop's own calls
_AGENT_WRITES = re.compile(r"^/api/v1/(agents/[^/]+/commands|interactions/[^/]+/wrap-up|customers(/[^/]+/notes)?)$")


def scope_allows(scopes: Iterable[str], method: str, path: str) -> bool:
    """May a token with these scopes make this request (its user's role still applies)?
    `read`: reading only (reports, wallboard, settings...); `agent`: reading and the
    agent's desktop calls (commands, wrap-up, customer notes); `admin`: all the role allows."""
    granted = set(scopes)
    if "admin" in granted:
        return True
    if method in _SAFE_METHODS:
        return bool(granted & {"read", "agent"})
    return "agent" in granted and _AGENT_WRITES.match(path) is not None


def new_api_token() -> tuple[str, str, str]:
    """(token id, the secret token shown once, its hash to store)."""
    token_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return token_id, token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
