"""Records the store keeps (the CRM side and the per-call interaction)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from events import Event

ROLES = ("agent", "supervisor", "admin")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    event: Event
    epoch: int = 0  # the leader's term that logged it (0: not the live loop's, or before terms)


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
class Recording:
    """A call's recording (one per interaction): the WAV the PBX writes at `path`; the
    agent who took the call (who may play it back, with their team's supervisors)."""

    call_id: str
    path: str
    agent_id: str = ""
    queue: str = ""
    started_at: float = 0.0
    ended_at: float | None = None


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
    pbx: str = ""  # the PBX (`[[pbx]]` name) the phone is on; "": the first (cti/pbxs.py)
    disabled: bool = False  # may not log in; its sessions and API tokens stop working


@dataclass(frozen=True, slots=True)
class UserName:
    """A user as a report names and groups them (`list_user_names`): no skills to decode."""

    login: str
    display_name: str
    role: str
    team: str


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
    """A REST API token; only the SHA-256 of the secret is stored. It acts as its user
    (whose role may be lower by now), narrowed to its scopes (web.security.SCOPES),
    until `expires_at` (0: never)."""

    id: str
    login: str
    name: str = ""
    created_at: float = 0.0
    revoked: bool = False
    expires_at: float = 0.0
    scopes: tuple[str, ...] = ("admin",)


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in browser. Only the SHA-256 of the cookie's secret is kept (`id`), so
    a copy of the table signs nobody in; deleting the row signs the browser out on
    every server process at its next request."""

    id: str
    login: str
    created_at: float  # the absolute timeout counts from here
    last_seen_at: float  # the idle timeout counts from here


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin action: who (`actor`, a login), what (`action`, e.g. "user.saved",
    "settings.routing"), on what (`target`), the particulars (`detail`), from where
    (`address`, the client's), when. `seq` is given by the store."""

    at: float
    actor: str
    action: str
    target: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    address: str = ""
    seq: int = 0


CALLBACK_KINDS = ("scheduled", "virtual_hold", "final_step")
CALLBACK_OPEN = ("pending", "dialing")  # states of a promise not kept yet
CALLBACK_CLOSED = ("done", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class Callback:
    """A promise to call a customer back: one an agent scheduled in wrap-up
    (`scheduled`, for `agent_id` when set), a caller's place kept in the queue
    (`virtual_hold`), or a queue's final step (`final_step`). The live loop's scheduler
    (cti/live_callbacks.py) queues it when due and writes each step before taking it."""

    id: str
    due_at: float
    call_id: str = ""  # the call it was promised on
    customer_id: str = ""
    agent_id: str = ""  # the agent who promised it ("" = the queue's)
    number: str = ""
    notes: str = ""
    created_at: float = 0.0
    done: bool = False  # state is one of CALLBACK_CLOSED
    queue: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    attributes: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "scheduled"
    state: str = "pending"  # pending -> dialing -> done | failed (| cancelled)
    attempts: int = 0  # dials made
    outcome: str = ""  # connected, not_answered, no_number...
    arrived_at: float = 0.0  # when the caller first waited (virtual hold): the router's wait


@dataclass(frozen=True, slots=True)
class InteractionFilter:
    """Which interactions to find: each field given must match (`since <= started_at <
    until`); the search API's filters."""

    customer_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    direction: str | None = None
    outcome: str | None = None
    disposition: str | None = None
    since: float | None = None
    until: float | None = None

    EQUAL: ClassVar[tuple[str, ...]] = ("customer_id", "agent_id", "queue", "direction", "outcome", "disposition")

    def matches(self, i: Interaction) -> bool:
        return (
            all(getattr(self, name) is None or getattr(i, name) == getattr(self, name) for name in self.EQUAL)
            and (self.since is None or i.started_at >= self.since)
            and (self.until is None or i.started_at < self.until)
        )


def customer_matches(c: Customer, text: str) -> bool:
    """The search rule `search_customers` follows (the memory store uses it as is)."""
    needle = text.strip().lower()
    if not needle:
        return True
    if any(needle in value.lower() for value in (c.name, c.company, c.email, c.account_number)):
        return True
    digits = "".join(ch for ch in needle if ch.isdigit())
    return len(digits) >= 4 and any(digits in phone for phone in c.phones)


@dataclass(frozen=True, slots=True)
class CallbackQuery:
    """Which promises to list: each filter given must match (`due_from <= due_at <
    due_to`); at most `limit`, by due time then id."""

    state: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    due_from: float | None = None
    due_to: float | None = None
    limit: int = 1000

    def matches(self, c: Callback) -> bool:
        return (
            (self.state is None or c.state == self.state)
            and (self.queue is None or c.queue == self.queue)
            and (self.agent_id is None or c.agent_id == self.agent_id)
            and (self.due_from is None or c.due_at >= self.due_from)
            and (self.due_to is None or c.due_at < self.due_to)
        )


COMMAND_STATES = ("pending", "applied", "refused", "expired")
COMMAND_ANSWERS = ("applied", "refused", "expired")  # the states of an answered command


@dataclass(frozen=True, slots=True)
class AgentCommand:
    """An agent command the web accepted (agents/commands.py), kept until the live loop
    answers it: `pending`, then `applied` (ok), `refused` (the live loop said why) or
    `expired` (it waited too long for a live loop). The request id is its key: a retry
    with the same id finds this row and its first answer, and nothing is applied twice."""

    request_id: str
    agent_id: str
    body: Mapping[str, Any]  # the command as the contract dumps it: `action` and its arguments
    created_at: float
    state: str = "pending"
    error: str = ""  # why it was refused or expired
    answered_at: float = 0.0  # when it was applied, refused or expired (0 while pending)

    @property
    def action(self) -> str:
        return str(self.body.get("action", ""))


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """One campaign lead and its dialing state: the dialer's promise of when (and
    whether) it calls the lead again. `details` is the lead as imported (time zones,
    names, priority, attributes, line), so the store alone can rebuild the campaign."""

    campaign: str
    lead_id: str
    phone: str  # E.164
    # pending | dialing | preview (shown to `offered_to`, not dialled) | connected | done |
    # exhausted | blocked | no_window
    status: str = "pending"
    attempts: int = 0
    cycle: int = 0
    next_at: float = 0.0  # pending: not dialled before; dialing: when it was selected
    last_outcome: str = ""
    disposition: str = ""  # the agent's last one
    callback: bool = False  # a call-back the customer agreed to (dialled first when due)
    call_id: str = ""  # connected: the call whose disposition is awaited; preview: the preview's call
    details: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    offered_to: str = ""  # preview: the agent it was offered to ("" while it waits for one)


@dataclass(frozen=True, slots=True)
class DncEntry:
    """A number on a do-not-call list: the global one (campaign "") or a campaign's."""

    number: str  # E.164
    campaign: str = ""
    source: str = ""  # disposition | api | import | ... (with what it names, e.g. "import:dnc.csv")
    added_at: float = 0.0
    added_by: str = ""  # the agent, user or command that added it


@dataclass(frozen=True, slots=True)
class Lease:
    """The leader lease as the store saw it when asked (`now`: the store's clock)."""

    name: str
    holder: str
    epoch: int
    acquired_at: float
    expires_at: float
    now: float

    def held_by(self, holder: str) -> bool:
        return self.holder == holder and self.expires_at > self.now


@dataclass(frozen=True, slots=True)
class HandOff:
    """What a server that is not the leader hands to the leader's live loop (an IVR
    step, hand-off or call-back request of a FastAGI session it ran); `body` is JSON."""

    id: int
    kind: str
    call_id: str
    body: dict[str, Any]
    created_at: float
    taken_epoch: int | None = None
