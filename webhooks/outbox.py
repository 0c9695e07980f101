"""The webhook worker: turns the event log into deliveries and sends the deliveries due.

Run by every web process; the store lease `webhooks` lets one at a time work (the
others wait to take over), so a delivery is not sent twice at once. Nothing here runs
in the live loop: the loop writes the event log as always and this worker reads it
behind, from a cursor kept in the store (a restart goes on where it was; a delivery
published twice is one row, store/webhooks.py). A delivery is sent until the receiver
answers 2xx, with backoff between attempts, then given up after `max_attempts`: at
least once, with the delivery id (`Hotline-Delivery`) for the receiver to drop repeats.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog

from config.webhooks import WebhooksConfig
from reports.alert_log import alert_key
from store.models import Callback
from store.port import Store
from store.webhooks import WebhookDelivery, WebhookSubscription
from webhooks.events import ALERT_RAISED, CALLBACK_SCHEDULED, LOG_KINDS, from_log
from webhooks.signing import HEADER, sign
from webhooks.targets import GuardedResolver, RefusedTarget, check_url, networks

log = structlog.get_logger()

LEASE = "webhooks"
CURSOR = "event-log"
DAY_S = 86400.0


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """The wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base... capped."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


async def publish_callback(store: object, cb: Callback) -> None:
    """`callback.scheduled` for a promise just stored (a failure is logged, never raised:
    the promise itself is kept either way). A store without webhooks (the in-memory one
    of the simulator and tests) has none to publish."""
    from web.callbacks import callback_json  # (the body is the call-back API's own row)

    publish = getattr(store, "publish_webhook", None)
    if publish is None:
        return
    try:
        await publish(CALLBACK_SCHEDULED, f"callback.{cb.id}", callback_json(cb), cb.created_at)
    except Exception:
        log.exception("webhook_publish_failed", webhook_event=CALLBACK_SCHEDULED, callback_id=cb.id)


class WebhookWorker:
    def __init__(
        self,
        store: Store,
        config: WebhooksConfig,
        clock: Callable[[], float],
        alerts: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        """`alerts`: the wallboard's alerts now (reports/alerts.py), read each round:
        one newly there is `alert.raised`."""
        self.store = store
        self.alerts = alerts
        self._raised: set[tuple[str, str]] | None = None
        self.config = config
        self.clock = clock
        self.holder = f"webhooks-{uuid.uuid4().hex[:12]}"
        self.allowed = networks(config.allow_private)
        self.sent = 0

    async def run(self) -> None:
        """Until cancelled: while this process holds the lease, publish and send."""
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.allowed), limit=self.config.concurrency)
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as http:
            try:
                while True:
                    try:
                        await self.round(http)
                    except Exception:
                        log.exception("webhook_worker_failed")
                    await asyncio.sleep(self.config.poll_s)
            finally:
                try:
                    await self.store.release_lease(LEASE, self.holder)
                except Exception as exc:  # noqa: BLE001 - the lease runs out by itself
                    log.warning("webhook_lease_not_released", error=type(exc).__name__)

    async def round(self, http: aiohttp.ClientSession) -> None:
        """One round. With no subscription only the cursor follows the log (no lease, no
        writes while the log does not move); else the lease holder publishes and sends."""
        if not await self.store.list_webhooks():
            await self.store.set_webhook_cursor(CURSOR, await self.store.last_seq())
            self._raised = None
            return
        lease = await self.store.claim_lease(LEASE, self.holder, max(5.0, 3 * self.config.poll_s))
        if lease.held_by(self.holder):
            await self.publish_from_log()
            await self.publish_alerts()
            await self.send_due(http)

    async def publish_from_log(self) -> int:
        """The logged events after the cursor that a subscription wants, as deliveries;
        the cursor moves past them. At the very first run the cursor starts at the log's
        end (history is not sent)."""
        store = self.store
        cursor = await store.webhook_cursor(CURSOR)
        head = await store.last_seq()
        if cursor is None:
            await store.set_webhook_cursor(CURSOR, head)
            return 0
        if head <= cursor:
            return 0
        wanted = {e for sub in await store.list_webhooks() if sub.enabled for e in sub.events}
        published = 0
        if wanted:
            end = self.clock() + DAY_S
            async for stored in store.iter_events(0.0, end, after_seq=cursor, kinds=LOG_KINDS, page=500):
                if stored.seq > head:
                    break
                mapped = from_log(stored.event)
                if mapped is not None and mapped[0] in wanted:
                    name, body = mapped
                    published += await store.publish_webhook(name, f"log.{stored.seq}", body, stored.event.at)
        await store.set_webhook_cursor(CURSOR, head)
        return published

    @property
    def alerts_known(self) -> bool:
        """Whether a round with subscriptions has taken the alerts up then as known (an
        alert raised after it is sent)."""
        return self._raised is not None

    async def publish_alerts(self) -> int:
        """The alerts raised since the last round with subscriptions (those up at the first
        such round are taken as known: a restart does not raise them again; an alert
        raised while no subscription existed is not sent)."""
        if self.alerts is None:
            return 0
        now = self.clock()
        current = {alert_key(a): a for a in self.alerts()}
        known, self._raised = self._raised, set(current)
        if known is None:
            return 0
        published = 0
        for (subject, rule), alert in sorted(current.items()):
            if (subject, rule) not in known:
                published += await self.store.publish_webhook(
                    ALERT_RAISED, f"alert.{subject}.{rule}.{now:.3f}", alert, now
                )
        return published

    async def send_due(self, http: aiohttp.ClientSession) -> int:
        """Send every delivery due (a batch at a time, a few at once); how many were sent."""
        due = await self.store.due_webhook_deliveries(self.clock(), limit=100)
        if not due:
            return 0
        subs = {s.id: s for s in await self.store.list_webhooks()}
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(d: WebhookDelivery) -> None:
            async with gate:
                await self.send(http, d, subs.get(d.subscription_id))

        await asyncio.gather(*(one(d) for d in due))
        return len(due)

    async def send(self, http: aiohttp.ClientSession, d: WebhookDelivery, sub: WebhookSubscription | None) -> None:
        if sub is None or not sub.enabled:
            reason = "subscription deleted" if sub is None else "subscription disabled"
            await self._record(d, "failed", 0, reason)
            return
        try:
            check_url(sub.url, self.allowed)
        except RefusedTarget as exc:
            await self._record(d, "failed", 0, str(exc))
            return
        body = json.dumps({"id": d.id, **json.loads(d.payload)}, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Hotline-Webhooks/1",
            "Hotline-Event": d.event,
            "Hotline-Delivery": d.id,
            HEADER: sign(sub.secret, body, int(self.clock())),
        }
        try:
            async with http.post(sub.url, data=body, headers=headers, allow_redirects=False) as r:
                status = r.status
                await r.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self._record(d, "retry", 0, f"{type(exc).__name__}: {exc}"[:300])
            return
        if 200 <= status < 300:
            self.sent += 1
            await self._record(d, "delivered", status, "")
        else:
            await self._record(d, "retry", status, f"HTTP {status}")

    async def _record(self, d: WebhookDelivery, outcome: str, http_status: int, error: str) -> None:
        now = self.clock()
        attempts = d.attempts + 1
        if outcome == "retry":
            outcome = "failed" if attempts >= self.config.max_attempts else "pending"
        next_at = now + backoff_s(attempts, self.config.backoff_s, self.config.backoff_max_s)
        await self.store.record_webhook_attempt(
            d.id, status=outcome, next_at=next_at, http_status=http_status, error=error, at=now
        )
        log.info(
            "webhook_attempt",
            delivery=d.id,
            webhook_event=d.event,
            status=outcome,
            http_status=http_status,
            attempts=attempts,
            error=error,
        )
