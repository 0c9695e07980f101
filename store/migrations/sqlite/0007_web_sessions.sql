-- Server-side web sessions (issue 16): the cookie carries a random id whose SHA-256 is
-- this row's key; the user and role are read from `users` at each request, so a
-- logout, password or role change, disable or "sign out everywhere" (rows deleted)
-- takes effect at once on every server process.
CREATE TABLE web_sessions (
    id           TEXT PRIMARY KEY,
    login        TEXT NOT NULL,
    created_at   REAL NOT NULL,
    last_seen_at REAL NOT NULL
);
CREATE INDEX web_sessions_login ON web_sessions (login);

ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
