"""The role ports in one process's memory: `EventLog`, `CustomerDirectory`,
`Interactions`, `DialerState`, `DoNotCallList`, `Callbacks`, `AgentCommands` and
`WebSessions` and `AuditLog` without a database (tests, the
simulator, what-if runs).

`tests/contract/` holds it to the same suites as the SQL store.
It keeps what the SQL store would give back, not the objects it was handed: events
and attribute maps make the same JSON round trip as a row does, so a caller that
mutates what it stored or read changes nothing here. Every method runs without an
`await` in between its reads and writes, so each is atomic on the event loop, as a
transaction is in SQL.
"""

from __future__ import annotations

import bisect
import json
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from events import Event, call_id_of, from_record, kind_of, to_record
from store.chat_sessions import MemoryChatSessions
from store.models import (
    CALLBACK_CLOSED,
    CALLBACK_OPEN,
    COMMAND_ANSWERS,
    AgentCommand,
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
    StoredEvent,
    WebSession,
    customer_matches,
)
from store.phones import InvalidPhone, normalize_phone
from store.port import EPOCH_LEASE, EVENT_PAGE, Conflict, NotFound
from store.sql import canonical_customer, check_epoch, check_handoff
from store.task_rows import MemoryTaskRows

K = TypeVar("K")
V = TypeVar("V")


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """What a JSON column gives back (fresh, tuples as lists)."""
    copied: dict[str, Any] = json.loads(json.dumps(dict(value)))
    return copied


def _add_new(table: dict[K, V], rows: Iterable[tuple[K, V]]) -> int:
    """Insert the rows whose key is not in `table` (the first of a batch wins); how many."""
    added = 0
    for key, row in rows:
        if key not in table:
            table[key] = row
            added += 1
    return added


@dataclass(frozen=True, slots=True)
class _Row:
    seq: int
    at: float
    kind: str
    call_id: str
    payload: str  # the event's record as JSON text, as the SQL store keeps it
    epoch: int = 0

    def stored(self) -> StoredEvent:
        return StoredEvent(self.seq, from_record(json.loads(self.payload)), self.epoch)


class MemoryStore(MemoryTaskRows, MemoryChatSessions):
    kind = "memory"

    def __init__(self) -> None:
        super().__init__()  # the tasks' rows (store.task_rows)
        self._events: list[_Row] = []  # in seq order
        self._seqs: list[int] = []  # the same rows' seqs, for bisect
        self._next_seq = 1
        self._dedupe: set[str] = set()
        self._customers: dict[str, Customer] = {}
        self._accounts: dict[str, str] = {}  # account number -> customer id
        self._phones: dict[str, dict[str, int]] = {}  # E.164 -> {customer id: position}
        self._interactions: dict[str, Interaction] = {}
        self._leads: dict[tuple[str, str], LeadRecord] = {}  # (campaign, lead id) -> row
        self._dnc: dict[tuple[str, str], DncEntry] = {}  # (campaign, E.164) -> entry
        self._callbacks: dict[str, Callback] = {}
        self._commands: dict[str, AgentCommand] = {}  # request id -> row, in the order kept
        self._leases: dict[str, Lease] = {}
        self._handoffs: list[HandOff] = []  # id = index + 1
        self._sessions: dict[str, WebSession] = {}
        self._audit: list[AuditEntry] = []  # in seq order
        self._recordings: dict[str, Recording] = {}
        self._chat_sessions = {}

    async def migrate(self) -> list[str]:
        return []

    # ------------------------------------------------------------ leader lease

    async def claim_lease(self, name: str, holder: str, ttl_s: float) -> Lease:
        if not ttl_s > 0:
            raise ValueError(f"ttl_s: must be positive, not {ttl_s!r}")
        now = time.time()
        old = self._leases.get(name)
        if old is None:
            lease = Lease(name, holder, 1, now, now + ttl_s, now)
        elif old.holder == holder and old.expires_at > now:
            lease = replace(old, expires_at=now + ttl_s, now=now)
        elif old.expires_at <= now:
            lease = Lease(name, holder, old.epoch + 1, now, now + ttl_s, now)
        else:
            return replace(old, now=now)
        self._leases[name] = lease
        return lease

    async def release_lease(self, name: str, holder: str) -> None:
        now = time.time()
        old = self._leases.get(name)
        if old is not None and old.holder == holder and old.expires_at > now:
            self._leases[name] = replace(old, expires_at=now, now=now)

    async def current_lease(self, name: str) -> Lease | None:
        old = self._leases.get(name)
        return None if old is None else replace(old, now=time.time())

    # ------------------------------------------------------------ live hand-offs

    async def put_handoff(self, kind: str, call_id: str, body: Mapping[str, Any], created_at: float) -> int:
        check_handoff(kind, call_id)
        kept: dict[str, Any] = json.loads(json.dumps(dict(body)))  # JSON only, as the SQL store keeps it
        handoff = HandOff(len(self._handoffs) + 1, kind, call_id, kept, float(created_at))
        self._handoffs.append(handoff)
        return handoff.id

    async def take_handoffs(self, epoch: int, limit: int = 100) -> list[HandOff]:
        taken: list[HandOff] = []
        for i, handoff in enumerate(self._handoffs):
            if len(taken) == limit:
                break
            if handoff.taken_epoch is None:
                self._handoffs[i] = handoff = replace(handoff, taken_epoch=int(epoch))
                taken.append(handoff)
        return taken

    async def listen_handoffs(self, wake: Callable[[], None]) -> None:
        return None  # the taker polls

    async def handoff_taken(self, handoff_id: int) -> bool:
        return 0 < handoff_id <= len(self._handoffs) and self._handoffs[handoff_id - 1].taken_epoch is not None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    # ------------------------------------------------------------ event log

    def _row(self, event: Event, payload: str | None = None) -> _Row:
        payload = payload or json.dumps(to_record(event))  # fails before anything is stored, as in SQL
        return _Row(0, float(event.at), kind_of(event), call_id_of(event), payload)

    def _store_row(self, row: _Row) -> int:
        seq = self._next_seq
        self._next_seq += 1
        self._events.append(replace(row, seq=seq))
        self._seqs.append(seq)
        return seq

    async def append(self, event: Event) -> int:
        return self._store_row(self._row(event))

    async def append_many(
        self,
        events: Sequence[Event],
        dedupe_keys: Sequence[str] | None = None,
        *,
        epoch: int = 0,
        payloads: Sequence[str | None] | None = None,
    ) -> list[int]:
        keys: Sequence[str | None] = dedupe_keys if dedupe_keys is not None else [None] * len(events)
        if len(keys) != len(events):
            raise ValueError("dedupe_keys: one key per event")
        texts: Sequence[str | None] = payloads if payloads is not None else [None] * len(events)
        if len(texts) != len(events):
            raise ValueError("payloads: one per event")
        rows = [replace(self._row(e, p), epoch=int(epoch)) for e, p in zip(events, texts, strict=True)]
        if epoch:
            lease = self._leases.get(EPOCH_LEASE)
            check_epoch(lease.epoch if lease is not None else None, epoch)
        seqs: list[int] = []
        for row, key in zip(rows, keys, strict=True):
            if key is not None and key in self._dedupe:
                seqs.append(0)
                continue
            if key is not None:
                self._dedupe.add(key)
            seqs.append(self._store_row(row))
        return seqs

    def _page(self, start: float, end: float, after: int, names: frozenset[str] | None, limit: int) -> list[_Row]:
        rows: list[_Row] = []
        for row in self._events[bisect.bisect_right(self._seqs, after) :]:
            if start <= row.at < end and (names is None or row.kind in names):
                rows.append(row)
                if len(rows) == limit:
                    break
        return rows

    async def iter_events(
        self,
        start: float,
        end: float,
        *,
        after_seq: int = 0,
        kinds: Collection[type[Event]] | None = None,
        page: int = EVENT_PAGE,
    ) -> AsyncIterator[StoredEvent]:
        if page < 1:
            raise ValueError("page: must be >= 1")
        names = frozenset(k.__name__ for k in kinds) if kinds is not None else None
        if names is not None and not names:
            return
        after = after_seq
        while True:
            rows = self._page(start, end, after, names, page)
            for row in rows:
                yield row.stored()
            if len(rows) < page:
                return
            after = rows[-1].seq

    async def events_for_call(self, call_id: str) -> list[StoredEvent]:
        if not call_id:
            return []
        return [row.stored() for row in self._events if row.call_id == call_id]

    async def last_seq(self) -> int:
        return self._seqs[-1] if self._seqs else 0

    # ------------------------------------------------------------ customers

    def _customer_out(self, customer: Customer) -> Customer:
        return replace(customer, attributes=_plain(customer.attributes))

    async def put_customer(self, customer: Customer) -> None:
        await self.put_customers([customer])

    async def add_customer(self, customer: Customer) -> None:
        if customer.id in self._customers:
            raise Conflict(f"id: customer {customer.id!r} exists")
        if customer.account_number and customer.account_number in self._accounts:
            raise Conflict(f"account_number: {customer.account_number!r} belongs to another customer")
        await self.put_customers([customer])

    async def put_customers(self, customers: Iterable[Customer]) -> int:
        batch = [canonical_customer(c) for c in customers]  # InvalidPhone before anything is stored
        stored = dict(self._customers)
        accounts = dict(self._accounts)
        for customer in batch:
            old = stored.get(customer.id)
            if old is not None and old.account_number:
                accounts.pop(old.account_number, None)
            if customer.account_number:
                holder = accounts.get(customer.account_number)
                if holder is not None and holder != customer.id:
                    raise Conflict(f"duplicate account number {customer.account_number!r}")
                accounts[customer.account_number] = customer.id
            stored[customer.id] = replace(customer, attributes=_plain(customer.attributes))
        for customer in batch:  # the phone index follows the batch's last word on each customer
            for phone_ids in self._phones.values():
                phone_ids.pop(customer.id, None)
        for customer_id in {c.id for c in batch}:
            for position, phone in enumerate(stored[customer_id].phones):
                self._phones.setdefault(phone, {})[customer_id] = position
        self._phones = {phone: ids for phone, ids in self._phones.items() if ids}
        self._customers, self._accounts = stored, accounts
        return len(batch)

    async def get_customer(self, customer_id: str) -> Customer:
        customer = self._customers.get(customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id!r}")
        return self._customer_out(customer)

    async def find_customers_by_phone(self, phone: str) -> list[Customer]:
        found = self._phones.get(normalize_phone(phone), {})
        return [self._customer_out(self._customers[c]) for c, _ in sorted(found.items(), key=lambda x: (x[1], x[0]))]

    async def find_customers_by_phones(self, phones: Iterable[str]) -> dict[str, list[Customer]]:
        found: dict[str, list[Customer]] = {}
        for phone in phones:
            try:
                found[phone] = await self.find_customers_by_phone(phone)
            except InvalidPhone:
                continue
        return found

    async def find_customer_by_account(self, account_number: str) -> Customer | None:
        customer_id = self._accounts.get(account_number.strip())
        return self._customer_out(self._customers[customer_id]) if customer_id is not None else None

    async def count_customers(self) -> int:
        return len(self._customers)

    async def search_customers(self, text: str, limit: int = 50, offset: int = 0) -> list[Customer]:
        rows = sorted((c for c in self._customers.values() if customer_matches(c, text)), key=lambda c: (c.name, c.id))
        return [self._customer_out(c) for c in rows[max(offset, 0) : max(offset, 0) + max(limit, 0)]]

    # ------------------------------------------------------------ interactions

    @staticmethod
    def _interaction_out(interaction: Interaction) -> Interaction:
        return replace(interaction, attributes=_plain(interaction.attributes))

    async def put_interaction(self, interaction: Interaction) -> None:
        old = self._interactions.get(interaction.id)
        row = replace(interaction, attributes=_plain(interaction.attributes))
        if old is not None:
            row = replace(
                row,
                disposition=interaction.disposition or old.disposition,
                notes=interaction.notes or old.notes,
            )
        self._interactions[interaction.id] = row

    async def put_interactions(self, interactions: Sequence[Interaction]) -> None:
        for interaction in interactions:
            await self.put_interaction(interaction)

    async def get_interaction(self, interaction_id: str) -> Interaction:
        found = self._interactions.get(interaction_id)
        if found is None:
            raise NotFound(f"interaction {interaction_id!r}")
        return self._interaction_out(found)

    async def interactions_missing(self, interaction_ids: Sequence[str]) -> set[str]:
        return {i for i in interaction_ids if i not in self._interactions}

    async def interactions_for_customer(self, customer_id: str, limit: int = 10) -> list[Interaction]:
        rows = sorted(
            (i for i in self._interactions.values() if i.customer_id == customer_id),
            key=lambda i: (-i.started_at, i.id),
        )
        return [self._interaction_out(i) for i in rows[: max(limit, 0)]]

    async def erase_customer(self, customer_id: str) -> tuple[bool, list[str]]:
        gone = sorted(i.id for i in self._interactions.values() if i.customer_id == customer_id)
        for interaction_id in gone:
            del self._interactions[interaction_id]
        customer = self._customers.pop(customer_id, None)
        if customer is not None:
            self._accounts = {a: c for a, c in self._accounts.items() if c != customer_id}
            for ids in self._phones.values():
                ids.pop(customer_id, None)
            self._phones = {phone: ids for phone, ids in self._phones.items() if ids}
        return customer is not None, gone

    async def interactions_between(self, start: float, end: float) -> list[Interaction]:
        rows = sorted(
            (i for i in self._interactions.values() if start <= i.started_at < end),
            key=lambda i: (i.started_at, i.id),
        )
        return [self._interaction_out(i) for i in rows]

    async def search_interactions(
        self, where: InteractionFilter, limit: int = 50, offset: int = 0
    ) -> list[Interaction]:
        rows = sorted((i for i in self._interactions.values() if where.matches(i)), key=lambda i: (-i.started_at, i.id))
        return [self._interaction_out(i) for i in rows[max(offset, 0) : max(offset, 0) + max(limit, 0)]]

    async def set_disposition(self, interaction_id: str, disposition: str, notes: str) -> None:
        found = self._interactions.get(interaction_id)
        if found is None:
            raise NotFound(f"interaction {interaction_id!r}")
        self._interactions[interaction_id] = replace(found, disposition=disposition, notes=notes)

    # ------------------------------------------------------------ dialer state (campaign leads)

    @staticmethod
    def _lead_row(record: LeadRecord) -> LeadRecord:
        return replace(
            record,
            attempts=int(record.attempts),
            cycle=int(record.cycle),
            next_at=float(record.next_at),
            callback=bool(record.callback),
            updated_at=float(record.updated_at),
            details=_plain(record.details),
        )

    async def add_lead_states(self, records: Iterable[LeadRecord]) -> int:
        rows = [self._lead_row(r) for r in records]  # a row that cannot be stored fails before any is
        return _add_new(self._leads, [((r.campaign, r.lead_id), r) for r in rows])

    async def put_lead_states(self, records: Iterable[LeadRecord]) -> None:
        rows = [self._lead_row(r) for r in records]
        for row in rows:
            self._leads[(row.campaign, row.lead_id)] = row

    async def lead_states(self, campaign: str) -> list[LeadRecord]:
        rows = sorted((r for (c, _), r in self._leads.items() if c == campaign), key=lambda r: r.lead_id)
        return [replace(r, details=_plain(r.details)) for r in rows]

    async def get_lead_state(self, campaign: str, lead_id: str) -> LeadRecord:
        found = self._leads.get((campaign, lead_id))
        if found is None:
            raise NotFound(f"lead {lead_id!r} of campaign {campaign!r}")
        return replace(found, details=_plain(found.details))

    # ------------------------------------------------------------ do-not-call lists

    async def add_dnc(self, entries: Iterable[DncEntry]) -> int:
        rows = [replace(e, number=normalize_phone(e.number), added_at=float(e.added_at)) for e in entries]
        return _add_new(self._dnc, [((r.campaign, r.number), r) for r in rows])

    async def remove_dnc(self, number: str, campaign: str = "") -> bool:
        return self._dnc.pop((campaign, normalize_phone(number)), None) is not None

    async def dnc_entries(
        self, campaign: str | None = None, *, number: str | None = None, limit: int = 10_000
    ) -> list[DncEntry]:
        e164 = normalize_phone(number) if number is not None else None
        keys = sorted(k for k in self._dnc if (campaign is None or k[0] == campaign) and (e164 is None or k[1] == e164))
        return [self._dnc[k] for k in keys[: max(limit, 0)]]

    async def dnc_blocked(self, numbers: Collection[str], campaign: str) -> set[str]:
        blocked: set[str] = set()
        for number in numbers:
            try:
                e164 = normalize_phone(number)
            except InvalidPhone:
                continue
            if ("", e164) in self._dnc or (campaign, e164) in self._dnc:
                blocked.add(e164)
        return blocked

    # ------------------------------------------------------------ call-backs

    async def put_callback(self, callback: Callback) -> bool:
        stored = self._callbacks.get(callback.id)
        if stored is not None and stored.state == "cancelled":
            return False
        closed = callback.done or callback.state in CALLBACK_CLOSED
        self._callbacks[callback.id] = replace(
            callback, done=closed, skills=dict(callback.skills), attributes=dict(callback.attributes)
        )
        return True

    async def get_callback(self, callback_id: str) -> Callback:
        try:
            return self._callbacks[callback_id]
        except KeyError:
            raise NotFound(f"callback {callback_id!r}") from None

    async def list_callbacks(self, query: CallbackQuery) -> list[Callback]:
        rows = [c for c in self._callbacks.values() if query.matches(c)]
        return sorted(rows, key=lambda c: (c.due_at, c.id))[: query.limit]

    async def cancel_callback(self, callback_id: str, by: str) -> Callback:
        row = await self.get_callback(callback_id)
        if row.state == "pending":
            row = self._callbacks[callback_id] = replace(
                row, state="cancelled", done=True, outcome=f"cancelled by {by}"
            )
        return row

    async def callbacks_between(self, start: float, end: float, agent_id: str | None = None) -> list[Callback]:
        rows = (c for c in self._callbacks.values() if start <= c.due_at < end)
        return sorted((c for c in rows if agent_id is None or c.agent_id == agent_id), key=lambda c: (c.due_at, c.id))

    async def open_callbacks(self, due_before: float | None = None) -> list[Callback]:
        rows = (c for c in self._callbacks.values() if c.state in CALLBACK_OPEN)
        due = (c for c in rows if due_before is None or c.due_at < due_before)
        return sorted(due, key=lambda c: (c.due_at, c.id))

    # ------------------------------------------------------------ agent commands

    @staticmethod
    def _command_out(row: AgentCommand) -> AgentCommand:
        return replace(row, body=_plain(row.body))

    async def put_command(self, command: AgentCommand) -> AgentCommand:
        row = replace(command, body=_plain(command.body), created_at=float(command.created_at))
        return self._command_out(self._commands.setdefault(row.request_id, row))

    async def get_command(self, request_id: str) -> AgentCommand:
        found = self._commands.get(request_id)
        if found is None:
            raise NotFound(f"command {request_id!r}")
        return self._command_out(found)

    async def pending_commands(self, limit: int = 1000) -> list[AgentCommand]:
        pending = [c for c in self._commands.values() if c.state == "pending"]
        return [self._command_out(c) for c in pending[: max(limit, 0)]]

    async def answer_command(self, request_id: str, state: str, error: str, at: float) -> AgentCommand:
        if state not in COMMAND_ANSWERS:
            raise ValueError(f"state: must be one of {', '.join(COMMAND_ANSWERS)}, not {state!r}")
        found = self._commands.get(request_id)
        if found is None:
            raise NotFound(f"command {request_id!r}")
        if found.state == "pending":
            found = self._commands[request_id] = replace(found, state=state, error=error, answered_at=float(at))
        return self._command_out(found)

    async def forget_commands(self, answered_before: float) -> int:
        gone = [k for k, c in self._commands.items() if c.state != "pending" and c.answered_at < answered_before]
        for key in gone:
            del self._commands[key]
        return len(gone)

    # ------------------------------------------------------------ web sessions

    async def put_session(self, session: WebSession) -> None:
        if session.id in self._sessions:
            raise Conflict("web session already exists")
        self._sessions[session.id] = replace(
            session, created_at=float(session.created_at), last_seen_at=float(session.last_seen_at)
        )

    async def get_session(self, session_id: str) -> WebSession | None:
        return self._sessions.get(session_id)

    async def get_sessions(self, session_ids: Iterable[str]) -> dict[str, WebSession]:
        return {i: self._sessions[i] for i in set(session_ids) if i in self._sessions}

    async def touch_session(self, session_id: str, at: float) -> None:
        found = self._sessions.get(session_id)
        if found is not None and found.last_seen_at < at:
            self._sessions[session_id] = replace(found, last_seen_at=float(at))

    async def delete_session(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None

    async def delete_sessions(self, login: str, *, keep: str = "") -> int:
        return self._drop_sessions(lambda s: s.login == login and s.id != keep)

    async def forget_sessions(self, seen_before: float, created_before: float) -> int:
        return self._drop_sessions(lambda s: s.last_seen_at < seen_before or s.created_at < created_before)

    def _drop_sessions(self, doomed: Callable[[WebSession], bool]) -> int:
        gone = [k for k, s in self._sessions.items() if doomed(s)]
        for key in gone:
            del self._sessions[key]
        return len(gone)

    # ------------------------------------------------------------ audit log

    async def put_recording(self, recording: Recording) -> None:
        self._recordings[recording.call_id] = recording

    async def get_recording(self, call_id: str) -> Recording:
        found = self._recordings.get(call_id)
        if found is None:
            raise NotFound(f"recording of call {call_id!r}")
        return found

    async def recordings_started_before(self, before: float, limit: int = 1000) -> list[Recording]:
        old = sorted(
            (r for r in self._recordings.values() if r.started_at < before), key=lambda r: (r.started_at, r.call_id)
        )
        return old[:limit]

    async def delete_recording(self, call_id: str) -> None:
        self._recordings.pop(call_id, None)

    async def add_audit(self, entry: AuditEntry) -> int:
        seq = len(self._audit) + 1
        self._audit.append(replace(entry, at=float(entry.at), detail=_plain(entry.detail), seq=seq))
        return seq

    async def audit_entries(
        self, *, limit: int = 100, before_seq: int = 0, actor: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        found = [
            replace(e, detail=_plain(e.detail))
            for e in reversed(self._audit)
            if (not before_seq or e.seq < before_seq)
            and (actor is None or e.actor == actor)
            and (action is None or e.action == action or e.action.startswith(action + "."))
        ]
        return found[: max(limit, 0)]


__all__ = ["MemoryStore"]
