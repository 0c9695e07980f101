"""Webhooks in the SQL store (issue 20): the admins' subscriptions and the durable
outbox, one row per delivery, which is also the delivery log the admin page shows.

Publishing is one INSERT ... SELECT over the subscriptions that want the event, each
row keyed by subscription id + ":" + the source's key: publishing the same thing
twice (a retry, a restart re-reading the event log) adds nothing. `SqlWebhooks` is
mixed into `store.sql.SqlStore`; `tests/contract/test_contract_webhooks.py` holds
PostgreSQL and SQLite to one suite.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store.drivers import Driver
from store.port import NotFound

DELIVERY_STATES = ("pending", "delivered", "failed")


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    enabled: bool = True
    created_by: str = ""
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event for one subscription. `payload` is the JSON body, frozen when published
    (the receiver sees what happened then); `id` is its idempotency key."""

    id: str
    subscription_id: str
    event: str
    payload: str
    created_at: float
    status: str = "pending"  # pending -> delivered | failed
    attempts: int = 0
    next_at: float = 0.0
    last_status: int = 0  # the last HTTP status (0: no answer)
    last_error: str = ""
    done_at: float | None = None


_SUB_COLUMNS = "id, url, events, secret, enabled, created_by, created_at"
_DELIVERY_COLUMNS = (
    "id, subscription_id, event, payload, created_at, status, attempts, next_at, last_status, last_error, done_at"
)


def _subscription(row: Mapping[str, Any]) -> WebhookSubscription:
    return WebhookSubscription(
        id=row["id"],
        url=row["url"],
        events=tuple(e for e in row["events"].split(",") if e),
        secret=row["secret"],
        enabled=bool(row["enabled"]),
        created_by=row["created_by"],
        created_at=float(row["created_at"]),
    )


def _delivery(row: Mapping[str, Any]) -> WebhookDelivery:
    done = row["done_at"]
    return WebhookDelivery(
        id=row["id"],
        subscription_id=row["subscription_id"],
        event=row["event"],
        payload=row["payload"],
        created_at=float(row["created_at"]),
        status=row["status"],
        attempts=int(row["attempts"]),
        next_at=float(row["next_at"]),
        last_status=int(row["last_status"]),
        last_error=row["last_error"],
        done_at=None if done is None else float(done),
    )


class SqlWebhooks:
    """The `store.port.WebhookOutbox` methods over the store's driver."""

    _db: Driver

    async def put_webhook(self, sub: WebhookSubscription) -> None:
        await self._db.execute(
            f"INSERT INTO webhook_subscriptions ({_SUB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (id) DO UPDATE SET url = excluded.url, events = excluded.events,"
            " secret = excluded.secret, enabled = excluded.enabled",
            sub.id,
            sub.url,
            "," + ",".join(sub.events) + ",",
            sub.secret,
            bool(sub.enabled),
            sub.created_by,
            float(sub.created_at),
        )

    async def get_webhook(self, sub_id: str) -> WebhookSubscription:
        rows = await self._db.fetch(f"SELECT {_SUB_COLUMNS} FROM webhook_subscriptions WHERE id = $1", sub_id)
        if not rows:
            raise NotFound(f"webhook {sub_id!r}")
        return _subscription(rows[0])

    async def list_webhooks(self) -> list[WebhookSubscription]:
        rows = await self._db.fetch(f"SELECT {_SUB_COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id")
        return [_subscription(r) for r in rows]

    async def delete_webhook(self, sub_id: str) -> bool:
        """Its pending deliveries go with it (those done stay in the log)."""
        async with self._db.transaction() as tx:
            found = int(await tx.fetchval("SELECT COUNT(*) FROM webhook_subscriptions WHERE id = $1", sub_id))
            await tx.execute("DELETE FROM webhook_subscriptions WHERE id = $1", sub_id)
            await tx.execute(
                "UPDATE webhook_deliveries SET status = 'failed', last_error = 'subscription deleted'"
                " WHERE subscription_id = $1 AND status = 'pending'",
                sub_id,
            )
        return found > 0

    async def publish_webhook(self, event: str, key: str, payload: Mapping[str, Any], at: float) -> int:
        """A delivery for every enabled subscription to `event` made by `at` (a new
        subscription hears only what happens after it), due now; how many were new (0
        when `key` was published already)."""
        body = json.dumps({"event": event, "created_at": at, "data": dict(payload)}, sort_keys=True)
        rows = await self._db.fetch(
            "INSERT INTO webhook_deliveries (id, subscription_id, event, payload, created_at, next_at)"
            " SELECT id || ':' || $1, id, $2, $3, $4, $4 FROM webhook_subscriptions"
            " WHERE enabled AND events LIKE $5 AND created_at <= $4 ON CONFLICT (id) DO NOTHING RETURNING id",
            key,
            event,
            body,
            float(at),
            f"%,{event},%",
        )
        return len(rows)

    async def due_webhook_deliveries(self, now: float, limit: int = 100) -> list[WebhookDelivery]:
        """Pending and due, the oldest due first."""
        rows = await self._db.fetch(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = 'pending' AND next_at <= $1"
            " ORDER BY next_at, id LIMIT $2",
            float(now),
            int(limit),
        )
        return [_delivery(r) for r in rows]

    async def record_webhook_attempt(
        self, delivery_id: str, *, status: str, next_at: float, http_status: int, error: str, at: float
    ) -> WebhookDelivery:
        """One more attempt of a pending delivery, and its state after it (ValueError for
        an unknown state; one already delivered or failed keeps its row)."""
        if status not in DELIVERY_STATES:
            raise ValueError(f"status: one of {', '.join(DELIVERY_STATES)}, not {status!r}")
        await self._db.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2, next_at = $3, last_status = $4,"
            " last_error = $5, done_at = $6 WHERE id = $1 AND status = 'pending'",
            delivery_id,
            status,
            float(next_at),
            int(http_status),
            error[:500],
            None if status == "pending" else float(at),
        )
        return await self.get_webhook_delivery(delivery_id)

    async def get_webhook_delivery(self, delivery_id: str) -> WebhookDelivery:
        rows = await self._db.fetch(f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1", delivery_id)
        if not rows:
            raise NotFound(f"webhook delivery {delivery_id!r}")
        return _delivery(rows[0])

    async def list_webhook_deliveries(
        self, *, subscription_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        """The latest first (created_at descending, then id)."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("subscription_id", subscription_id), ("status", status)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        args.append(int(limit))
        rows = await self._db.fetch(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries {clause}"
            f"ORDER BY created_at DESC, id DESC LIMIT ${len(args)}",
            *args,
        )
        return [_delivery(r) for r in rows]

    async def webhook_cursor(self, name: str) -> int | None:
        """How far (event log seq) `name` turned the log into deliveries; None at first."""
        value = await self._db.fetchval("SELECT seq FROM webhook_cursor WHERE name = $1", name)
        return None if value is None else int(value)

    async def set_webhook_cursor(self, name: str, seq: int) -> None:
        """Move the cursor forward (never back)."""
        await self._db.execute(
            "INSERT INTO webhook_cursor (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE"
            " SET seq = excluded.seq WHERE webhook_cursor.seq < excluded.seq",
            name,
            int(seq),
        )
