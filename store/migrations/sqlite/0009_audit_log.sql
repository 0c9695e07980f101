-- The audit log of admin actions (issue 16): who changed users, settings, routing,
-- tokens, customers and do-not-call lists, when and from where; append-only, read by
-- admins (GET /api/v1/audit). `seq` is the order they were written in.
CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      REAL NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT '{}',
    address TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
