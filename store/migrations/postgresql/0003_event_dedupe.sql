-- Idempotent event appends: a writer that cannot tell whether its batch committed
-- (the connection died on the way back) re-sends it with the same keys.
ALTER TABLE events ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX events_dedupe ON events (dedupe_key) WHERE dedupe_key IS NOT NULL;
