-- E-mail (issue 18, item 3; mail/store.py). Every mail of a thread, in or out, by its
-- Message-ID: a reply's In-Reply-To/References find the thread's task.
CREATE TABLE IF NOT EXISTS mail_threads (
    message_id TEXT PRIMARY KEY,
    task_id    TEXT NOT NULL,
    direction  TEXT NOT NULL,
    address    TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL DEFAULT '',
    at         REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_threads_task ON mail_threads (task_id, at);
-- The durable outbox: one row per agent reply (id = the task message's id), its
-- Message-ID fixed before the first attempt; sent exactly once (mail/outbox.py).
CREATE TABLE IF NOT EXISTS mail_outbox (
    id          TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL,
    message_id  TEXT NOT NULL UNIQUE,
    mail_from   TEXT NOT NULL,
    rcpt        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    in_reply_to TEXT NOT NULL DEFAULT '',
    refs        TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'queued',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     REAL NOT NULL,
    created_at  REAL NOT NULL,
    sent_at     REAL,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (state, next_at);
-- Attachments of received mail: the file under [mail] attachments_dir (by its sha256).
CREATE TABLE IF NOT EXISTS mail_attachments (
    id           TEXT PRIMARY KEY,
    task_id      TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    content_id   TEXT NOT NULL DEFAULT '',
    at           REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_attachments_task ON mail_attachments (task_id);
