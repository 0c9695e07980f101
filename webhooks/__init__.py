"""Signed webhooks (issue 20): admins subscribe a URL to chosen events; each event is a
row in the store's outbox (store/webhooks.py) before anything is sent, then POSTed,
signed with the subscription's secret, retried with backoff until delivered (at least
once, with an idempotency id) or given up, by one process at a time (a lease), away
from the live loop.

- `events`: which events there are and what each one's body says (pure);
- `signing`: the `Hotline-Signature` header (HMAC-SHA256 over timestamp and body);
- `targets`: which URLs may be called (no private or loopback address unless allowed);
- `outbox`: the worker: the event log turned into deliveries, deliveries sent.
"""
