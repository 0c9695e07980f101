-- Issue 15 (hot standby): every event the leader logs carries its term (the lease's
-- epoch; 0 for the web's own events and those logged before this migration), so a
-- report or an audit tells which leader acted.
ALTER TABLE events ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;

-- What a `hotline serve` that is not the leader hands to the leader's live loop: the
-- IVR's steps, hand-offs (with the caller's answers) and call-back requests of the
-- FastAGI sessions it ran. The leader takes each once (taken_epoch: by which term).
CREATE TABLE live_handoffs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    call_id     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    taken_epoch INTEGER
);
CREATE INDEX live_handoffs_pending ON live_handoffs (id) WHERE taken_epoch IS NULL;
