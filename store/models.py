"""Records the store keeps (the CRM side and the per-call interaction)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from events import Event

ROLES = ("agent", "supervisor", "admin")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    event: Event


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    company: str = ""
    tier: str = "standard"
    phones: tuple[str, ...] = ()  # E.164, e.g. "+14155550100"
    email: str = ""
    account_number: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Interaction:
    id: str  # the call id
    direction: str = "inbound"
    queue: str = ""
    agent_id: str = ""
    customer_id: str = ""
    caller: str = ""
    started_at: float = 0.0
    answered_at: float | None = None
    ended_at: float | None = None
    outcome: str = ""  # answered | abandoned | dropped | failed | ...
    disposition: str = ""
    notes: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class User:
    login: str
    display_name: str
    role: str = "agent"
    password_hash: str = ""
    team: str = ""
    skills: dict[str, int] = field(default_factory=dict)  # name -> proficiency 1..10
    languages: tuple[str, ...] = ()
    phone_endpoint: str = ""  # e.g. "Local/2001@agents" or "SIP/agent1001"


@dataclass(frozen=True, slots=True)
class SettingsVersion:
    """One stored version of an admin-edited settings document (routing rules as TOML
    text, queues / skills / pause codes / dispositions as JSON text)."""

    section: str
    version: int
    body: str
    author: str = ""
    comment: str = ""
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A REST API token; only the SHA-256 of the secret is stored."""

    id: str
    login: str
    name: str = ""
    created_at: float = 0.0
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class Callback:
    """A callback an agent scheduled in wrap-up."""

    id: str
    due_at: float
    call_id: str = ""
    customer_id: str = ""
    agent_id: str = ""
    number: str = ""
    notes: str = ""
    created_at: float = 0.0
    done: bool = False
