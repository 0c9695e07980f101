"""One contract suite over the webhook outbox (`store.port.WebhookOutbox`, store/webhooks.py):
PostgreSQL (asyncpg) and SQLite."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from store.port import NotFound
from store.sql import SqlStore
from store.webhooks import WebhookSubscription
from tests.contract.test_contract_store import _sql_store


@pytest.fixture(params=["postgresql", "sqlite"])
async def sql(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[SqlStore]:
    s = await _sql_store(request.param, request, tmp_path)
    if request.param == "postgresql":
        await s._db.execute("TRUNCATE webhook_subscriptions, webhook_deliveries, webhook_cursor")
    try:
        yield s
    finally:
        await s.close()


def sub(sub_id: str, *events: str, enabled: bool = True) -> WebhookSubscription:
    return WebhookSubscription(sub_id, f"https://example.com/{sub_id}", events, "s" * 20, enabled, "admin", 1.0)


async def test_subscriptions_are_kept_replaced_and_deleted(sql: SqlStore) -> None:
    await sql.put_webhook(sub("a", "call.ended", "alert.raised"))
    await sql.put_webhook(sub("b", "call.ended"))
    assert [s.id for s in await sql.list_webhooks()] == ["a", "b"]
    assert (await sql.get_webhook("a")).events == ("call.ended", "alert.raised")
    await sql.put_webhook(sub("a", "callback.scheduled", enabled=False))
    got = await sql.get_webhook("a")
    assert got.events == ("callback.scheduled",) and not got.enabled and got.secret == "s" * 20
    assert await sql.delete_webhook("a") and not await sql.delete_webhook("a")
    with pytest.raises(NotFound):
        await sql.get_webhook("a")


async def test_publishing_makes_one_delivery_per_subscriber_once(sql: SqlStore) -> None:
    await sql.put_webhook(sub("a", "call.ended"))
    await sql.put_webhook(sub("b", "call.ended", "interaction.wrapped_up"))
    await sql.put_webhook(sub("c", "interaction.wrapped_up"))
    await sql.put_webhook(sub("off", "call.ended", enabled=False))
    assert await sql.publish_webhook("call.ended", "log.6", {"call_id": "c0"}, 0.5) == 0  # before they were made
    assert await sql.publish_webhook("call.ended", "log.7", {"call_id": "c1"}, 100.0) == 2
    assert await sql.publish_webhook("call.ended", "log.7", {"call_id": "c1"}, 100.0) == 0  # a repeat
    due = await sql.due_webhook_deliveries(100.0)
    assert sorted(d.id for d in due) == ["a:log.7", "b:log.7"]
    assert json.loads(due[0].payload) == {"event": "call.ended", "created_at": 100.0, "data": {"call_id": "c1"}}
    assert await sql.due_webhook_deliveries(99.0) == []


async def test_attempts_retry_then_settle_and_stay_in_the_log(sql: SqlStore) -> None:
    await sql.put_webhook(sub("a", "call.ended"))
    await sql.publish_webhook("call.ended", "k1", {}, 10.0)
    await sql.publish_webhook("call.ended", "k2", {}, 11.0)
    d = await sql.record_webhook_attempt(
        "a:k1", status="pending", next_at=50.0, http_status=500, error="HTTP 500", at=20.0
    )
    assert (d.status, d.attempts, d.next_at, d.last_status, d.done_at) == ("pending", 1, 50.0, 500, None)
    assert [x.id for x in await sql.due_webhook_deliveries(30.0)] == ["a:k2"]
    d = await sql.record_webhook_attempt("a:k1", status="delivered", next_at=0.0, http_status=204, error="", at=51.0)
    assert (d.status, d.attempts, d.done_at) == ("delivered", 2, 51.0)
    again = await sql.record_webhook_attempt("a:k1", status="failed", next_at=0.0, http_status=0, error="x", at=60.0)
    assert again.status == "delivered" and again.attempts == 2  # settled: kept
    with pytest.raises(ValueError, match="status"):
        await sql.record_webhook_attempt("a:k2", status="lost", next_at=0.0, http_status=0, error="", at=1.0)
    assert [x.id for x in await sql.list_webhook_deliveries()] == ["a:k2", "a:k1"]
    assert [x.id for x in await sql.list_webhook_deliveries(status="delivered", subscription_id="a")] == ["a:k1"]
    assert await sql.delete_webhook("a")
    left = await sql.get_webhook_delivery("a:k2")
    assert left.status == "failed" and left.last_error == "subscription deleted"
    with pytest.raises(NotFound):
        await sql.get_webhook_delivery("nope")


async def test_the_cursor_only_moves_forward(sql: SqlStore) -> None:
    assert await sql.webhook_cursor("event-log") is None
    await sql.set_webhook_cursor("event-log", 10)
    await sql.set_webhook_cursor("event-log", 4)
    assert await sql.webhook_cursor("event-log") == 10
    await sql.set_webhook_cursor("event-log", 12)
    assert await sql.webhook_cursor("event-log") == 12
