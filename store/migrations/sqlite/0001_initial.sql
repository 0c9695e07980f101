-- Hotline initial schema (SQLite).
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at       REAL NOT NULL,
    kind     TEXT NOT NULL,
    call_id  TEXT NOT NULL DEFAULT '',
    agent_id TEXT NOT NULL DEFAULT '',
    payload  TEXT NOT NULL
);
CREATE INDEX events_at ON events (at, seq);
CREATE INDEX events_call ON events (call_id, seq) WHERE call_id <> '';

CREATE TABLE customers (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    company        TEXT NOT NULL DEFAULT '',
    tier           TEXT NOT NULL DEFAULT 'standard',
    email          TEXT NOT NULL DEFAULT '',
    account_number TEXT,
    phones         TEXT NOT NULL DEFAULT '[]',
    attributes     TEXT NOT NULL DEFAULT '{}',
    notes          TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX customers_account ON customers (account_number) WHERE account_number IS NOT NULL;

CREATE TABLE customer_phones (
    phone       TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    PRIMARY KEY (phone, customer_id)
);
CREATE INDEX customer_phones_customer ON customer_phones (customer_id);

CREATE TABLE interactions (
    id          TEXT PRIMARY KEY,
    direction   TEXT NOT NULL,
    queue       TEXT NOT NULL DEFAULT '',
    agent_id    TEXT NOT NULL DEFAULT '',
    customer_id TEXT NOT NULL DEFAULT '',
    caller      TEXT NOT NULL DEFAULT '',
    started_at  REAL NOT NULL,
    answered_at REAL,
    ended_at    REAL,
    outcome     TEXT NOT NULL DEFAULT '',
    disposition TEXT NOT NULL DEFAULT '',
    notes       TEXT NOT NULL DEFAULT '',
    attributes  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX interactions_customer ON interactions (customer_id, started_at DESC);
CREATE INDEX interactions_started ON interactions (started_at);

CREATE TABLE users (
    login          TEXT PRIMARY KEY,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    password_hash  TEXT NOT NULL DEFAULT '',
    team           TEXT NOT NULL DEFAULT '',
    skills         TEXT NOT NULL DEFAULT '{}',
    languages      TEXT NOT NULL DEFAULT '[]',
    phone_endpoint TEXT NOT NULL DEFAULT ''
);
