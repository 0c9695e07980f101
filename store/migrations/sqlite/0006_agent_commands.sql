-- Agent commands are promises (issue 14): the web keeps each one before it asks the
-- live loop to apply it, and the live loop writes its answer; a command sent while
-- the live loop is down is applied when it is back (or expires), a retry of the same
-- request id finds the first answer. `seq` is the order they were kept in.
CREATE TABLE agent_commands (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT NOT NULL UNIQUE,
    agent_id    TEXT NOT NULL,
    body        TEXT NOT NULL DEFAULT '{}',
    created_at  DOUBLE PRECISION NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    error       TEXT NOT NULL DEFAULT '',
    answered_at DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX agent_commands_pending ON agent_commands (seq) WHERE state = 'pending';
CREATE INDEX agent_commands_answered ON agent_commands (answered_at) WHERE state <> 'pending';
