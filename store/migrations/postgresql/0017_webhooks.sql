-- Webhooks (issue 20): the admins' subscriptions and the durable outbox, a row per
-- delivery (id = subscription id + ":" + the source's key, so publishing twice is
-- harmless), sent by webhooks/outbox.py with retries and kept as the delivery log.
-- `events` is ",name,name," (matched with LIKE when publishing). The cursor says how
-- far the event log was turned into deliveries.
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    secret     TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    created_by TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      DOUBLE PRECISION NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         DOUBLE PRECISION NOT NULL,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    done_at         DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_created ON webhook_deliveries (created_at);
CREATE TABLE IF NOT EXISTS webhook_cursor (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);
