"""One contract suite over both store adapters: PostgreSQL (asyncpg) and SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from config.schema import StoreConfig
from events import CallArrived, CallConnected, CallEnded, CallQueued
from store import SqlStore, open_store
from store.models import ApiToken, Callback, Customer, Interaction, User
from store.phones import InvalidPhone
from store.port import Conflict, NotFound

TABLES = (
    "events",
    "customer_phones",
    "customers",
    "interactions",
    "users",
    "settings_versions",
    "api_tokens",
    "callbacks",
)


@pytest.fixture(params=["postgresql", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/hotline.sqlite3"
    else:
        url = request.getfixturevalue("pg_url")
    s = await open_store(StoreConfig(url=url))
    await s.migrate()
    if request.param == "postgresql":
        await s._db.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY")
    try:
        yield s
    finally:
        await s.close()


async def test_migrate_is_idempotent(store: SqlStore) -> None:
    assert await store.migrate() == []


async def test_event_log_appends_with_increasing_sequence(store: SqlStore) -> None:
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

    window = await store.events_between(101.0, 110.0)
    assert [e.event for e in window] == [events[1], events[2]]
    page = await store.events_between(0, 1e12, after_seq=seqs[1], limit=1)
    assert [e.seq for e in page] == [seqs[2]]


async def test_customer_lookup_by_phone_and_account(store: SqlStore) -> None:
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


async def test_shared_phone_returns_every_customer(store: SqlStore) -> None:
    await store.put_customers(
        [
            Customer(id="a", name="A", phones=("4155550100",)),
            Customer(id="b", name="B", phones=("4155550100",)),
        ]
    )
    assert {c.id for c in await store.find_customers_by_phone("4155550100")} == {"a", "b"}
    assert await store.count_customers() == 2


async def test_customer_batch_is_atomic(store: SqlStore) -> None:
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


async def test_interactions(store: SqlStore) -> None:
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


async def test_users(store: SqlStore) -> None:
    await store.put_user(
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
    await store.put_user(User(login="sue", display_name="Sue", role="supervisor"))
    bob = await store.get_user("bob")
    assert bob.skills == {"billing": 7, "sales": 3} and bob.languages == ("en", "es")
    assert [u.login for u in await store.list_users("agent")] == ["bob"]
    assert len(await store.list_users()) == 2
    with pytest.raises(ValueError, match="skills.billing"):
        await store.put_user(User(login="x", display_name="X", skills={"billing": 11}))
    with pytest.raises(ValueError, match="role"):
        await store.put_user(User(login="x", display_name="X", role="boss"))
    with pytest.raises(NotFound):
        await store.get_user("nobody")


async def test_concurrent_appends_keep_every_event(store: SqlStore) -> None:
    async def writer(n: int) -> list[int]:
        return [await store.append(CallEnded(at=float(n * 100 + i), call_id=f"w{n}-{i}")) for i in range(20)]

    results = await asyncio.wait_for(asyncio.gather(*(writer(n) for n in range(5))), timeout=20)
    seqs = [s for r in results for s in r]
    assert len(set(seqs)) == 100
    assert len(await store.events_between(0, 1e9)) == 100


# ---------------------------------------------------------------- web (0002): settings, tokens, callbacks


async def test_settings_versions_are_sequential_and_checked(store: SqlStore) -> None:
    assert await store.get_settings_version("routing") is None
    v1 = await store.put_settings_version("routing", "a = 1", author="admin", expected_version=0, at=10.0)
    v2 = await store.put_settings_version("routing", "a = 2", author="admin", comment="more", at=11.0)
    assert (v1.version, v2.version) == (1, 2)
    other = await store.put_settings_version("queues", "{}", at=12.0)
    assert other.version == 1
    live = await store.get_settings_version("routing")
    assert live is not None and (live.version, live.body, live.comment) == (2, "a = 2", "more")
    old = await store.get_settings_version("routing", 1)
    assert old is not None and old.body == "a = 1" and old.created_at == 10.0
    assert await store.get_settings_version("routing", 9) is None
    assert [v.version for v in await store.list_settings_versions("routing")] == [2, 1]
    with pytest.raises(Conflict):
        await store.put_settings_version("routing", "stale", expected_version=1)
    assert (await store.get_settings_version("routing")).body == "a = 2"  # type: ignore[union-attr]


async def test_concurrent_settings_applies_store_one_each_version(store: SqlStore) -> None:
    results = await asyncio.gather(
        *(store.put_settings_version("routing", f"v{i}", expected_version=0) for i in range(4)),
        return_exceptions=True,
    )
    stored = [r for r in results if not isinstance(r, BaseException)]
    assert len(stored) == 1 and all(isinstance(r, Conflict) for r in results if r not in stored)
    assert [v.version for v in await store.list_settings_versions("routing")] == [1]


async def test_api_tokens_are_found_by_hash_and_revoked(store: SqlStore) -> None:
    token = ApiToken(id="t1", login="admin", name="crm sync", created_at=5.0)
    await store.put_api_token(token, "hash-1")
    await store.put_api_token(ApiToken(id="t2", login="sup", created_at=6.0), "hash-2")
    assert await store.find_api_token("hash-1") == token
    assert await store.find_api_token("nope") is None
    with pytest.raises(Conflict):
        await store.put_api_token(ApiToken(id="t1", login="x"), "hash-3")
    assert [t.id for t in await store.list_api_tokens()] == ["t1", "t2"]
    assert [t.id for t in await store.list_api_tokens("sup")] == ["t2"]
    await store.revoke_api_token("t1")
    found = await store.find_api_token("hash-1")
    assert found is not None and found.revoked
    with pytest.raises(NotFound):
        await store.revoke_api_token("t9")


async def test_callbacks_by_due_time_and_agent(store: SqlStore) -> None:
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
    await store.put_callback(a)
    await store.put_callback(b)
    assert await store.callbacks_between(0, 1000) == [a, b]
    assert await store.callbacks_between(0, 1000, agent_id="agent02") == [b]
    assert await store.callbacks_between(150, 1000) == [b]
    done = Callback(id="cb1", due_at=100.0, call_id="c1", done=True)
    await store.put_callback(done)
    assert (await store.callbacks_between(0, 150))[0].done


async def test_interaction_upsert_keeps_the_agents_wrap_up(store: SqlStore) -> None:
    """The live loop writes the call's row when it ends; the agent may have saved the
    wrap-up first: the disposition and notes survive."""
    await store.put_interaction(Interaction(id="w1", started_at=1.0, disposition="sale", notes="upgraded"))
    await store.put_interaction(Interaction(id="w1", started_at=1.0, ended_at=9.0, outcome="answered", agent_id="a1"))
    row = await store.get_interaction("w1")
    assert (row.disposition, row.notes, row.outcome, row.agent_id) == ("sale", "upgraded", "answered", "a1")


async def test_a_cancelled_writer_leaves_the_store_usable(store: SqlStore) -> None:
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


async def test_append_many_with_dedupe_keys_is_idempotent(store: SqlStore) -> None:
    batch = [CallArrived(at=1.0, call_id="k1"), CallEnded(at=2.0, call_id="k1")]
    first = await store.append_many(batch, ["w:1", "w:2"])
    again = await store.append_many([*batch, CallArrived(at=3.0, call_id="k2")], ["w:1", "w:2", "w:3"])
    assert all(first) and again[:2] == [0, 0] and again[2] > first[1]
    assert [e.event.call_id for e in await store.events_between(0, 10)] == ["k1", "k1", "k2"]
    with pytest.raises(ValueError, match="one key per event"):
        await store.append_many(batch, ["only-one"])
