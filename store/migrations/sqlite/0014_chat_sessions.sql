-- Customer chat (issue 18, item 2): one row per conversation started from the web
-- widget. The customer's browser holds a random token; only its SHA-256 is kept, so
-- the table cannot be used to take over a conversation. detached_at: the page went
-- away (a reload resumes within [chat] resume_s; after that the chat is ended once, by
-- whichever process sweeps first: chat/sessions.py).
CREATE TABLE IF NOT EXISTS chat_sessions (
    token_hash  TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL UNIQUE,
    queue       TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    customer_id TEXT NOT NULL DEFAULT '',
    address     TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL,
    detached_at REAL,
    ended_at    REAL,
    end_reason  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chat_sessions_detached ON chat_sessions (detached_at) WHERE ended_at IS NULL;
