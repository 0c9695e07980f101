"""One contract suite over the store's adapters.

The role ports (`EventLog`, `CustomerDirectory`, `Interactions`) run over PostgreSQL
(asyncpg), SQLite and the in-memory adapter; what only the SQL store keeps (users,
settings versions, API tokens, call-backs, migrations) over PostgreSQL and SQLite.
The last tests run parts of the suite over deliberately broken adapters: the suite
must catch each of them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol, cast

import pytest

from config.schema import StoreConfig
from events import AgentLoggedIn, CallArrived, CallConnected, CallEnded, CallQueued, Event, to_record
from store import SqlStore, open_store
from store.memory import MemoryStore
from store.models import ApiToken, AuditEntry, Callback, Customer, Interaction, StoredEvent, User, UserName, WebSession
from store.phones import InvalidPhone
from store.port import (
    AuditLog,
    Conflict,
    CustomerDirectory,
    CustomerErasure,
    EventLog,
    Interactions,
    NotFound,
    WebSessions,
)

TABLES = (
    "events",
    "customer_phones",
    "customers",
    "interactions",
    "users",
    "settings_versions",
    "api_tokens",
    "callbacks",
    "web_sessions",
    "audit_log",
)


class Roles(EventLog, CustomerDirectory, Interactions, Protocol):
    """What every adapter implements."""


async def _sql_store(kind: str, request: pytest.FixtureRequest, tmp_path: Any) -> SqlStore:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/hotline.sqlite3"
    else:
        url = request.getfixturevalue("pg_url")
    s = await open_store(StoreConfig(url=url))
    await s.migrate()
    if kind == "postgresql":
        await s._db.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY")
    return s


@pytest.fixture(params=["postgresql", "sqlite"])
async def sql(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[SqlStore]:
    """The SQL store (every method of `store.port.Store`)."""
    s = await _sql_store(request.param, request, tmp_path)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(params=["postgresql", "sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Roles]:
    """Every adapter of the role ports."""
    if request.param == "memory":
        yield MemoryStore()
        return
    s = await _sql_store(request.param, request, tmp_path)
    try:
        yield s
    finally:
        await s.close()


async def _all(log: EventLog, start: float = 0, end: float = 1e12, **kwargs: Any) -> list[StoredEvent]:
    async def collect() -> list[StoredEvent]:
        return [s async for s in log.iter_events(start, end, **kwargs)]

    return await asyncio.wait_for(collect(), timeout=10)


async def test_migrate_is_idempotent(sql: SqlStore) -> None:
    assert await sql.migrate() == []


async def test_event_log_appends_with_increasing_sequence(store: Roles) -> None:
    events = [
        CallArrived(at=100.0, call_id="c1", caller="5551234"),
        CallQueued(at=101.0, call_id="c1", queue="billing", skills={"billing": 5}, priority=3),
        CallArrived(at=102.0, call_id="c2"),
        CallConnected(at=110.5, call_id="c1", agent_id="2001", queue="billing"),
    ]
    seqs = [await store.append(events[0])] + await store.append_many(events[1:])
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert await store.last_seq() == seqs[-1]

    by_call = await store.events_for_call("c1")
    assert [e.event for e in by_call] == [events[0], events[1], events[3]]
    assert by_call[1].event.skills == {"billing": 5}

    window = await _all(store, 101.0, 110.0)
    assert [e.event for e in window] == [events[1], events[2]]
    after = await _all(store, after_seq=seqs[1], page=1)
    assert [e.seq for e in after] == seqs[2:]
    assert await store.events_for_call("") == []


async def test_customer_lookup_by_phone_and_account(store: Roles) -> None:
    alice = Customer(
        id="cust-1",
        name="Alice Martin",
        company="ACME",
        tier="gold",
        phones=("(415) 555-0100", "+44 20 7946 0958"),
        email="alice@example.com",
        account_number="AC-1001",
        attributes={"open_tickets": 2},
        notes="prefers email",
    )
    await store.put_customer(alice)
    found = await store.find_customers_by_phone("+1 415 555 0100")
    assert [c.id for c in found] == ["cust-1"]
    assert found[0].phones == ("+14155550100", "+442079460958")
    assert found[0].attributes == {"open_tickets": 2}
    assert (await store.find_customers_by_phone("00442079460958"))[0].name == "Alice Martin"
    assert (await store.find_customer_by_account("AC-1001")).id == "cust-1"
    assert await store.find_customer_by_account("nope") is None
    assert await store.find_customers_by_phone("4155550199") == []

    # Updating replaces the phone index.
    await store.put_customer(Customer(id="cust-1", name="Alice M.", phones=("4155550111",)))
    assert await store.find_customers_by_phone("4155550100") == []
    assert (await store.find_customers_by_phone("4155550111"))[0].name == "Alice M."


async def test_shared_phone_returns_every_customer(store: Roles) -> None:
    await store.put_customers(
        [
            Customer(id="a", name="A", phones=("4155550100",)),
            Customer(id="b", name="B", phones=("4155550100",)),
        ]
    )
    assert {c.id for c in await store.find_customers_by_phone("4155550100")} == {"a", "b"}
    assert await store.count_customers() == 2


async def test_customer_batch_is_atomic(store: Roles) -> None:
    await store.put_customer(Customer(id="x", name="X", account_number="AC-1"))
    with pytest.raises(Conflict):
        await store.put_customers(
            [
                Customer(id="y", name="Y", account_number="AC-2"),
                Customer(id="z", name="Z", account_number="AC-1"),  # duplicate account
            ]
        )
    assert await store.count_customers() == 1
    with pytest.raises(InvalidPhone):
        await store.put_customers([Customer(id="w", name="W", phones=("not a number",))])
    with pytest.raises(NotFound):
        await store.get_customer("y")


async def test_interactions(store: Roles) -> None:
    for i in range(3):
        await store.put_interaction(
            Interaction(
                id=f"call-{i}",
                customer_id="cust-1",
                queue="billing",
                agent_id="2001",
                started_at=1000.0 + i,
                outcome="answered",
            )
        )
    await store.set_disposition("call-1", "resolved", "refund issued")
    got = await store.get_interaction("call-1")
    assert (got.disposition, got.notes, got.queue) == ("resolved", "refund issued", "billing")
    latest = await store.interactions_for_customer("cust-1", limit=2)
    assert [i.id for i in latest] == ["call-2", "call-1"]
    assert [i.id for i in await store.interactions_between(1000.5, 1002.0)] == ["call-1"]
    with pytest.raises(NotFound):
        await store.set_disposition("missing", "x", "")


async def test_add_customer_never_replaces(store: Roles) -> None:
    first = Customer(id="k1", name="Kay", phones=("415 555 0101",), account_number="A-1", notes="keep me")
    await store.add_customer(first)
    with pytest.raises(Conflict, match="id"):
        await store.add_customer(Customer(id="k1", name="Mallory"))
    with pytest.raises(Conflict, match="account_number"):
        await store.add_customer(Customer(id="k2", name="Mallory", account_number="A-1"))
    with pytest.raises(InvalidPhone):
        await store.add_customer(Customer(id="k3", name="Bad", phones=("not a phone",)))
    kept = await store.get_customer("k1")
    assert (kept.name, kept.notes, kept.phones) == ("Kay", "keep me", ("+14155550101",))
    assert [c.id for c in await store.find_customers_by_phone("+14155550101")] == ["k1"]
    assert await store.count_customers() == 1


async def test_audit_log_keeps_admin_actions_latest_first(store: Roles) -> None:
    audit = cast("AuditLog", store)
    first = AuditEntry(10.0, "admin", "user.saved", "agent01", {"role": ["agent", "admin"]}, "10.0.0.1")
    seqs = [
        await audit.add_audit(first),
        await audit.add_audit(AuditEntry(11.0, "boss", "settings.routing", "routing", {"version": 2})),
        await audit.add_audit(AuditEntry(12.0, "admin", "settings.queues", "queues")),
        await audit.add_audit(AuditEntry(13.0, "admin", "settingsx", "x")),
    ]
    assert seqs == sorted(seqs) and seqs[0] > 0
    latest = await audit.audit_entries()
    assert [e.seq for e in latest] == seqs[::-1]
    assert latest[-1] == replace(first, seq=seqs[0])
    assert [e.target for e in await audit.audit_entries(action="settings")] == ["queues", "routing"]
    assert [e.seq for e in await audit.audit_entries(actor="admin", limit=2)] == [seqs[3], seqs[2]]
    assert [e.seq for e in await audit.audit_entries(before_seq=seqs[2])] == [seqs[1], seqs[0]]


async def test_users(sql: SqlStore) -> None:
    await sql.put_user(
        User(
            login="bob",
            display_name="Bob",
            role="agent",
            team="t1",
            skills={"billing": 7, "sales": 3},
            languages=("en", "es"),
            phone_endpoint="Local/2001@agents",
        )
    )
    await sql.put_user(User(login="sue", display_name="Sue", role="supervisor"))
    bob = await sql.get_user("bob")
    assert bob.skills == {"billing": 7, "sales": 3} and bob.languages == ("en", "es")
    assert [u.login for u in await sql.list_users("agent")] == ["bob"]
    assert len(await sql.list_users()) == 2
    assert await sql.list_user_names() == [
        UserName("bob", "Bob", "agent", "t1"),
        UserName("sue", "Sue", "supervisor", ""),
    ]
    with pytest.raises(ValueError, match=r"skills\.billing"):
        await sql.put_user(User(login="x", display_name="X", skills={"billing": 11}))
    with pytest.raises(ValueError, match="role"):
        await sql.put_user(User(login="x", display_name="X", role="boss"))
    with pytest.raises(NotFound):
        await sql.get_user("nobody")
    assert await sql.get_users(["sue", "nobody", "bob"]) == {"bob": bob, "sue": await sql.get_user("sue")}
    assert not bob.disabled
    await sql.put_user(replace(bob, disabled=True))
    assert (await sql.get_user("bob")).disabled


async def test_the_directory_read_again_shows_every_edit(sql: SqlStore) -> None:
    """Users read again are the stored ones: an unchanged row may give the User built
    before (not parsed again), an edited one never does, whichever column changed."""
    base = User(login="ann", display_name="Ann", team="t1", skills={"billing": 5}, languages=("en",))
    await sql.put_user(base)
    await sql.put_user(User(login="cy", display_name="Cy", skills={"sales": 2}))
    assert await sql.list_users("agent") == [base, await sql.get_user("cy")]
    for edited in (
        replace(base, skills={"billing": 6}),
        replace(base, skills={"billing": 6, "sales": 1}),
        replace(base, languages=("en", "fr")),
        replace(base, team="t2"),
        replace(base, display_name="Ann B."),
        replace(base, phone_endpoint="Local/2002@agents"),
        replace(base, disabled=True),
        base,
    ):
        await sql.put_user(edited)
        users = {u.login: u for u in await sql.list_users()}
        assert users["ann"] == edited and users["cy"] == await sql.get_user("cy")
        assert (await sql.get_users(["ann"]))["ann"] == edited


async def test_a_user_names_the_pbx_of_their_phone(sql: SqlStore) -> None:
    """Several Asterisks: an agent's phone is on one PBX ("" = the first configured)."""
    await sql.put_user(User(login="ann", display_name="Ann", phone_endpoint="Local/2001@agents", pbx="lyon"))
    await sql.put_user(User(login="bo", display_name="Bo", phone_endpoint="Local/2001@agents"))
    assert (await sql.get_user("ann")).pbx == "lyon"
    assert (await sql.get_user("bo")).pbx == ""
    await sql.put_user(replace(await sql.get_user("ann"), pbx="paris"))
    assert {u.login: u.pbx for u in await sql.list_users("agent")} == {"ann": "paris", "bo": ""}


@pytest.fixture
def sessions(store: Roles) -> WebSessions:
    """Every adapter of `WebSessions` (each adapter of the role ports has it too)."""
    return cast("WebSessions", store)


async def test_web_sessions_are_kept_touched_and_revoked(sessions: WebSessions) -> None:
    await sessions.put_session(WebSession("h1", "bob", 100.0, 100.0))
    await sessions.put_session(WebSession("h2", "bob", 110.0, 110.0))
    await sessions.put_session(WebSession("h3", "sue", 120.0, 120.0))
    with pytest.raises(Conflict):
        await sessions.put_session(WebSession("h1", "eve", 1.0, 1.0))
    assert await sessions.get_session("h1") == WebSession("h1", "bob", 100.0, 100.0)
    assert await sessions.get_session("nope") is None
    assert await sessions.get_sessions(["h3", "nope", "h1", "h1"]) == {
        "h1": WebSession("h1", "bob", 100.0, 100.0),
        "h3": WebSession("h3", "sue", 120.0, 120.0),
    }
    assert await sessions.get_sessions([]) == {}
    await sessions.touch_session("h1", 150.0)
    await sessions.touch_session("h1", 140.0)  # never back
    await sessions.touch_session("nope", 150.0)
    assert (await sessions.get_session("h1")) == WebSession("h1", "bob", 100.0, 150.0)
    assert await sessions.delete_session("h3") and not await sessions.delete_session("h3")
    assert await sessions.get_session("h3") is None
    await sessions.put_session(WebSession("h4", "bob", 130.0, 130.0))
    assert await sessions.delete_sessions("bob", keep="h4") == 2  # everywhere but here
    assert [await sessions.get_session(h) for h in ("h1", "h2")] == [None, None]
    assert await sessions.get_session("h4") is not None
    assert await sessions.delete_sessions("bob") == 1 and await sessions.delete_sessions("bob") == 0
    for h, created, seen in (("a", 10.0, 500.0), ("b", 300.0, 350.0), ("c", 300.0, 500.0)):
        await sessions.put_session(WebSession(h, "ann", created, seen))
    assert await sessions.forget_sessions(seen_before=400.0, created_before=100.0) == 2  # idle b, too old a
    assert [s.id for h in ("a", "b", "c") if (s := await sessions.get_session(h))] == ["c"]


async def test_erasing_a_customer_deletes_them_and_their_interactions_only(store: Roles) -> None:
    erase = cast("CustomerErasure", store)
    await store.put_customer(Customer(id="C1", name="Ann Lee", phones=("+14155550101",), account_number="A-1"))
    await store.put_customer(Customer(id="C2", name="Bo Chu", phones=("+14155550102",)))
    for call, who in (("k1", "C1"), ("k2", "C1"), ("k3", "C2")):
        await store.put_interaction(
            Interaction(id=call, customer_id=who, agent_id="agent01", started_at=1.0, notes="x")
        )
    assert await erase.erase_customer("C1") == (True, ["k1", "k2"])
    with pytest.raises(NotFound):
        await store.get_customer("C1")
    assert await store.find_customers_by_phone("+14155550101") == []
    assert await store.find_customer_by_account("A-1") is None
    assert await store.interactions_for_customer("C1") == []
    with pytest.raises(NotFound):
        await store.get_interaction("k1")
    assert [c.id for c in await store.find_customers_by_phone("+14155550102")] == ["C2"]  # nobody else's
    assert (await store.get_interaction("k3")).customer_id == "C2"
    assert await erase.erase_customer("C1") == (False, [])
    await store.put_customer(Customer(id="C3", name="New", account_number="A-1"))  # the account number is free again


async def test_concurrent_appends_keep_every_event(store: Roles) -> None:
    async def writer(n: int) -> list[int]:
        return [await store.append(CallEnded(at=float(n * 100 + i), call_id=f"w{n}-{i}")) for i in range(20)]

    results = await asyncio.wait_for(asyncio.gather(*(writer(n) for n in range(5))), timeout=20)
    seqs = [s for r in results for s in r]
    assert len(set(seqs)) == 100
    assert len(await _all(store, 0, 1e9)) == 100


# ---------------------------------------------------------------- web (0002): settings, tokens, callbacks


async def test_settings_versions_are_sequential_and_checked(sql: SqlStore) -> None:
    assert await sql.get_settings_version("routing") is None
    v1 = await sql.put_settings_version("routing", "a = 1", author="admin", expected_version=0, at=10.0)
    v2 = await sql.put_settings_version("routing", "a = 2", author="admin", comment="more", at=11.0)
    assert (v1.version, v2.version) == (1, 2)
    other = await sql.put_settings_version("queues", "{}", at=12.0)
    assert other.version == 1
    live = await sql.get_settings_version("routing")
    assert live is not None and (live.version, live.body, live.comment) == (2, "a = 2", "more")
    old = await sql.get_settings_version("routing", 1)
    assert old is not None and old.body == "a = 1" and old.created_at == 10.0
    assert await sql.get_settings_version("routing", 9) is None
    assert [v.version for v in await sql.list_settings_versions("routing")] == [2, 1]
    with pytest.raises(Conflict):
        await sql.put_settings_version("routing", "stale", expected_version=1)
    assert (await sql.get_settings_version("routing")).body == "a = 2"  # type: ignore[union-attr]


async def test_concurrent_settings_applies_store_one_each_version(sql: SqlStore) -> None:
    results = await asyncio.gather(
        *(sql.put_settings_version("routing", f"v{i}", expected_version=0) for i in range(4)),
        return_exceptions=True,
    )
    stored = [r for r in results if not isinstance(r, BaseException)]
    assert len(stored) == 1 and all(isinstance(r, Conflict) for r in results if r not in stored)
    assert [v.version for v in await sql.list_settings_versions("routing")] == [1]


async def test_api_tokens_are_found_by_hash_and_revoked(sql: SqlStore) -> None:
    token = ApiToken(id="t1", login="admin", name="crm sync", created_at=5.0, expires_at=99.5, scopes=("read", "agent"))
    await sql.put_api_token(token, "hash-1")
    await sql.put_api_token(ApiToken(id="t2", login="sup", created_at=6.0), "hash-2")
    assert await sql.find_api_token("hash-1") == token
    second = await sql.find_api_token("hash-2")
    assert second is not None and (second.expires_at, second.scopes) == (0.0, ("admin",))
    assert await sql.find_api_token("nope") is None
    assert await sql.find_api_tokens(["hash-2", "nope", "hash-1"]) == {"hash-1": token, "hash-2": second}
    many = [f"h{n}" for n in range(1200)]  # more than one IN list's chunk
    assert await sql.find_api_tokens([*many, "hash-2"]) == {"hash-2": second}
    with pytest.raises(Conflict):
        await sql.put_api_token(ApiToken(id="t1", login="x"), "hash-3")
    assert [t.id for t in await sql.list_api_tokens()] == ["t1", "t2"]
    assert [t.id for t in await sql.list_api_tokens("sup")] == ["t2"]
    await sql.revoke_api_token("t1")
    found = await sql.find_api_token("hash-1")
    assert found is not None and found.revoked
    with pytest.raises(NotFound):
        await sql.revoke_api_token("t9")


async def test_deleting_a_user_ends_their_sessions_and_tokens_and_keeps_their_history(sql: SqlStore) -> None:
    for login in ("bob", "sue"):
        await sql.put_user(User(login=login, display_name=login.title(), role="agent"))
        await sql.put_session(WebSession(f"s-{login}", login, 1.0, 1.0))
        await sql.put_api_token(ApiToken(id=f"t-{login}", login=login, created_at=1.0), f"hash-{login}")
    await sql.put_interaction(Interaction(id="i1", direction="inbound", agent_id="bob", started_at=5.0))
    assert await sql.delete_user("bob") is True
    with pytest.raises(NotFound):
        await sql.get_user("bob")
    assert await sql.get_session("s-bob") is None
    gone = await sql.find_api_token("hash-bob")
    assert gone is not None and gone.revoked  # kept, revoked: the admin's list still shows it
    assert (await sql.get_interaction("i1")).agent_id == "bob"  # their history stays
    assert await sql.delete_user("bob") is False  # nobody to delete
    kept = await sql.find_api_token("hash-sue")  # nobody else's
    assert await sql.get_session("s-sue") is not None and kept is not None and not kept.revoked
    assert [u.login for u in await sql.list_users()] == ["sue"]


async def test_two_admins_deleting_each_other_at_once_leave_one(sql: SqlStore) -> None:
    for login in ("ann", "al"):
        await sql.put_user(User(login=login, display_name=login, role="admin"))
    await sql.put_user(User(login="off", display_name="off", role="admin", disabled=True))
    results = await asyncio.gather(sql.delete_user("ann"), sql.delete_user("al"), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "bool"], results
    [left] = [u for u in await sql.list_users("admin") if not u.disabled]
    with pytest.raises(Conflict):
        await sql.delete_user(left.login)  # a disabled admin does not count
    assert await sql.delete_user("off") is True


async def test_callbacks_by_due_time_and_agent(sql: SqlStore) -> None:
    a = Callback(
        id="cb1",
        due_at=100.0,
        call_id="c1",
        customer_id="C1",
        agent_id="agent01",
        number="+14155550100",
        notes="after 5 pm",
        created_at=50.0,
    )
    b = Callback(id="cb2", due_at=200.0, agent_id="agent02", created_at=51.0)
    await sql.put_callback(a)
    await sql.put_callback(b)
    assert await sql.callbacks_between(0, 1000) == [a, b]
    assert await sql.callbacks_between(0, 1000, agent_id="agent02") == [b]
    assert await sql.callbacks_between(150, 1000) == [b]
    done = Callback(id="cb1", due_at=100.0, call_id="c1", done=True)
    await sql.put_callback(done)
    assert (await sql.callbacks_between(0, 150))[0].done


async def test_interaction_upsert_keeps_the_agents_wrap_up(store: Roles) -> None:
    """The live loop writes the call's row when it ends; the agent may have saved the
    wrap-up first: the disposition and notes survive."""
    await store.put_interaction(Interaction(id="w1", started_at=1.0, disposition="sale", notes="upgraded"))
    await store.put_interaction(Interaction(id="w1", started_at=1.0, ended_at=9.0, outcome="answered", agent_id="a1"))
    row = await store.get_interaction("w1")
    assert (row.disposition, row.notes, row.outcome, row.agent_id) == ("sale", "upgraded", "answered", "a1")


async def test_interactions_in_one_batch_are_upserts(store: Roles) -> None:
    """`put_interactions`: every row written, a wrap-up saved first kept, as one by one."""
    await store.put_interaction(Interaction(id="b3", started_at=1.0, disposition="sale", notes="upgraded"))
    rows = [
        Interaction(id=f"b{i}", started_at=float(i), ended_at=i + 9.0, outcome="answered", agent_id=f"a{i}")
        for i in range(6)
    ]
    await store.put_interactions(rows)
    await store.put_interactions([])
    got = [await store.get_interaction(f"b{i}") for i in range(6)]
    assert [(r.agent_id, r.ended_at, r.outcome) for r in got] == [(f"a{i}", i + 9.0, "answered") for i in range(6)]
    assert (got[3].disposition, got[3].notes) == ("sale", "upgraded")
    assert [r.disposition for r in got if r.id != "b3"] == [""] * 5


async def test_the_ids_with_no_interaction_row_are_told_in_one_call(store: Roles) -> None:
    """`interactions_missing`: of the ids asked (repeats, more than one SQLite IN list),
    those with no row."""
    await store.put_interactions([Interaction(id=f"m{i}", started_at=float(i)) for i in range(0, 1200, 3)])
    asked = [f"m{i}" for i in range(1200)] + ["m1", "m3"]
    assert await store.interactions_missing(asked) == {f"m{i}" for i in range(1200) if i % 3}
    assert await store.interactions_missing([]) == set()


async def test_customers_of_many_phones_in_one_call(store: Roles) -> None:
    """`find_customers_by_phones`: each number as given -> what `find_customers_by_phone`
    gives for it (same order); an unreadable one left out, an unknown one empty."""
    await store.put_customers(
        [
            Customer(id="b", name="B", phones=("4155550100", "4155550101")),
            Customer(id="a", name="A", phones=("4155550100",)),
            Customer(id="c", name="C", phones=("4155550101", "4155550102")),
        ]
    )
    asked = ["4155550101", "+1 415 555 0100", "4155550100", "4155550199", "not a number"]
    found = await store.find_customers_by_phones(asked)
    assert set(found) == set(asked) - {"not a number"}
    for phone in asked[:4]:
        assert found[phone] == await store.find_customers_by_phone(phone)
    assert [c.id for c in found["4155550101"]] == ["c", "b"]  # by position on the record, then id
    assert [c.id for c in found["4155550100"]] == ["a", "b"]
    assert found["4155550199"] == []
    assert found["+1 415 555 0100"] is not found["4155550100"]  # one number typed twice: a list each
    assert await store.find_customers_by_phones([]) == {}


async def test_a_cancelled_writer_leaves_the_store_usable(store: Roles) -> None:
    """A writer task cancelled mid-transaction (server shutdown, a killed loop) must not
    leave the connection stuck in that transaction."""
    for _ in range(20):
        task = asyncio.create_task(store.append_many([CallEnded(at=float(i), call_id=f"x{i}") for i in range(50)]))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    seq = await asyncio.wait_for(store.append(CallEnded(at=1.0, call_id="after")), timeout=5)
    assert seq > 0
    assert [e.event.call_id for e in await store.events_for_call("after")] == ["after"]


async def test_append_many_with_dedupe_keys_is_idempotent(store: Roles) -> None:
    batch = [CallArrived(at=1.0, call_id="k1"), CallEnded(at=2.0, call_id="k1")]
    first = await store.append_many(batch, ["w:1", "w:2"])
    again = await store.append_many([*batch, CallArrived(at=3.0, call_id="k2")], ["w:1", "w:2", "w:3"])
    assert all(first) and again[:2] == [0, 0] and again[2] > first[1]
    assert [e.event.call_id for e in await _all(store, 0, 10)] == ["k1", "k1", "k2"]
    with pytest.raises(ValueError, match="one key per event"):
        await store.append_many(batch, ["only-one"])


async def test_append_many_stores_the_payloads_it_is_given_in_order(store: Roles) -> None:
    """The live loop hands the events' JSON (encoded once for the log and the bus):
    each event is stored from its own text, keyed or not, and a text missing (None)
    is encoded by the store."""
    batch: list[Event] = [
        CallArrived(at=1.0, call_id="t1", caller="5551"),
        CallQueued(at=2.0, call_id="t1", queue="billing", skills={"billing": 3}),
        CallEnded(at=3.0, call_id="t1"),
    ]
    texts = [json.dumps(to_record(e)) for e in batch]
    assert all(await store.append_many(batch[:2], ["pl:1", "pl:2"], payloads=texts[:2]))
    assert all(await store.append_many(batch[2:], payloads=[None]))
    assert [s.event for s in await _all(store, 0, 10)] == batch
    with pytest.raises(ValueError, match="one per event"):
        await store.append_many(batch, payloads=texts[:1])


async def test_a_keyed_batch_larger_than_one_insert_keeps_its_order_and_skips_known_keys(store: Roles) -> None:
    """The live event log's batches (one INSERT of many rows per chunk): seqs grow in
    the events' order across chunks; a key already stored, or twice in the batch, is
    stored once (seq 0 for the others)."""
    await store.append_many([CallArrived(at=0.5, call_id="known")], ["b:known"])
    events: list[Event] = [CallArrived(at=1.0 + i, call_id=f"b{i}") for i in range(2300)]
    keys = [f"b:{i}" for i in range(2300)]
    keys[5], keys[1700] = "b:known", "b:3"  # stored already; twice in this batch
    seqs = await store.append_many(events, keys)
    assert seqs[5] == 0 and seqs[1700] == 0
    stored = [s for i, s in enumerate(seqs) if i not in (5, 1700)]
    assert all(stored) and stored == sorted(stored) and len(set(stored)) == len(stored)
    got = await _all(store, 1.0, 1e9)
    assert [s.seq for s in got] == stored
    assert [s.event for s in got] == [e for i, e in enumerate(events) if i not in (5, 1700)]


# ---------------------------------------------------------------- the event log's stream


async def test_iter_events_streams_every_page_in_sequence_order(store: Roles) -> None:
    events: list[Event] = [CallArrived(at=float(i), call_id=f"p{i}") for i in range(7)]
    seqs = await store.append_many(events)
    for page in (1, 2, 3, 7, 8, 5000):
        got = await _all(store, page=page)
        assert [s.seq for s in got] == seqs, page
        assert [s.event for s in got] == events, page
    assert [s.seq for s in await _all(store, after_seq=seqs[4], page=2)] == seqs[5:]
    assert [s.event for s in await _all(store, 2.0, 5.0, page=2)] == events[2:5]
    assert await _all(store, 3.0, 3.0) == []
    assert await _all(store, after_seq=seqs[-1]) == []


async def test_iter_events_filters_by_kind(store: Roles) -> None:
    await store.append(CallArrived(at=1.0, call_id="k1"))
    await store.append(AgentLoggedIn(at=2.0, agent_id="a1"))
    await store.append(CallQueued(at=3.0, call_id="k1", queue="sales"))
    await store.append(CallEnded(at=4.0, call_id="k1"))
    queued_or_ended = await _all(store, kinds=(CallQueued, CallEnded), page=1)
    assert [type(s.event) for s in queued_or_ended] == [CallQueued, CallEnded]
    assert [type(s.event) for s in await _all(store, kinds={AgentLoggedIn})] == [AgentLoggedIn]
    assert await _all(store, kinds=()) == []
    with pytest.raises(ValueError, match="page"):
        await _all(store, page=0)


async def test_iter_events_reaches_events_stored_while_it_reads(store: Roles) -> None:
    """The stream is read page by page: what is appended past the current page is read too."""
    await store.append_many([CallArrived(at=float(i), call_id=f"s{i}") for i in range(4)])
    seen: list[str] = []
    async for stored in store.iter_events(0, 1e12, page=2):
        seen.append(stored.event.call_id)
        if stored.event.call_id == "s0":
            await store.append(CallArrived(at=9.0, call_id="late"))
    assert seen == ["s0", "s1", "s2", "s3", "late"]


async def test_what_is_read_back_is_a_copy(store: Roles) -> None:
    """Mutating what was stored or read changes nothing stored (a row is a copy)."""
    attributes: dict[str, Any] = {"tags": ["a"]}
    await store.put_customer(Customer(id="c1", name="C", phones=("4155550100",), attributes=attributes))
    await store.put_interaction(Interaction(id="i1", customer_id="c1", attributes=attributes))
    attributes["tags"].append("b")
    (await store.get_customer("c1")).attributes["tags"].append("c")
    (await store.get_interaction("i1")).attributes["tags"].append("c")
    assert (await store.get_customer("c1")).attributes == {"tags": ["a"]}
    assert (await store.find_customers_by_phone("4155550100"))[0].attributes == {"tags": ["a"]}
    assert (await store.get_interaction("i1")).attributes == {"tags": ["a"]}
    queued = CallQueued(at=1.0, call_id="q1", queue="sales", skills={"sales": 3})
    await store.append(queued)
    (await _all(store))[0].event.skills["sales"] = 9  # type: ignore[index]
    assert [s.event for s in await store.events_for_call("q1")] == [queued]


async def test_customer_update_moves_its_account_number(store: Roles) -> None:
    await store.put_customer(Customer(id="m1", name="M", account_number="AC-9"))
    await store.put_customer(Customer(id="m1", name="M", account_number="AC-10"))
    assert await store.find_customer_by_account("AC-9") is None
    await store.put_customer(Customer(id="m2", name="N", account_number="AC-9"))  # free again
    found = await store.find_customer_by_account(" AC-10 ")
    assert found is not None and found.id == "m1"
    assert await store.find_customer_by_account("") is None


async def test_events_between_is_one_page(sql: SqlStore) -> None:
    """SQL only: the page the stream is read by."""
    seqs = await sql.append_many([CallArrived(at=float(i), call_id=f"e{i}") for i in range(4)])
    page = await sql.events_between(0, 1e12, after_seq=seqs[1], limit=1)
    assert [e.seq for e in page] == [seqs[2]]


# ---------------------------------------------------------------- the suite can fail


class _SkipsAfterSeq(MemoryStore):
    """Forgets `after_seq`: always reads from the first event."""

    def iter_events(self, start: float, end: float, **kwargs: Any) -> AsyncIterator[StoredEvent]:
        kwargs.pop("after_seq", None)
        return super().iter_events(start, end, **kwargs)


class _OnePageOnly(MemoryStore):
    """Stops after the first page."""

    async def iter_events(self, start: float, end: float, **kwargs: Any) -> AsyncIterator[StoredEvent]:
        count = 0
        async for stored in super().iter_events(start, end, **kwargs):
            yield stored
            count += 1
            if count == kwargs.get("page", 5000):
                return


class _ForgetsWrapUp(MemoryStore):
    """Overwrites the agent's wrap-up with the live loop's empty one."""

    async def put_interaction(self, interaction: Interaction) -> None:
        self._interactions[interaction.id] = interaction


class _RawPhones(MemoryStore):
    """Looks phones up as typed, not in E.164."""

    async def find_customers_by_phone(self, phone: str) -> list[Customer]:
        return [c for c in self._customers.values() if phone in c.phones]


class _HalfABatch(MemoryStore):
    """Stores a batch customer by customer: a conflict leaves the first ones stored."""

    async def put_customers(self, customers: Any) -> int:
        stored = 0
        for customer in customers:
            await super().put_customers([customer])
            stored += 1
        return stored


class _SharedRows(MemoryStore):
    """Hands out what it keeps (no copy)."""

    async def get_interaction(self, interaction_id: str) -> Interaction:
        found = self._interactions.get(interaction_id)
        if found is None:
            raise NotFound(interaction_id)
        return found

    async def put_interaction(self, interaction: Interaction) -> None:
        old = self._interactions.get(interaction.id)
        if old is not None and not interaction.disposition:
            interaction = replace(interaction, disposition=old.disposition, notes=old.notes)
        self._interactions[interaction.id] = interaction


class _DedupeIgnored(MemoryStore):
    async def append_many(self, events: Any, dedupe_keys: Any = None, *, epoch: int = 0) -> list[int]:
        if dedupe_keys is not None and len(dedupe_keys) != len(events):
            raise ValueError("dedupe_keys: one key per event")
        return await super().append_many(events, epoch=epoch)


BROKEN: list[tuple[type[MemoryStore], Callable[[Any], Awaitable[None]]]] = [
    (_SkipsAfterSeq, test_iter_events_streams_every_page_in_sequence_order),
    (_OnePageOnly, test_iter_events_streams_every_page_in_sequence_order),
    (_OnePageOnly, test_iter_events_reaches_events_stored_while_it_reads),
    (_ForgetsWrapUp, test_interaction_upsert_keeps_the_agents_wrap_up),
    (_RawPhones, test_customer_lookup_by_phone_and_account),
    (_HalfABatch, test_customer_batch_is_atomic),
    (_SharedRows, test_what_is_read_back_is_a_copy),
    (_DedupeIgnored, test_append_many_with_dedupe_keys_is_idempotent),
]


@pytest.mark.parametrize(("broken", "contract"), BROKEN, ids=[b.__name__.strip("_") for b, _ in BROKEN])
async def test_the_suite_catches_a_broken_adapter(
    broken: type[MemoryStore], contract: Callable[[Any], Awaitable[None]]
) -> None:
    await contract(MemoryStore())  # the sound adapter passes...
    with pytest.raises(AssertionError):
        await contract(broken())  # ...and the broken one is caught
