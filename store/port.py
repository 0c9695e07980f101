"""The store's ports: what the rest of Hotline may ask of persistence.

Five role ports, each a `typing.Protocol`, name what a part of Hotline needs:

- `EventLog`: the append-only interaction event log, read back by streaming
  (`iter_events`) or per call;
- `CustomerDirectory`: the CRM's customers, looked up by id, account or phone;
- `Interactions`: one row per call, with the agent's wrap-up (disposition, notes);
- `DialerState`: each campaign lead's dialing state (attempts, next try, status,
  last disposition, call-back flag), written before the dialer acts on it;
- `DoNotCallList`: the global and per-campaign do-not-call numbers, with where each
  came from and when;
- `Callbacks`: the call-back promises and every step of keeping them;
- `AgentCommands`: the agent commands the web accepted, each kept until the live loop
  answers it (applied once, whatever the restarts and retries);
- `WebSessions`: the signed-in browsers (server-side sessions, revocable at once);
- `AuditLog`: the admin actions, append-only.

Two adapters implement them all: `store.sql.SqlStore` (PostgreSQL/asyncpg or
SQLite/aiosqlite) and `store.memory.MemoryStore` (one process, for tests and the
simulator); `tests/contract/test_contract_store.py` and `tests/contract/test_contract_dialer.py`
hold them to one suite.
`Store` is the whole SQL store (the role ports plus users, settings versions, API
tokens and call-backs, which only the SQL adapter has).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from events import Event
from store.chat_sessions import ChatSessions
from store.models import (
    AgentCommand,
    ApiToken,
    AuditEntry,
    Callback,
    CallbackQuery,
    Customer,
    DncEntry,
    HandOff,
    Interaction,
    InteractionFilter,
    LeadRecord,
    Lease,
    Recording,
    SettingsVersion,
    StoredEvent,
    User,
    UserName,
    WebSession,
)
from store.report_day_rows import ReportDayRows
from tasks.model import Task, TaskMessage

if TYPE_CHECKING:  # (store.webhooks imports NotFound from here)
    from store.webhooks import WebhookDelivery, WebhookSubscription

EVENT_PAGE = 5000  # iter_events' default page: rows read per query


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    """A uniqueness rule was broken (duplicate account number, login...)."""


EPOCH_LEASE = "live"  # the lease whose epoch an event log write with `epoch` must match


class StaleEpoch(RuntimeError):
    """A write by a leader's term that is over: the `live` lease has another epoch now."""


class EventLog(Protocol):
    """The append-only event log. Sequence numbers are positive and increase in the
    order events were stored; they are never reused."""

    async def append(self, event: Event) -> int: ...

    async def append_many(
        self,
        events: Sequence[Event],
        dedupe_keys: Sequence[str] | None = None,
        *,
        epoch: int = 0,
        payloads: Sequence[str | None] | None = None,
    ) -> list[int]:
        """All or nothing. With `dedupe_keys` (one per event), an event whose key is
        already stored is skipped and its seq is 0: re-sending a batch is harmless.
        Raises ValueError when the keys do not match the events one for one. `epoch`:
        the leader's term that logs them (`StoredEvent.epoch`; 0 for other writers); when
        it is not 0 and the `live` lease (EPOCH_LEASE) is at another epoch, nothing is
        written and StaleEpoch is raised: a deposed leader's late write is refused.
        `payloads`: the events' records as JSON text (`json.dumps(to_record(event))`)
        where the caller has them already (None: encoded here), one per event."""
        ...

    def iter_events(
        self,
        start: float,
        end: float,
        *,
        after_seq: int = 0,
        kinds: Collection[type[Event]] | None = None,
        page: int = EVENT_PAGE,
    ) -> AsyncIterator[StoredEvent]:
        """Every stored event with `start <= at < end` and `seq > after_seq` (only those
        of `kinds` when given), in sequence order, read `page` rows per query. Events
        stored while the iteration runs are included when their seq is past the page
        being read."""
        ...

    async def events_for_call(self, call_id: str) -> list[StoredEvent]: ...
    async def last_seq(self) -> int: ...


class CustomerDirectory(Protocol):
    """Customers (the built-in CRM). Phones are stored in E.164, de-duplicated;
    `InvalidPhone` (store.phones) for one that cannot be read."""

    async def put_customer(self, customer: Customer) -> None: ...

    async def add_customer(self, customer: Customer) -> None:
        """Insert a new customer, never replacing one: Conflict naming `id` when the id
        is taken, `account_number` when the account number is."""
        ...

    async def put_customers(self, customers: Iterable[Customer]) -> int:
        """Upsert a batch, all or nothing (Conflict on a duplicate account number)."""
        ...

    async def get_customer(self, customer_id: str) -> Customer: ...  # NotFound

    async def find_customers_by_phone(self, phone: str) -> list[Customer]:
        """Every customer with that number, by the number's position on their record, then id."""
        ...

    async def find_customers_by_phones(self, phones: Iterable[str]) -> dict[str, list[Customer]]:
        """`find_customers_by_phone` of many numbers at once (one query): each number as
        given -> its customers, in the same order; a number that cannot be read is left out."""
        ...

    async def find_customer_by_account(self, account_number: str) -> Customer | None: ...
    async def count_customers(self) -> int: ...

    async def search_customers(self, text: str, limit: int = 50, offset: int = 0) -> list[Customer]:
        """Customers whose name, company, email or account number contains `text` (any
        case), or one of whose numbers contains its digits (4 or more), by name then id."""
        ...


class Interactions(Protocol):
    """One row per call (id = the call id) with the agent's wrap-up."""

    async def put_interaction(self, interaction: Interaction) -> None:
        """Upsert. An empty disposition or notes keeps the stored one (the agent may
        have saved the wrap-up before the live loop writes the ended call)."""
        ...

    async def put_interactions(self, interactions: Sequence[Interaction]) -> None:
        """`put_interaction` of each, in order, all or none (one round trip in SQL)."""
        ...

    async def get_interaction(self, interaction_id: str) -> Interaction: ...  # NotFound

    async def interactions_missing(self, interaction_ids: Sequence[str]) -> set[str]:
        """The ids with no row (a restart writes again the rows of the calls that ended
        just before a crash: cti/live_recovery.py)."""
        ...

    async def interactions_for_customer(self, customer_id: str, limit: int = 10) -> list[Interaction]:
        """The customer's latest first (started_at descending, then id)."""
        ...

    async def interactions_between(self, start: float, end: float) -> list[Interaction]:
        """`start <= started_at < end`, by started_at then id."""
        ...

    async def set_disposition(self, interaction_id: str, disposition: str, notes: str) -> None: ...  # NotFound

    async def search_interactions(
        self, where: InteractionFilter, limit: int = 50, offset: int = 0
    ) -> list[Interaction]:
        """The interactions matching every field `where` sets, latest first (started_at
        descending, then id)."""
        ...


class DialerState(Protocol):
    """Each campaign lead's dialing state, one row per (campaign, lead id). The dialer
    writes a lead's row before it acts on it (a dial, a retry time, a final state), so
    after a restart no lead is dialled early or from attempt 0."""

    async def add_lead_states(self, records: Iterable[LeadRecord]) -> int:
        """Insert the leads not stored yet; a stored lead keeps its row whatever the
        record says (a lead list read again at start). All or nothing; returns how
        many were new."""
        ...

    async def put_lead_states(self, records: Iterable[LeadRecord]) -> None:
        """Upsert every row, all or nothing."""
        ...

    async def lead_states(self, campaign: str) -> list[LeadRecord]:
        """The campaign's leads, by lead id."""
        ...

    async def get_lead_state(self, campaign: str, lead_id: str) -> LeadRecord: ...  # NotFound


class DoNotCallList(Protocol):
    """Do-not-call numbers: the global list (campaign "") and one per campaign, in
    E.164 (`InvalidPhone` from store.phones for one that cannot be read), each with
    its source, time and author. An entry stays until it is removed."""

    async def add_dnc(self, entries: Iterable[DncEntry]) -> int:
        """Add, all or nothing. A number already on that list keeps its first entry;
        returns how many were new."""
        ...

    async def remove_dnc(self, number: str, campaign: str = "") -> bool:
        """False when the number was not on that list."""
        ...

    async def dnc_entries(
        self, campaign: str | None = None, *, number: str | None = None, limit: int = 10_000
    ) -> list[DncEntry]:
        """One list (campaign "" is the global one) or every list (None), by campaign
        then number; with `number`, only that number's entries."""
        ...

    async def dnc_blocked(self, numbers: Collection[str], campaign: str) -> set[str]:
        """The E.164 forms of those of `numbers` on the global list or on the
        campaign's (a number that cannot be read is not on any)."""
        ...


class Callbacks(Protocol):
    """Call-back promises (store.models.Callback): the web writes those agents schedule,
    the live loop's scheduler those callers ask for, and every step of keeping them."""

    async def put_callback(self, callback: Callback) -> bool:
        """Insert or replace the whole row, unless the stored one is cancelled: a
        cancellation is final, so a step the live loop takes on a promise cancelled
        meanwhile is not written (False: nothing written, the promise is not kept)."""
        ...

    async def get_callback(self, callback_id: str) -> Callback: ...  # NotFound

    async def list_callbacks(self, query: CallbackQuery) -> list[Callback]:
        """Those the query matches, by due time then id, at most `query.limit`."""
        ...

    async def cancel_callback(self, callback_id: str, by: str) -> Callback:
        """Cancel a pending promise (`outcome` says by whom): it is never dialled again.
        A promise in any other state (being dialled, kept, failed, cancelled) keeps it.
        Returns the stored row either way; NotFound for an unknown id."""
        ...

    async def callbacks_between(self, start: float, end: float, agent_id: str | None = None) -> list[Callback]:
        """Due in [start, end), by due time then id (any state)."""
        ...

    async def open_callbacks(self, due_before: float | None = None) -> list[Callback]:
        """Not kept yet (pending or dialing), by due time then id."""
        ...


class AgentCommands(Protocol):
    """Agent commands (store.models.AgentCommand), keyed by request id: the web writes
    one before it asks the live loop to apply it, the live loop writes its answer."""

    async def put_command(self, command: AgentCommand) -> AgentCommand:
        """Keep a new pending command; a request id already stored keeps its first row
        (whatever this one says). Returns the stored row."""
        ...

    async def get_command(self, request_id: str) -> AgentCommand: ...  # NotFound

    async def pending_commands(self, limit: int = 1000) -> list[AgentCommand]:
        """Those not answered yet, in the order they were kept."""
        ...

    async def answer_command(self, request_id: str, state: str, error: str, at: float) -> AgentCommand:
        """Answer a pending command (`state` one of store.models.COMMAND_ANSWERS, else
        ValueError); one answered already keeps its first answer. Returns the stored
        row (NotFound for an unknown request id)."""
        ...

    async def forget_commands(self, answered_before: float) -> int:
        """Delete the commands answered before that time (never a pending one); how many."""
        ...


class LeaderLeases(Protocol):
    """Named leases, one holder at a time, on the store's clock (store.models.Lease):
    the processes sharing a store elect the one that runs the live loop."""

    async def claim_lease(self, name: str, holder: str, ttl_s: float) -> Lease:
        """Take the lease if it is free or ran out, or renew it if `holder` has it: it
        then runs `ttl_s` from the store's now. The epoch grows whenever a term starts
        (a new holder, or a holder back after its lease ran out). Returns the lease as
        it stands, whoever holds it."""
        ...

    async def release_lease(self, name: str, holder: str) -> None:
        """End `holder`'s term now (a clean stop): the next claim takes it at once."""
        ...

    async def current_lease(self, name: str) -> Lease | None: ...


class LiveHandOffs(Protocol):
    """What a FastAGI session run by a server that is not the leader hands to the
    leader's live loop (cti/handoffs.py): rows, each taken once, in order."""

    async def put_handoff(self, kind: str, call_id: str, body: Mapping[str, Any], created_at: float) -> int:
        """Keep one (ValueError when `kind` or `call_id` is empty); its id."""
        ...

    async def take_handoffs(self, epoch: int, limit: int = 100) -> list[HandOff]:
        """The oldest not yet taken, marked taken by `epoch` (each is returned to one
        caller only, however many ask at once)."""
        ...

    async def handoff_taken(self, handoff_id: int) -> bool:
        """Did a leader take it (False for an unknown id)?"""
        ...

    async def listen_handoffs(self, wake: Callable[[], None]) -> HandOffWaker | None:
        """`wake()` whenever a hand-off is kept, by any process (PostgreSQL's NOTIFY), and
        when that can no longer be told (the waker's `alive` then False); None when this
        store cannot tell (the taker polls)."""
        ...


class HandOffWaker(Protocol):
    alive: bool

    def close(self) -> None: ...


class WebSessions(Protocol):
    """Server-side web sessions (store.models.WebSession), keyed by the hash of the
    cookie's secret. Revoking is deleting: the next request with that cookie is anonymous."""

    async def put_session(self, session: WebSession) -> None:
        """Keep a new session (Conflict when the id is stored already)."""
        ...

    async def get_session(self, session_id: str) -> WebSession | None: ...

    async def get_sessions(self, session_ids: Iterable[str]) -> dict[str, WebSession]:
        """The stored ones of these sessions, by id (every open websocket checked at once)."""
        ...

    async def touch_session(self, session_id: str, at: float) -> None:
        """Move `last_seen_at` forward to `at` (never back); nothing for an unknown id."""
        ...

    async def delete_session(self, session_id: str) -> bool:
        """False when there was no such session."""
        ...

    async def delete_sessions(self, login: str, *, keep: str = "") -> int:
        """Sign a user out everywhere (but the session `keep`); how many were deleted."""
        ...

    async def forget_sessions(self, seen_before: float, created_before: float) -> int:
        """Delete the sessions idle since `seen_before` or opened before `created_before`."""
        ...


class AuditLog(Protocol):
    """Admin actions (store.models.AuditEntry), append-only."""

    async def add_audit(self, entry: AuditEntry) -> int:
        """Keep an entry; returns its seq (positive, increasing)."""
        ...

    async def audit_entries(
        self, *, limit: int = 100, before_seq: int = 0, actor: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """The latest first: at most `limit`, with seq below `before_seq` when it is not 0,
        by that actor, whose action is `action` or starts with `action` + "."."""
        ...


class Recordings(Protocol):
    """Call recordings (store.models.Recording), one per call id."""

    async def put_recording(self, recording: Recording) -> None:
        """Keep it, replacing the call's (a second start keeps the first file's row)."""
        ...

    async def get_recording(self, call_id: str) -> Recording: ...  # NotFound

    async def recordings_started_before(self, before: float, limit: int = 1000) -> list[Recording]:
        """The oldest first (retention)."""
        ...

    async def delete_recording(self, call_id: str) -> None: ...


class CustomerErasure(Protocol):
    """A customer's erasure request (web/erasure.py): their record and their calls go."""

    async def erase_customer(self, customer_id: str) -> tuple[bool, list[str]]:
        """Delete the customer (with their phone numbers) and every interaction linked to
        them, all or nothing; (whether the customer existed, the ids of the interactions
        deleted). Nothing to delete is (False, [])."""
        ...


class WebhookOutbox(Protocol):
    """Webhook subscriptions and their durable outbox (store/webhooks.py: the models and
    the SQL adapter; only the SQL store has them)."""

    async def put_webhook(self, sub: WebhookSubscription) -> None: ...
    async def get_webhook(self, sub_id: str) -> WebhookSubscription: ...  # NotFound
    async def list_webhooks(self) -> list[WebhookSubscription]: ...
    async def delete_webhook(self, sub_id: str) -> bool: ...
    async def publish_webhook(self, event: str, key: str, payload: Mapping[str, Any], at: float) -> int: ...
    async def due_webhook_deliveries(self, now: float, limit: int = 100) -> list[WebhookDelivery]: ...
    async def record_webhook_attempt(
        self, delivery_id: str, *, status: str, next_at: float, http_status: int, error: str, at: float
    ) -> WebhookDelivery: ...
    async def get_webhook_delivery(self, delivery_id: str) -> WebhookDelivery: ...  # NotFound
    async def list_webhook_deliveries(
        self, *, subscription_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[WebhookDelivery]: ...
    async def webhook_cursor(self, name: str) -> int | None: ...
    async def set_webhook_cursor(self, name: str, seq: int) -> None: ...


class TaskRows(Protocol):
    """Tasks (tasks.model.Task) and their messages, one row each (issue 18): the adapters
    are store.task_rows' halves. A task's state changes only by compare-and-set."""

    async def add_task(self, task: Task) -> Task:
        """Keep a new task; one whose id is stored keeps its first row (an open
        repeated is harmless). Returns the stored row."""
        ...

    async def get_task(self, task_id: str) -> Task: ...  # NotFound

    async def update_task(self, task: Task, *, from_states: Collection[str]) -> bool:
        """Replace the stored row by `task` (same id) only while its stored state is one
        of `from_states`; False (nothing written) otherwise. NotFound for an unknown id."""
        ...

    async def open_tasks(self, agent_id: str | None = None) -> list[Task]:
        """Waiting, offered or assigned (only those offered/assigned to `agent_id` when
        given), by created_at then id."""
        ...

    async def tasks_for_customer(self, customer_id: str, limit: int = 20) -> list[Task]:
        """The customer's tasks, latest first (created_at descending, then id)."""
        ...

    async def tasks_between(self, start: float, end: float) -> list[Task]:
        """`start <= created_at < end`, by created_at then id (reports)."""
        ...

    async def tasks_ended_since(self, since: float) -> list[Task]:
        """Closed or abandoned with `closed_at >= since`, by closed_at then id (a new
        leader logs their ends: cti/live_tasks.py)."""
        ...

    async def add_task_message(self, message: TaskMessage) -> TaskMessage:
        """Append to the task's transcript: the store numbers it (`message.seq` is
        ignored). A message id already stored keeps its first row (returned). An "out"
        message sets the task's first_response_at if unset. NotFound for an unknown task."""
        ...

    async def task_messages(self, task_id: str, after_seq: int = 0) -> list[TaskMessage]:
        """Those with seq > after_seq, by seq."""
        ...


class Store(
    ReportDayRows,
    CustomerErasure,
    WebhookOutbox,
    TaskRows,
    ChatSessions,
    Recordings,
    EventLog,
    CustomerDirectory,
    Interactions,
    DialerState,
    DoNotCallList,
    Callbacks,
    AgentCommands,
    LeaderLeases,
    LiveHandOffs,
    WebSessions,
    AuditLog,
    Protocol,
):
    """The whole SQL store: the role ports and what only the SQL adapter keeps."""

    kind: str

    async def migrate(self) -> list[str]: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...

    # one page of the event log (SQL only: stream with `iter_events` instead)
    async def events_between(
        self, start: float, end: float, after_seq: int = 0, limit: int = 10_000
    ) -> list[StoredEvent]: ...

    # users and agents
    async def put_user(self, user: User) -> None: ...
    async def get_user(self, login: str) -> User: ...
    async def get_users(self, logins: Iterable[str]) -> dict[str, User]: ...
    async def list_users(self, role: str | None = None) -> list[User]: ...
    async def list_user_names(self) -> list[UserName]:
        """Every user's login, name, role and team, by login (a report of 10,000 agents
        reads them at each request; `list_users` decodes their skills too)."""
        ...

    async def delete_user(self, login: str) -> bool:
        """Delete the user, their web sessions and revoke their API tokens, all at once;
        False when there was no such user; Conflict when they are the last enabled admin
        (checked in the same transaction). What they did stays (events, interactions,
        audit entries keep their login)."""
        ...

    # admin settings documents, versioned (web admin: routing rules, queues, codes)
    async def put_settings_version(
        self,
        section: str,
        body: str,
        author: str = "",
        comment: str = "",
        expected_version: int | None = None,
        at: float = 0.0,
    ) -> SettingsVersion: ...
    async def get_settings_version(self, section: str, version: int | None = None) -> SettingsVersion | None: ...
    async def list_settings_versions(self, section: str, limit: int = 50) -> list[SettingsVersion]: ...

    # REST API tokens (hash of the secret only)
    async def put_api_token(self, token: ApiToken, token_hash: str) -> None: ...
    async def find_api_token(self, token_hash: str) -> ApiToken | None: ...
    async def find_api_tokens(self, token_hashes: Iterable[str]) -> dict[str, ApiToken]: ...
    async def list_api_tokens(self, login: str | None = None) -> list[ApiToken]: ...
    async def revoke_api_token(self, token_id: str) -> None: ...
