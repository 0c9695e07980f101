-- Tasks (issue 18): every routed contact but the live calls (chat, e-mail, web
-- call-back) is a row here from the moment it is opened (tasks/desk.py) until it is
-- closed or abandoned; the leader's router offers the open ones (cti/live_tasks.py) and
-- recovers them from here at start. `message_count` numbers each task's messages.
CREATE TABLE tasks (
    task_id           TEXT PRIMARY KEY,
    channel           TEXT NOT NULL,
    queue             TEXT NOT NULL,
    customer_id       TEXT,
    subject           TEXT NOT NULL DEFAULT '',
    attrs             TEXT NOT NULL DEFAULT '{}',
    created_at        DOUBLE PRECISION NOT NULL,
    due_at            DOUBLE PRECISION,
    state             TEXT NOT NULL DEFAULT 'waiting',
    agent_id          TEXT,
    skills            TEXT NOT NULL DEFAULT '{}',
    priority          INTEGER NOT NULL DEFAULT 0,
    target_agent      TEXT,
    offered_at        DOUBLE PRECISION,
    assigned_at       DOUBLE PRECISION,
    first_response_at DOUBLE PRECISION,
    closed_at         DOUBLE PRECISION,
    disposition       TEXT NOT NULL DEFAULT '',
    notes             TEXT NOT NULL DEFAULT '',
    outcome           TEXT NOT NULL DEFAULT '',
    updated_at        DOUBLE PRECISION NOT NULL DEFAULT 0,
    message_count     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_open ON tasks (state, created_at);
CREATE INDEX tasks_customer ON tasks (customer_id, created_at);
CREATE INDEX tasks_created ON tasks (created_at);

-- A task's transcript: seq counts from 1 per task in the order stored.
CREATE TABLE task_messages (
    message_id TEXT PRIMARY KEY,
    task_id    TEXT NOT NULL REFERENCES tasks (task_id),
    seq        INTEGER NOT NULL,
    direction  TEXT NOT NULL,
    author     TEXT NOT NULL DEFAULT '',
    text       TEXT NOT NULL DEFAULT '',
    html       TEXT,
    meta       TEXT NOT NULL DEFAULT '{}',
    at         DOUBLE PRECISION NOT NULL,
    UNIQUE (task_id, seq)
);
