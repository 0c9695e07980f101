"""The Store port over SQL: one implementation, two drivers (PostgreSQL, SQLite).

`SqlStore` implements the role ports (`EventLog`, `CustomerDirectory`,
`Interactions`) and the SQL-only rest of `store.port.Store`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from events import Event, agent_id_of, call_id_of, from_record, kind_of, to_record
from store.chat_sessions import SqlChatSessions
from store.drivers import Driver, Executor, Listening, PostgresDriver, UniqueViolation
from store.models import (
    CALLBACK_CLOSED,
    COMMAND_ANSWERS,
    ROLES,
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
from store.phones import InvalidPhone, normalize_phone
from store.port import EPOCH_LEASE, EVENT_PAGE, Conflict, NotFound, StaleEpoch
from store.report_day_rows import SqlReportDays
from store.task_rows import SqlTaskRows
from store.webhooks import SqlWebhooks

HANDOFF_CHANNEL = "hotline_live_handoffs"  # NOTIFY on each hand-off row (PostgreSQL)
_HANDOFF_INSERT = "INSERT INTO live_handoffs (kind, call_id, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id"
# the same, waking the leader's taker (LISTEN): the NOTIFY is sent when the row is committed
_HANDOFF_INSERT_NOTIFY = (
    f"WITH ins AS ({_HANDOFF_INSERT}) SELECT ins.id FROM ins, (SELECT pg_notify('{HANDOFF_CHANNEL}', '')) AS woke"
)
_RECORDING_COLUMNS = "call_id, path, agent_id, queue, started_at, ended_at"
_EVENT_INSERT = (
    "INSERT INTO events (at, kind, call_id, agent_id, payload, dedupe_key, epoch)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT DO NOTHING RETURNING seq"
)

_EVENT_FIELDS = 7  # an event row's columns (_event_row)
_EVENT_CHUNK = 1000  # rows per INSERT: 7,000 parameters (PostgreSQL takes 32,767, SQLite 32,766)


# PostgreSQL: any number of events as one prepared statement (arrays, not a statement
# per batch size), inserted in the batch's order only while the term is current.
_EVENT_ARRAY_CHUNK = 10_000
_EVENT_INSERT_ARRAYS = """
WITH ins AS (
    INSERT INTO events (at, kind, call_id, agent_id, payload, dedupe_key, epoch)
    SELECT u.at, u.kind, u.call_id, u.agent_id, u.payload::jsonb, u.dedupe_key, $7
    FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
        AS u(at, kind, call_id, agent_id, payload, dedupe_key, n)
    WHERE $7::bigint = 0 OR $7::bigint = (SELECT epoch FROM leader_lease WHERE name = $8)
    ORDER BY u.n
    ON CONFLICT DO NOTHING
    RETURNING seq, dedupe_key
)
SELECT (SELECT epoch FROM leader_lease WHERE name = $8) AS term, ins.seq, ins.dedupe_key
FROM (VALUES (1)) AS one (x) LEFT JOIN ins ON true
"""


def _event_insert_many(rows: int) -> str:
    n = _EVENT_FIELDS
    values = ", ".join("(" + ", ".join(f"${n * r + c}" for c in range(1, n + 1)) + ")" for r in range(rows))
    return (
        f"INSERT INTO events (at, kind, call_id, agent_id, payload, dedupe_key, epoch) VALUES {values}"
        " ON CONFLICT DO NOTHING RETURNING seq, dedupe_key"
    )


_CUSTOMER_INSERT = """
INSERT INTO customers (id, name, company, tier, email, account_number, phones, attributes, notes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
_CUSTOMER_UPSERT = f"""{_CUSTOMER_INSERT}ON CONFLICT (id) DO UPDATE SET name = excluded.name,
    company = excluded.company, tier = excluded.tier, email = excluded.email, account_number = excluded.account_number,
    phones = excluded.phones, attributes = excluded.attributes, notes = excluded.notes
"""
_CUSTOMER_PHONES_INSERT = (
    "INSERT INTO customer_phones (phone, customer_id, position) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
)
_CUSTOMER_COLUMNS = "c.id, c.name, c.company, c.tier, c.email, c.account_number, c.phones, c.attributes, c.notes"


def _like_escape(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_INTERACTION_COLUMNS = (
    "id, direction, queue, agent_id, customer_id, caller, started_at, answered_at, ended_at,"
    " outcome, disposition, notes, attributes"
)
_INTERACTION_UPSERT = f"""
INSERT INTO interactions ({_INTERACTION_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (id) DO UPDATE SET direction = excluded.direction, queue = excluded.queue,
    agent_id = excluded.agent_id, customer_id = excluded.customer_id, caller = excluded.caller,
    started_at = excluded.started_at, answered_at = excluded.answered_at,
    ended_at = excluded.ended_at, outcome = excluded.outcome,
    disposition = CASE WHEN excluded.disposition = '' THEN interactions.disposition ELSE excluded.disposition END,
    notes = CASE WHEN excluded.notes = '' THEN interactions.notes ELSE excluded.notes END,
    attributes = excluded.attributes
"""

_USER_COLUMNS = "login, display_name, role, password_hash, team, skills, languages, phone_endpoint, disabled, pbx"

_LEAD_COLUMNS = (
    "campaign, lead_id, phone, status, attempts, cycle, next_at, last_outcome, disposition, callback, call_id,"
    " details, updated_at, offered_to"
)
_LEAD_INSERT = (
    f"INSERT INTO dialer_leads ({_LEAD_COLUMNS})"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (campaign, lead_id)"
)
_LEAD_UPSERT = f"""{_LEAD_INSERT} DO UPDATE SET phone = excluded.phone,
    status = excluded.status, attempts = excluded.attempts, cycle = excluded.cycle, next_at = excluded.next_at,
    last_outcome = excluded.last_outcome, disposition = excluded.disposition, callback = excluded.callback,
    call_id = excluded.call_id, details = excluded.details, updated_at = excluded.updated_at,
    offered_to = excluded.offered_to
"""
_DNC_COLUMNS = "campaign, number, source, added_at, added_by"
DNC_CHUNK = 500  # numbers per dnc_blocked query (bound parameters)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _event_row(
    event: Event, dedupe_key: str | None = None, epoch: int = 0, payload: str | None = None
) -> tuple[Any, ...]:
    """`payload`: the event's record as JSON when the caller encoded it already."""
    return (
        float(event.at),
        kind_of(event),
        call_id_of(event),
        agent_id_of(event),
        payload or json.dumps(to_record(event)),
        dedupe_key,
        int(epoch),
    )


def _stored(row: Mapping[str, Any]) -> StoredEvent:
    return StoredEvent(int(row["seq"]), from_record(_json(row["payload"])), int(row["epoch"]))


def _customer(row: Mapping[str, Any]) -> Customer:
    return Customer(
        id=row["id"],
        name=row["name"],
        company=row["company"],
        tier=row["tier"],
        email=row["email"],
        account_number=row["account_number"] or "",
        phones=tuple(_json(row["phones"])),
        attributes=_json(row["attributes"]),
        notes=row["notes"],
    )


def _interaction(row: Mapping[str, Any]) -> Interaction:
    return Interaction(
        id=row["id"],
        direction=row["direction"],
        queue=row["queue"],
        agent_id=row["agent_id"],
        customer_id=row["customer_id"],
        caller=row["caller"],
        started_at=row["started_at"],
        answered_at=row["answered_at"],
        ended_at=row["ended_at"],
        outcome=row["outcome"],
        disposition=row["disposition"],
        notes=row["notes"],
        attributes=_json(row["attributes"]),
    )


def _user(row: Mapping[str, Any]) -> User:
    return User(
        login=row["login"],
        display_name=row["display_name"],
        role=row["role"],
        password_hash=row["password_hash"],
        team=row["team"],
        skills=_json(row["skills"]),
        languages=tuple(_json(row["languages"])),
        phone_endpoint=row["phone_endpoint"],
        disabled=bool(row["disabled"]),
        pbx=row["pbx"],
    )


_USER_NAMES = tuple(c.strip() for c in _USER_COLUMNS.split(","))


class _KnownUsers:
    """Users by their row as last read: a row read again unchanged gives the User built
    from it before, without parsing its JSON again. The live loop, the wallboard and the
    socket watch read every agent every 30 s or so: at 10,000 agents each read parsed
    20,000 JSON columns in one go, ~0.1 s of the event loop (the offers waited)."""

    LIMIT = 100_000  # rows kept at most (then forgotten all at once and built again)

    def __init__(self) -> None:
        self._by_row: dict[tuple[Any, ...], User] = {}

    def users(self, rows: Iterable[Mapping[str, Any]]) -> list[User]:
        by_row = self._by_row
        out: list[User] = []
        for row in rows:
            key = tuple([row[name] for name in _USER_NAMES])
            user = by_row.get(key)
            if user is None:
                user = by_row[key] = _user(row)
            out.append(user)
        if len(by_row) > self.LIMIT:
            by_row.clear()
        return out


def canonical_customer(customer: Customer) -> Customer:
    """Phones normalised to E.164 and de-duplicated (order kept). Raises InvalidPhone."""
    phones: list[str] = []
    for raw in customer.phones:
        phone = normalize_phone(raw)
        if phone not in phones:
            phones.append(phone)
    return Customer(
        id=customer.id,
        name=customer.name,
        company=customer.company,
        tier=customer.tier,
        phones=tuple(phones),
        email=customer.email,
        account_number=customer.account_number,
        attributes=dict(customer.attributes),
        notes=customer.notes,
    )


class SqlStore(
    SqlWebhooks, SqlTaskRows, SqlChatSessions, SqlReportDays
):  # store.webhooks, store.task_rows, store.chat_sessions, store.report_day_rows
    def __init__(self, driver: Driver) -> None:
        self._db = driver
        self.kind = driver.kind
        self._known_users = _KnownUsers()

    async def migrate(self) -> list[str]:
        return await self._db.migrate()

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> None:
        await self._db.fetchval("SELECT 1")

    # ------------------------------------------------------------ event log

    async def append(self, event: Event) -> int:
        return int(await self._db.fetchval(_EVENT_INSERT, *_event_row(event)))

    async def append_many(
        self,
        events: Sequence[Event],
        dedupe_keys: Sequence[str] | None = None,
        *,
        epoch: int = 0,
        payloads: Sequence[str | None] | None = None,
    ) -> list[int]:
        """One transaction. With `dedupe_keys` (one per event), an event whose key is
        already stored is skipped (its seq is 0): re-sending a batch is harmless."""
        keys: Sequence[str | None] = dedupe_keys if dedupe_keys is not None else [None] * len(events)
        if len(keys) != len(events):
            raise ValueError("dedupe_keys: one key per event")
        texts: Sequence[str | None] = payloads if payloads is not None else [None] * len(events)
        if len(texts) != len(events):
            raise ValueError("payloads: one per event")
        if dedupe_keys is not None:
            return await self._append_keyed(events, dedupe_keys, epoch, texts)
        async with self._db.transaction() as tx:
            await _check_term(tx, epoch)
            return [
                int(await tx.fetchval(_EVENT_INSERT, *_event_row(e, k, epoch, p)) or 0)
                for e, k, p in zip(events, keys, texts, strict=False)
            ]

    async def _append_keyed(
        self, events: Sequence[Event], keys: Sequence[str], epoch: int, payloads: Sequence[str | None]
    ) -> list[int]:
        """One INSERT of many rows per chunk (not one round trip per event: the live
        event log's batches); each seq found again by its key, the rows inserted in
        the events' order."""
        seqs: dict[str, int] = {}
        rows = [_event_row(e, k, epoch, p) for e, k, p in zip(events, keys, payloads, strict=True)]
        if self.kind == "postgresql" and len(rows) <= _EVENT_ARRAY_CHUNK:
            # One statement, one round trip (a transaction with its term check was four):
            # the rows go in only if the term is current, and the term comes back to say so.
            columns = [list(col) for col in zip(*rows, strict=True)][:6]
            found = await self._db.fetch(_EVENT_INSERT_ARRAYS, *columns, int(epoch), EPOCH_LEASE)
            if epoch:
                check_epoch(None if found[0]["term"] is None else int(found[0]["term"]), epoch)
            for row in found:
                if row["seq"] is not None:
                    seqs[row["dedupe_key"]] = int(row["seq"])
            return [seqs.pop(k, 0) for k in keys]
        async with self._db.transaction() as tx:
            await _check_term(tx, epoch)
            for i in range(0, len(rows), _EVENT_CHUNK):
                chunk = rows[i : i + _EVENT_CHUNK]
                for row in await tx.fetch(_event_insert_many(len(chunk)), *(v for r in chunk for v in r)):
                    seqs[row["dedupe_key"]] = int(row["seq"])
        # a key twice in one batch: only its first event is stored (as one at a time did)
        return [seqs.pop(k, 0) for k in keys]

    async def events_between(
        self, start: float, end: float, after_seq: int = 0, limit: int = 10_000
    ) -> list[StoredEvent]:
        rows = await self._db.fetch(
            "SELECT seq, payload, epoch FROM events WHERE at >= $1 AND at < $2 AND seq > $3 ORDER BY seq LIMIT $4",
            start,
            end,
            after_seq,
            limit,
        )
        return [_stored(r) for r in rows]

    async def iter_events(
        self,
        start: float,
        end: float,
        *,
        after_seq: int = 0,
        kinds: Collection[type[Event]] | None = None,
        page: int = EVENT_PAGE,
    ) -> AsyncIterator[StoredEvent]:
        """One query per `page` rows, each after the last seq read (no cursor or
        transaction is held between pages)."""
        if page < 1:
            raise ValueError("page: must be >= 1")
        names = sorted({k.__name__ for k in kinds}) if kinds is not None else []
        if kinds is not None and not names:
            return
        sql = "SELECT seq, payload, epoch FROM events WHERE at >= $1 AND at < $2 AND seq > $3"
        if names:
            sql += " AND kind IN (" + ", ".join(f"${i}" for i in range(5, 5 + len(names))) + ")"
        sql += " ORDER BY seq LIMIT $4"
        after = after_seq
        while True:
            rows = await self._db.fetch(sql, start, end, after, page, *names)
            for row in rows:
                yield _stored(row)
            if len(rows) < page:
                return
            after = int(rows[-1]["seq"])

    async def events_for_call(self, call_id: str) -> list[StoredEvent]:
        rows = await self._db.fetch(
            "SELECT seq, payload, epoch FROM events WHERE call_id = $1 AND call_id <> '' ORDER BY seq", call_id
        )
        return [_stored(r) for r in rows]

    async def last_seq(self) -> int:
        return int(await self._db.fetchval("SELECT COALESCE(MAX(seq), 0) FROM events"))

    # ------------------------------------------------------------ customers

    @staticmethod
    def _customer_rows(customer: Customer) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        row = (
            customer.id,
            customer.name,
            customer.company,
            customer.tier,
            customer.email,
            customer.account_number or None,
            json.dumps(list(customer.phones)),
            json.dumps(dict(customer.attributes)),
            customer.notes,
        )
        phones = [(phone, customer.id, i) for i, phone in enumerate(customer.phones)]
        return row, phones

    async def _write_customers(self, tx: Executor, customers: list[Customer]) -> None:
        rows: list[tuple[Any, ...]] = []
        phones: list[tuple[Any, ...]] = []
        for customer in customers:
            row, phone_rows = self._customer_rows(customer)
            rows.append(row)
            phones.extend(phone_rows)
        try:
            await tx.executemany(_CUSTOMER_UPSERT, rows)
        except UniqueViolation as exc:
            raise Conflict(f"duplicate account number ({exc})") from None
        await tx.executemany("DELETE FROM customer_phones WHERE customer_id = $1", [(c.id,) for c in customers])
        await tx.executemany(_CUSTOMER_PHONES_INSERT, phones)

    async def put_customer(self, customer: Customer) -> None:
        await self.put_customers([customer])

    async def add_customer(self, customer: Customer) -> None:
        c = canonical_customer(customer)
        async with self._db.transaction() as tx:
            if await tx.fetchval("SELECT COUNT(*) FROM customers WHERE id = $1", c.id):
                raise Conflict(f"id: customer {c.id!r} exists")
            if c.account_number and await tx.fetchval(
                "SELECT COUNT(*) FROM customers WHERE account_number = $1", c.account_number
            ):
                raise Conflict(f"account_number: {c.account_number!r} belongs to another customer")
            row, phones = self._customer_rows(c)
            try:  # a plain INSERT: an id stored meanwhile by someone else fails it too
                await tx.execute(_CUSTOMER_INSERT, *row)
            except UniqueViolation:
                raise Conflict(f"id: customer {c.id!r} (or its account number) exists") from None
            await tx.executemany(_CUSTOMER_PHONES_INSERT, phones)

    async def put_customers(self, customers: Iterable[Customer]) -> int:
        """All or nothing: one transaction for the whole batch."""
        batch = [canonical_customer(c) for c in customers]
        async with self._db.transaction() as tx:
            await self._write_customers(tx, batch)
        return len(batch)

    async def get_customer(self, customer_id: str) -> Customer:
        rows = await self._db.fetch(f"SELECT {_CUSTOMER_COLUMNS} FROM customers c WHERE c.id = $1", customer_id)
        if not rows:
            raise NotFound(f"customer {customer_id!r}")
        return _customer(rows[0])

    async def find_customers_by_phone(self, phone: str) -> list[Customer]:
        rows = await self._db.fetch(
            f"SELECT {_CUSTOMER_COLUMNS} FROM customer_phones p JOIN customers c ON c.id = p.customer_id"
            " WHERE p.phone = $1 ORDER BY p.position, c.id",
            normalize_phone(phone),
        )
        return [_customer(r) for r in rows]

    async def find_customers_by_phones(self, phones: Iterable[str]) -> dict[str, list[Customer]]:
        """One query for many numbers (PostgreSQL: `= ANY($1)`; SQLite, which has no
        arrays: `IN ($1, ...)` by chunks of bound parameters)."""
        wanted: dict[str, list[str]] = {}  # E.164 -> the numbers as given
        for phone in phones:
            try:
                wanted.setdefault(normalize_phone(phone), []).append(phone)
            except InvalidPhone:
                continue  # left out: the caller tells it from "no customer"
        found: dict[str, list[Mapping[str, Any]]] = {number: [] for number in wanted}
        numbers = list(wanted)
        select = f"SELECT p.phone AS matched, {_CUSTOMER_COLUMNS} FROM customer_phones p JOIN customers c"
        if self.kind == "postgresql":
            rows = await self._db.fetch(
                f"{select} ON c.id = p.customer_id WHERE p.phone = ANY($1::text[]) ORDER BY p.position, c.id", numbers
            )
        else:
            rows = []
            for chunk in _chunks(numbers):
                rows += await self._db.fetch(
                    f"{select} ON c.id = p.customer_id WHERE p.phone IN ({_params(len(chunk))})"
                    " ORDER BY p.position, c.id",
                    *chunk,
                )
        for row in rows:  # in (position, id) order: each number's list keeps it
            found[row["matched"]].append(row)
        # a number given twice (as typed differently): customers of its own each
        return {phone: [_customer(r) for r in found[number]] for number, given in wanted.items() for phone in given}

    async def find_customer_by_account(self, account_number: str) -> Customer | None:
        rows = await self._db.fetch(
            f"SELECT {_CUSTOMER_COLUMNS} FROM customers c WHERE c.account_number = $1", account_number.strip()
        )
        return _customer(rows[0]) if rows else None

    async def count_customers(self) -> int:
        return int(await self._db.fetchval("SELECT COUNT(*) FROM customers"))

    async def search_customers(self, text: str, limit: int = 50, offset: int = 0) -> list[Customer]:
        needle = text.strip().lower()
        args: list[Any] = []
        where = ""
        if needle:
            args.append("%" + _like_escape(needle) + "%")
            fields = ("c.name", "c.company", "c.email", "c.account_number")
            matches = [f"LOWER({f}) LIKE $1 ESCAPE '\\'" for f in fields]
            digits = "".join(ch for ch in needle if ch.isdigit())
            if len(digits) >= 4:
                args.append("%" + digits + "%")
                matches.append(
                    "EXISTS (SELECT 1 FROM customer_phones p WHERE p.customer_id = c.id AND p.phone LIKE $2)"
                )
            where = " WHERE " + " OR ".join(matches)
        args += [max(limit, 0), max(offset, 0)]
        rows = await self._db.fetch(
            f"SELECT {_CUSTOMER_COLUMNS} FROM customers c{where}"
            f" ORDER BY c.name, c.id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
            *args,
        )
        return [_customer(r) for r in rows]

    # ------------------------------------------------------------ interactions

    async def put_interaction(self, interaction: Interaction) -> None:
        await self._db.execute(_INTERACTION_UPSERT, *_interaction_row(interaction))

    async def put_interactions(self, interactions: Sequence[Interaction]) -> None:
        """One executemany (asyncpg pipelines it in one round trip, atomically; SQLite
        in one transaction): all or none."""
        rows = [_interaction_row(i) for i in interactions]
        if rows:
            await self._db.executemany(_INTERACTION_UPSERT, rows)

    async def get_interaction(self, interaction_id: str) -> Interaction:
        rows = await self._db.fetch(f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE id = $1", interaction_id)
        if not rows:
            raise NotFound(f"interaction {interaction_id!r}")
        return _interaction(rows[0])

    async def interactions_missing(self, interaction_ids: Sequence[str]) -> set[str]:
        ids = list(dict.fromkeys(interaction_ids))
        if self.kind == "postgresql":
            rows = await self._db.fetch("SELECT id FROM interactions WHERE id = ANY($1::text[])", ids)
        else:
            rows = []
            for chunk in _chunks(ids):
                rows += await self._db.fetch(f"SELECT id FROM interactions WHERE id IN ({_params(len(chunk))})", *chunk)
        return set(ids) - {row["id"] for row in rows}

    async def interactions_for_customer(self, customer_id: str, limit: int = 10) -> list[Interaction]:
        rows = await self._db.fetch(
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE customer_id = $1"
            " ORDER BY started_at DESC, id LIMIT $2",
            customer_id,
            limit,
        )
        return [_interaction(r) for r in rows]

    async def erase_customer(self, customer_id: str) -> tuple[bool, list[str]]:
        async with self._db.transaction() as tx:
            rows = await tx.fetch("SELECT id FROM interactions WHERE customer_id = $1 ORDER BY id", customer_id)
            existed = bool(await tx.fetchval("SELECT COUNT(*) FROM customers WHERE id = $1", customer_id))
            await tx.execute("DELETE FROM interactions WHERE customer_id = $1", customer_id)
            await tx.execute("DELETE FROM customer_phones WHERE customer_id = $1", customer_id)
            await tx.execute("DELETE FROM customers WHERE id = $1", customer_id)
        return existed, [str(r["id"]) for r in rows]

    async def interactions_between(self, start: float, end: float) -> list[Interaction]:
        rows = await self._db.fetch(
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE started_at >= $1 AND started_at < $2"
            " ORDER BY started_at, id",
            start,
            end,
        )
        return [_interaction(r) for r in rows]

    async def search_interactions(
        self, where: InteractionFilter, limit: int = 50, offset: int = 0
    ) -> list[Interaction]:
        clauses: list[str] = []
        args: list[Any] = []
        for name in InteractionFilter.EQUAL:  # column names: from the filter's own list, never the caller's
            value = getattr(where, name)
            if value is not None:
                args.append(value)
                clauses.append(f"{name} = ${len(args)}")
        for op, value in ((">=", where.since), ("<", where.until)):
            if value is not None:
                args.append(value)
                clauses.append(f"started_at {op} ${len(args)}")
        args += [max(limit, 0), max(offset, 0)]
        rows = await self._db.fetch(
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE {' AND '.join(clauses) or 'TRUE'}"
            f" ORDER BY started_at DESC, id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
            *args,
        )
        return [_interaction(r) for r in rows]

    async def set_disposition(self, interaction_id: str, disposition: str, notes: str) -> None:
        async with self._db.transaction() as tx:
            found = await tx.fetchval("SELECT COUNT(*) FROM interactions WHERE id = $1", interaction_id)
            if not found:
                raise NotFound(f"interaction {interaction_id!r}")
            await tx.execute(
                "UPDATE interactions SET disposition = $2, notes = $3 WHERE id = $1",
                interaction_id,
                disposition,
                notes,
            )

    # ------------------------------------------------------------ users

    async def put_user(self, user: User) -> None:
        if user.role not in ROLES:
            raise ValueError(f"role: must be one of {', '.join(ROLES)}, not {user.role!r}")
        for skill, level in user.skills.items():
            if not 1 <= int(level) <= 10:
                raise ValueError(f"skills.{skill}: proficiency must be 1-10, not {level}")
        await self._db.execute(
            f"INSERT INTO users ({_USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (login) DO UPDATE SET display_name = excluded.display_name,"
            " role = excluded.role, password_hash = excluded.password_hash, team = excluded.team,"
            " skills = excluded.skills, languages = excluded.languages,"
            " phone_endpoint = excluded.phone_endpoint, disabled = excluded.disabled, pbx = excluded.pbx",
            user.login,
            user.display_name,
            user.role,
            user.password_hash,
            user.team,
            json.dumps(dict(user.skills)),
            json.dumps(list(user.languages)),
            user.phone_endpoint,
            bool(user.disabled),
            user.pbx,
        )

    async def get_user(self, login: str) -> User:
        rows = await self._db.fetch(f"SELECT {_USER_COLUMNS} FROM users WHERE login = $1", login)
        if not rows:
            raise NotFound(f"user {login!r}")
        return _user(rows[0])

    async def get_users(self, logins: Iterable[str]) -> dict[str, User]:
        """The users of these logins that exist, by login (one query per 500)."""
        found: dict[str, User] = {}
        for chunk in _chunks(sorted(set(logins))):
            rows = await self._db.fetch(
                f"SELECT {_USER_COLUMNS} FROM users WHERE login IN ({_params(len(chunk))})", *chunk
            )
            found.update((u.login, u) for u in self._known_users.users(rows))
        return found

    async def list_users(self, role: str | None = None) -> list[User]:
        if role is None:
            rows = await self._db.fetch(f"SELECT {_USER_COLUMNS} FROM users ORDER BY login")
        else:
            rows = await self._db.fetch(f"SELECT {_USER_COLUMNS} FROM users WHERE role = $1 ORDER BY login", role)
        return self._known_users.users(rows)

    async def list_user_names(self) -> list[UserName]:
        rows = await self._db.fetch("SELECT login, display_name, role, team FROM users ORDER BY login")
        return [UserName(r["login"], r["display_name"], r["role"], r["team"]) for r in rows]

    async def delete_user(self, login: str) -> bool:
        # the enabled admins, locked (PostgreSQL; SQLite's write transaction is exclusive
        # already): two admins deleting each other at once cannot leave none
        lock = " FOR UPDATE" if self.kind == "postgresql" else ""
        async with self._db.transaction() as tx:
            if not await tx.fetchval("SELECT COUNT(*) FROM users WHERE login = $1", login):
                return False
            admins = await tx.fetch(f"SELECT login FROM users WHERE role = $1 AND disabled = $2{lock}", "admin", False)
            if [r["login"] for r in admins] == [login]:
                raise Conflict(f"login: {login!r} is the last admin; make another admin first")
            await tx.execute("DELETE FROM web_sessions WHERE login = $1", login)
            await tx.execute("UPDATE api_tokens SET revoked = $2 WHERE login = $1", login, True)
            await tx.execute("DELETE FROM users WHERE login = $1", login)
        return True

    # ------------------------------------------------------------ web sessions

    async def put_session(self, session: WebSession) -> None:
        try:
            await self._db.execute(
                "INSERT INTO web_sessions (id, login, created_at, last_seen_at) VALUES ($1, $2, $3, $4)",
                session.id,
                session.login,
                float(session.created_at),
                float(session.last_seen_at),
            )
        except UniqueViolation:
            raise Conflict("web session already exists") from None

    async def get_session(self, session_id: str) -> WebSession | None:
        rows = await self._db.fetch(
            "SELECT id, login, created_at, last_seen_at FROM web_sessions WHERE id = $1", session_id
        )
        if not rows:
            return None
        r = rows[0]
        return WebSession(r["id"], r["login"], float(r["created_at"]), float(r["last_seen_at"]))

    async def get_sessions(self, session_ids: Iterable[str]) -> dict[str, WebSession]:
        found: dict[str, WebSession] = {}
        for chunk in _chunks(sorted(set(session_ids))):
            rows = await self._db.fetch(
                f"SELECT id, login, created_at, last_seen_at FROM web_sessions WHERE id IN ({_params(len(chunk))})",
                *chunk,
            )
            found.update(
                (r["id"], WebSession(r["id"], r["login"], float(r["created_at"]), float(r["last_seen_at"])))
                for r in rows
            )
        return found

    async def touch_session(self, session_id: str, at: float) -> None:
        await self._db.execute(
            "UPDATE web_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2", session_id, float(at)
        )

    async def delete_session(self, session_id: str) -> bool:
        return await self._delete_counted("FROM web_sessions WHERE id = $1", session_id) > 0

    async def delete_sessions(self, login: str, *, keep: str = "") -> int:
        return await self._delete_counted("FROM web_sessions WHERE login = $1 AND id <> $2", login, keep)

    async def forget_sessions(self, seen_before: float, created_before: float) -> int:
        where = "FROM web_sessions WHERE last_seen_at < $1 OR created_at < $2"
        return await self._delete_counted(where, float(seen_before), float(created_before))

    async def _delete_counted(self, where: str, *args: Any) -> int:
        """DELETE with a count, in one transaction (the drivers' execute returns none)."""
        async with self._db.transaction() as tx:
            gone = int(await tx.fetchval(f"SELECT COUNT(*) {where}", *args))
            await tx.execute(f"DELETE {where}", *args)
        return gone

    # ------------------------------------------------------------ audit log

    # ------------------------------------------------------------ recordings

    async def put_recording(self, recording: Recording) -> None:
        r = recording
        await self._db.execute(
            "INSERT INTO recordings (call_id, path, agent_id, queue, started_at, ended_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_id) DO UPDATE SET path = excluded.path,"
            " agent_id = excluded.agent_id, queue = excluded.queue, started_at = excluded.started_at,"
            " ended_at = excluded.ended_at",
            r.call_id,
            r.path,
            r.agent_id,
            r.queue,
            float(r.started_at),
            None if r.ended_at is None else float(r.ended_at),
        )

    async def get_recording(self, call_id: str) -> Recording:
        rows = await self._db.fetch(f"SELECT {_RECORDING_COLUMNS} FROM recordings WHERE call_id = $1", call_id)
        if not rows:
            raise NotFound(f"recording of call {call_id!r}")
        return Recording(**rows[0])

    async def recordings_started_before(self, before: float, limit: int = 1000) -> list[Recording]:
        rows = await self._db.fetch(
            f"SELECT {_RECORDING_COLUMNS} FROM recordings WHERE started_at < $1 ORDER BY started_at, call_id LIMIT $2",
            float(before),
            int(limit),
        )
        return [Recording(**row) for row in rows]

    async def delete_recording(self, call_id: str) -> None:
        await self._db.execute("DELETE FROM recordings WHERE call_id = $1", call_id)

    async def add_audit(self, entry: AuditEntry) -> int:
        e = entry
        return int(
            await self._db.fetchval(
                "INSERT INTO audit_log (at, actor, action, target, detail, address)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
                float(e.at),
                e.actor,
                e.action,
                e.target,
                json.dumps(dict(e.detail)),
                e.address,
            )
        )

    async def audit_entries(
        self, *, limit: int = 100, before_seq: int = 0, actor: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        args: list[Any] = [limit]
        where = []
        if before_seq:
            args.append(before_seq)
            where.append(f"seq < ${len(args)}")
        if actor is not None:
            args.append(actor)
            where.append(f"actor = ${len(args)}")
        if action is not None:
            args.extend([action, action + ".%"])
            where.append(f"(action = ${len(args) - 1} OR action LIKE ${len(args)})")
        sql = "SELECT seq, at, actor, action, target, detail, address FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = await self._db.fetch(sql + " ORDER BY seq DESC LIMIT $1", *args)
        return [
            AuditEntry(
                at=float(r["at"]),
                actor=r["actor"],
                action=r["action"],
                target=r["target"],
                detail=_json(r["detail"]),
                address=r["address"],
                seq=int(r["seq"]),
            )
            for r in rows
        ]

    # ------------------------------------------------------------ settings versions

    async def put_settings_version(
        self,
        section: str,
        body: str,
        author: str = "",
        comment: str = "",
        expected_version: int | None = None,
        at: float = 0.0,
    ) -> SettingsVersion:
        """Store the next version of `section` atomically. With `expected_version` (0 when
        none is stored yet) a concurrent apply makes this raise Conflict instead of
        silently overwriting someone else's change."""
        async with self._db.transaction() as tx:
            current = int(
                await tx.fetchval("SELECT COALESCE(MAX(version), 0) FROM settings_versions WHERE section = $1", section)
            )
            if expected_version is not None and expected_version != current:
                raise Conflict(f"{section}: live version is {current}, not {expected_version}")
            version = current + 1
            try:
                await tx.execute(
                    "INSERT INTO settings_versions (section, version, body, author, comment, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    section,
                    version,
                    body,
                    author,
                    comment,
                    float(at),
                )
            except UniqueViolation:
                raise Conflict(f"{section}: version {version} was stored concurrently") from None
        return SettingsVersion(section, version, body, author, comment, float(at))

    async def get_settings_version(self, section: str, version: int | None = None) -> SettingsVersion | None:
        if version is None:
            rows = await self._db.fetch(
                "SELECT section, version, body, author, comment, created_at FROM settings_versions"
                " WHERE section = $1 ORDER BY version DESC LIMIT 1",
                section,
            )
        else:
            rows = await self._db.fetch(
                "SELECT section, version, body, author, comment, created_at FROM settings_versions"
                " WHERE section = $1 AND version = $2",
                section,
                version,
            )
        return _settings(rows[0]) if rows else None

    async def list_settings_versions(self, section: str, limit: int = 50) -> list[SettingsVersion]:
        rows = await self._db.fetch(
            "SELECT section, version, body, author, comment, created_at FROM settings_versions"
            " WHERE section = $1 ORDER BY version DESC LIMIT $2",
            section,
            limit,
        )
        return [_settings(r) for r in rows]

    # ------------------------------------------------------------ API tokens

    async def put_api_token(self, token: ApiToken, token_hash: str) -> None:
        try:
            await self._db.execute(
                f"INSERT INTO api_tokens (token_hash, {_TOKEN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                token_hash,
                token.id,
                token.login,
                token.name,
                token.created_at,
                bool(token.revoked),
                float(token.expires_at),
                json.dumps(list(token.scopes)),
            )
        except UniqueViolation:
            raise Conflict(f"api token {token.id!r} already exists") from None

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        rows = await self._db.fetch(f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE token_hash = $1", token_hash)
        return _token(rows[0]) if rows else None

    async def find_api_tokens(self, token_hashes: Iterable[str]) -> dict[str, ApiToken]:
        """The tokens of these hashes that exist, by hash (the open websockets' check)."""
        found: dict[str, ApiToken] = {}
        for chunk in _chunks(sorted(set(token_hashes))):
            rows = await self._db.fetch(
                f"SELECT token_hash, {_TOKEN_COLS} FROM api_tokens WHERE token_hash IN ({_params(len(chunk))})",
                *chunk,
            )
            found.update((r["token_hash"], _token(r)) for r in rows)
        return found

    async def list_api_tokens(self, login: str | None = None) -> list[ApiToken]:
        if login is None:
            rows = await self._db.fetch(f"SELECT {_TOKEN_COLS} FROM api_tokens ORDER BY created_at, id")
        else:
            rows = await self._db.fetch(
                f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE login = $1 ORDER BY created_at, id",
                login,
            )
        return [_token(r) for r in rows]

    async def revoke_api_token(self, token_id: str) -> None:
        async with self._db.transaction() as tx:
            found = await tx.fetchval("SELECT COUNT(*) FROM api_tokens WHERE id = $1", token_id)
            if not found:
                raise NotFound(f"api token {token_id!r}")
            await tx.execute("UPDATE api_tokens SET revoked = $2 WHERE id = $1", token_id, True)

    # ------------------------------------------------------------ callbacks

    async def put_callback(self, callback: Callback) -> bool:
        """Insert or replace the whole promise (the scheduler writes each step), never a
        cancelled one (one statement: the cancel and the step cannot interleave)."""
        c = callback
        written = await self._db.fetch(
            f"INSERT INTO callbacks ({_CALLBACK_COLS}) VALUES ({_params(18)})"
            " ON CONFLICT (id) DO UPDATE SET call_id = excluded.call_id, customer_id = excluded.customer_id,"
            " agent_id = excluded.agent_id, number = excluded.number, due_at = excluded.due_at,"
            " notes = excluded.notes, done = excluded.done, queue = excluded.queue, skills = excluded.skills,"
            " priority = excluded.priority, attributes = excluded.attributes, kind = excluded.kind,"
            " state = excluded.state, attempts = excluded.attempts, outcome = excluded.outcome,"
            " arrived_at = excluded.arrived_at WHERE callbacks.state <> 'cancelled' RETURNING id",
            c.id,
            c.call_id,
            c.customer_id,
            c.agent_id,
            c.number,
            float(c.due_at),
            c.notes,
            float(c.created_at),
            bool(c.done or c.state in CALLBACK_CLOSED),
            c.queue,
            json.dumps(dict(c.skills)),
            int(c.priority),
            json.dumps(dict(c.attributes)),
            c.kind,
            c.state,
            int(c.attempts),
            c.outcome,
            float(c.arrived_at),
        )
        return bool(written)

    async def get_callback(self, callback_id: str) -> Callback:
        rows = await self._db.fetch(f"SELECT {_CALLBACK_COLS} FROM callbacks WHERE id = $1", callback_id)
        if not rows:
            raise NotFound(f"callback {callback_id!r}")
        return _callback(rows[0])

    async def list_callbacks(self, query: CallbackQuery) -> list[Callback]:
        q = query
        where: list[str] = []
        args: list[Any] = []
        for clause, value in (
            ("state = $", q.state),
            ("queue = $", q.queue),
            ("agent_id = $", q.agent_id),
            ("due_at >= $", None if q.due_from is None else float(q.due_from)),
            ("due_at < $", None if q.due_to is None else float(q.due_to)),
        ):
            if value is not None:
                args.append(value)
                where.append(f"{clause}{len(args)}")
        args.append(int(q.limit))
        select = f"SELECT {_CALLBACK_COLS} FROM callbacks"
        if where:
            select += " WHERE " + " AND ".join(where)
        rows = await self._db.fetch(f"{select} ORDER BY due_at, id LIMIT ${len(args)}", *args)
        return [_callback(r) for r in rows]

    async def cancel_callback(self, callback_id: str, by: str) -> Callback:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE callbacks SET state = 'cancelled', done = $2, outcome = $3 WHERE id = $1 AND state = 'pending'",
                callback_id,
                True,
                f"cancelled by {by}",
            )
            rows = await tx.fetch(f"SELECT {_CALLBACK_COLS} FROM callbacks WHERE id = $1", callback_id)
        if not rows:
            raise NotFound(f"callback {callback_id!r}")
        return _callback(rows[0])

    async def callbacks_between(self, start: float, end: float, agent_id: str | None = None) -> list[Callback]:
        if agent_id is None:
            rows = await self._db.fetch(
                f"SELECT {_CALLBACK_COLS} FROM callbacks WHERE due_at >= $1 AND due_at < $2 ORDER BY due_at, id",
                start,
                end,
            )
        else:
            rows = await self._db.fetch(
                f"SELECT {_CALLBACK_COLS} FROM callbacks WHERE due_at >= $1 AND due_at < $2 AND agent_id = $3"
                " ORDER BY due_at, id",
                start,
                end,
                agent_id,
            )
        return [_callback(r) for r in rows]

    async def open_callbacks(self, due_before: float | None = None) -> list[Callback]:
        """Promises not kept yet (pending or dialing), due before `due_before` if given."""
        query = f"SELECT {_CALLBACK_COLS} FROM callbacks WHERE state IN ('pending', 'dialing')"
        if due_before is None:
            rows = await self._db.fetch(query + " ORDER BY due_at, id")
        else:
            rows = await self._db.fetch(query + " AND due_at < $1 ORDER BY due_at, id", float(due_before))
        return [_callback(r) for r in rows]

    # ------------------------------------------------------------ agent commands

    async def put_command(self, command: AgentCommand) -> AgentCommand:
        """Insert unless the request id is stored; the stored row either way."""
        c = command
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO agent_commands ({_COMMAND_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (request_id) DO NOTHING",
                c.request_id,
                c.agent_id,
                json.dumps(dict(c.body)),
                float(c.created_at),
                c.state,
                c.error,
                float(c.answered_at),
            )
            rows = await tx.fetch(f"SELECT {_COMMAND_COLS} FROM agent_commands WHERE request_id = $1", c.request_id)
        return _command(rows[0])

    async def get_command(self, request_id: str) -> AgentCommand:
        rows = await self._db.fetch(f"SELECT {_COMMAND_COLS} FROM agent_commands WHERE request_id = $1", request_id)
        if not rows:
            raise NotFound(f"command {request_id!r}")
        return _command(rows[0])

    async def pending_commands(self, limit: int = 1000) -> list[AgentCommand]:
        rows = await self._db.fetch(
            f"SELECT {_COMMAND_COLS} FROM agent_commands WHERE state = 'pending' ORDER BY seq LIMIT $1", limit
        )
        return [_command(r) for r in rows]

    async def answer_command(self, request_id: str, state: str, error: str, at: float) -> AgentCommand:
        """Only a pending row takes the answer (one transaction): the first answer stands."""
        if state not in COMMAND_ANSWERS:
            raise ValueError(f"state: must be one of {', '.join(COMMAND_ANSWERS)}, not {state!r}")
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE agent_commands SET state = $2, error = $3, answered_at = $4"
                " WHERE request_id = $1 AND state = 'pending'",
                request_id,
                state,
                error,
                float(at),
            )
            rows = await tx.fetch(f"SELECT {_COMMAND_COLS} FROM agent_commands WHERE request_id = $1", request_id)
        if not rows:
            raise NotFound(f"command {request_id!r}")
        return _command(rows[0])

    async def forget_commands(self, answered_before: float) -> int:
        async with self._db.transaction() as tx:
            count = "SELECT COUNT(*) FROM agent_commands WHERE state <> 'pending' AND answered_at < $1"
            gone = int(await tx.fetchval(count, float(answered_before)))
            await tx.execute(
                "DELETE FROM agent_commands WHERE state <> 'pending' AND answered_at < $1", float(answered_before)
            )
        return gone

    # ------------------------------------------------------------ leader lease (issue 15)

    async def claim_lease(self, name: str, holder: str, ttl_s: float) -> Lease:
        """One upsert: a free or run-out lease changes hands (epoch + 1), the holder's
        is renewed, another's live lease is left alone; then the row as it stands. The
        database's clock decides, so servers' clocks need not agree."""
        if not ttl_s > 0:
            raise ValueError(f"ttl_s: must be positive, not {ttl_s!r}")
        now = _NOW_SQL[self._db.kind]
        mine = f"leader_lease.holder = excluded.holder AND leader_lease.expires_at > {now}"
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO leader_lease (name, holder, epoch, acquired_at, expires_at)"
                f" VALUES ($1, $2, 1, {now}, {now} + $3)"
                " ON CONFLICT (name) DO UPDATE SET"
                f" epoch = CASE WHEN {mine} THEN leader_lease.epoch ELSE leader_lease.epoch + 1 END,"
                f" acquired_at = CASE WHEN {mine} THEN leader_lease.acquired_at ELSE {now} END,"
                f" holder = excluded.holder, expires_at = {now} + $3"
                f" WHERE leader_lease.holder = excluded.holder OR leader_lease.expires_at <= {now}",
                name,
                holder,
                float(ttl_s),
            )
            rows = await tx.fetch(f"SELECT {_LEASE_COLS}, {now} AS now FROM leader_lease WHERE name = $1", name)
        return _lease(rows[0])

    async def release_lease(self, name: str, holder: str) -> None:
        now = _NOW_SQL[self._db.kind]
        await self._db.execute(
            f"UPDATE leader_lease SET expires_at = {now} WHERE name = $1 AND holder = $2 AND expires_at > {now}",
            name,
            holder,
        )

    async def current_lease(self, name: str) -> Lease | None:
        now = _NOW_SQL[self._db.kind]
        rows = await self._db.fetch(f"SELECT {_LEASE_COLS}, {now} AS now FROM leader_lease WHERE name = $1", name)
        return _lease(rows[0]) if rows else None

    # ------------------------------------------------------------ live hand-offs (issue 15)

    async def put_handoff(self, kind: str, call_id: str, body: Mapping[str, Any], created_at: float) -> int:
        check_handoff(kind, call_id)
        insert = _HANDOFF_INSERT_NOTIFY if self.kind == "postgresql" else _HANDOFF_INSERT
        return int(await self._db.fetchval(insert, kind, call_id, json.dumps(dict(body)), float(created_at)))

    async def listen_handoffs(self, wake: Callable[[], None]) -> Listening | None:
        if not isinstance(self._db, PostgresDriver) or not self._db.can_listen:
            return None  # SQLite: one process, nothing to wake it across processes
        return await self._db.listen(HANDOFF_CHANNEL, wake)

    async def take_handoffs(self, epoch: int, limit: int = 100) -> list[HandOff]:
        """One UPDATE: a row another taker marked meanwhile no longer matches
        `taken_epoch IS NULL` when re-checked, so each is returned once."""
        # One statement is atomic on its own: no transaction around it (a leader polls
        # this 20 times a second; BEGIN and COMMIT were two more round trips each).
        rows = await self._db.fetch(
            "UPDATE live_handoffs SET taken_epoch = $1 WHERE taken_epoch IS NULL AND id IN"
            " (SELECT id FROM live_handoffs WHERE taken_epoch IS NULL ORDER BY id LIMIT $2)"
            " RETURNING id, kind, call_id, body, created_at, taken_epoch",
            int(epoch),
            int(limit),
        )
        return sorted((_handoff(r) for r in rows), key=lambda h: h.id)

    async def handoff_taken(self, handoff_id: int) -> bool:
        epoch = await self._db.fetchval("SELECT taken_epoch FROM live_handoffs WHERE id = $1", int(handoff_id))
        return epoch is not None

    # ------------------------------------------------------------ dialer state (campaign leads)

    async def add_lead_states(self, records: Iterable[LeadRecord]) -> int:
        rows = [_lead_row(r) for r in records]
        if not rows:
            return 0
        campaigns = sorted({row[0] for row in rows})
        count = "SELECT COUNT(*) FROM dialer_leads WHERE campaign IN (" + _params(len(campaigns)) + ")"
        async with self._db.transaction() as tx:
            before = int(await tx.fetchval(count, *campaigns))
            await tx.executemany(_LEAD_INSERT + " DO NOTHING", rows)
            return int(await tx.fetchval(count, *campaigns)) - before

    async def put_lead_states(self, records: Iterable[LeadRecord]) -> None:
        rows = [_lead_row(r) for r in records]
        if rows:
            async with self._db.transaction() as tx:
                await tx.executemany(_LEAD_UPSERT, rows)

    async def lead_states(self, campaign: str) -> list[LeadRecord]:
        rows = await self._db.fetch(
            f"SELECT {_LEAD_COLUMNS} FROM dialer_leads WHERE campaign = $1 ORDER BY lead_id", campaign
        )
        return [_lead(r) for r in rows]

    async def get_lead_state(self, campaign: str, lead_id: str) -> LeadRecord:
        rows = await self._db.fetch(
            f"SELECT {_LEAD_COLUMNS} FROM dialer_leads WHERE campaign = $1 AND lead_id = $2", campaign, lead_id
        )
        if not rows:
            raise NotFound(f"lead {lead_id!r} of campaign {campaign!r}")
        return _lead(rows[0])

    # ------------------------------------------------------------ do-not-call lists

    async def add_dnc(self, entries: Iterable[DncEntry]) -> int:
        rows = [
            (e.campaign, normalize_phone(e.number), e.source, float(e.added_at), e.added_by) for e in entries
        ]  # InvalidPhone before anything is stored
        if not rows:
            return 0
        campaigns = sorted({row[0] for row in rows})
        count = "SELECT COUNT(*) FROM dnc WHERE campaign IN (" + _params(len(campaigns)) + ")"
        async with self._db.transaction() as tx:
            before = int(await tx.fetchval(count, *campaigns))
            await tx.executemany(
                f"INSERT INTO dnc ({_DNC_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (campaign, number) DO NOTHING",
                rows,
            )
            return int(await tx.fetchval(count, *campaigns)) - before

    async def remove_dnc(self, number: str, campaign: str = "") -> bool:
        e164 = normalize_phone(number)
        async with self._db.transaction() as tx:
            found = await tx.fetchval("SELECT COUNT(*) FROM dnc WHERE campaign = $1 AND number = $2", campaign, e164)
            if not found:
                return False
            await tx.execute("DELETE FROM dnc WHERE campaign = $1 AND number = $2", campaign, e164)
        return True

    async def dnc_entries(
        self, campaign: str | None = None, *, number: str | None = None, limit: int = 10_000
    ) -> list[DncEntry]:
        where: list[str] = []
        args: list[Any] = [limit]
        if campaign is not None:
            args.append(campaign)
            where.append(f"campaign = ${len(args)}")
        if number is not None:
            args.append(normalize_phone(number))
            where.append(f"number = ${len(args)}")
        sql = f"SELECT {_DNC_COLUMNS} FROM dnc"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = await self._db.fetch(sql + " ORDER BY campaign, number LIMIT $1", *args)
        return [_dnc(r) for r in rows]

    async def dnc_blocked(self, numbers: Collection[str], campaign: str) -> set[str]:
        wanted = sorted(_readable(numbers))
        blocked: set[str] = set()
        for start in range(0, len(wanted), DNC_CHUNK):
            chunk = wanted[start : start + DNC_CHUNK]
            rows = await self._db.fetch(
                "SELECT DISTINCT number FROM dnc WHERE (campaign = '' OR campaign = $1)"
                " AND number IN (" + _params(len(chunk), first=2) + ")",
                campaign,
                *chunk,
            )
            blocked.update(r["number"] for r in rows)
        return blocked


def _settings(row: Mapping[str, Any]) -> SettingsVersion:
    return SettingsVersion(
        section=row["section"],
        version=int(row["version"]),
        body=row["body"],
        author=row["author"],
        comment=row["comment"],
        created_at=float(row["created_at"]),
    )


def _token(row: Mapping[str, Any]) -> ApiToken:
    return ApiToken(
        id=row["id"],
        login=row["login"],
        name=row["name"],
        created_at=float(row["created_at"]),
        revoked=bool(row["revoked"]),
        expires_at=float(row["expires_at"]),
        scopes=tuple(_json(row["scopes"])),
    )


_TOKEN_COLS = "id, login, name, created_at, revoked, expires_at, scopes"


_CALLBACK_COLS = (
    "id, call_id, customer_id, agent_id, number, due_at, notes, created_at, done,"
    " queue, skills, priority, attributes, kind, state, attempts, outcome, arrived_at"
)


def _callback(row: Mapping[str, Any]) -> Callback:
    return Callback(
        id=row["id"],
        due_at=float(row["due_at"]),
        call_id=row["call_id"],
        customer_id=row["customer_id"],
        agent_id=row["agent_id"],
        number=row["number"],
        notes=row["notes"],
        created_at=float(row["created_at"]),
        done=bool(row["done"]),
        queue=row["queue"],
        skills={str(k): int(v) for k, v in _json(row["skills"]).items()},
        priority=int(row["priority"]),
        attributes=_json(row["attributes"]),
        kind=row["kind"],
        state=row["state"],
        attempts=int(row["attempts"]),
        outcome=row["outcome"],
        arrived_at=float(row["arrived_at"]),
    )


_COMMAND_COLS = "request_id, agent_id, body, created_at, state, error, answered_at"


def _command(row: Mapping[str, Any]) -> AgentCommand:
    return AgentCommand(
        request_id=row["request_id"],
        agent_id=row["agent_id"],
        body=_json(row["body"]),
        created_at=float(row["created_at"]),
        state=row["state"],
        error=row["error"],
        answered_at=float(row["answered_at"]),
    )


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """Keys in chunks small enough for one IN list (SQLite allows 32,766 parameters)."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _interaction_row(i: Interaction) -> tuple[Any, ...]:
    return (
        i.id,
        i.direction,
        i.queue,
        i.agent_id,
        i.customer_id,
        i.caller,
        i.started_at,
        i.answered_at,
        i.ended_at,
        i.outcome,
        i.disposition,
        i.notes,
        json.dumps(dict(i.attributes)),
    )


def _params(count: int, first: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(first, first + count))


def _readable(numbers: Iterable[str]) -> set[str]:
    """The E.164 forms of the numbers that can be read (the others are on no list)."""
    out: set[str] = set()
    for number in numbers:
        try:
            out.add(normalize_phone(number))
        except InvalidPhone:
            continue
    return out


def _lead_row(r: LeadRecord) -> tuple[Any, ...]:
    return (
        r.campaign,
        r.lead_id,
        r.phone,
        r.status,
        int(r.attempts),
        int(r.cycle),
        float(r.next_at),
        r.last_outcome,
        r.disposition,
        bool(r.callback),
        r.call_id,
        json.dumps(dict(r.details)),
        float(r.updated_at),
        r.offered_to,
    )


def _lead(row: Mapping[str, Any]) -> LeadRecord:
    return LeadRecord(
        campaign=row["campaign"],
        lead_id=row["lead_id"],
        phone=row["phone"],
        status=row["status"],
        attempts=int(row["attempts"]),
        cycle=int(row["cycle"]),
        next_at=float(row["next_at"]),
        last_outcome=row["last_outcome"],
        disposition=row["disposition"],
        callback=bool(row["callback"]),
        call_id=row["call_id"],
        details=_json(row["details"]),
        updated_at=float(row["updated_at"]),
        offered_to=row["offered_to"],
    )


def _dnc(row: Mapping[str, Any]) -> DncEntry:
    return DncEntry(
        number=row["number"],
        campaign=row["campaign"],
        source=row["source"],
        added_at=float(row["added_at"]),
        added_by=row["added_by"],
    )


# The database's clock, in seconds since the epoch, for the leader lease.
_NOW_SQL = {
    "postgresql": "extract(epoch from clock_timestamp())::double precision",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}
_LEASE_COLS = "name, holder, epoch, acquired_at, expires_at"


async def _check_term(tx: Executor, epoch: int) -> None:
    """StaleEpoch unless a leader's batch (epoch > 0) is of the lease's current term. (No
    row lock: a dead leader's open transaction would hold the next claim back; a batch
    checked just before a new term began is still marked with its own epoch.)"""
    if epoch:
        rows = await tx.fetch("SELECT epoch FROM leader_lease WHERE name = $1", EPOCH_LEASE)
        check_epoch(int(rows[0]["epoch"]) if rows else None, epoch)


def check_epoch(current: int | None, epoch: int) -> None:
    """StaleEpoch unless the `live` lease is at `epoch`."""
    if current != epoch:
        raise StaleEpoch(f"epoch {epoch} is over: the {EPOCH_LEASE!r} lease is at epoch {current}")


def check_handoff(kind: str, call_id: str) -> None:
    if not kind:
        raise ValueError("kind: required")
    if not call_id:
        raise ValueError("call_id: required")


def _handoff(row: Mapping[str, Any]) -> HandOff:
    taken = row["taken_epoch"]
    return HandOff(
        int(row["id"]),
        row["kind"],
        row["call_id"],
        dict(_json(row["body"])),
        float(row["created_at"]),
        None if taken is None else int(taken),
    )


def _lease(row: Mapping[str, Any]) -> Lease:
    return Lease(
        name=row["name"],
        holder=row["holder"],
        epoch=int(row["epoch"]),
        acquired_at=float(row["acquired_at"]),
        expires_at=float(row["expires_at"]),
        now=float(row["now"]),
    )
