-- (IF NOT EXISTS: numbered 0007 on a development branch; a database migrated then has it)
-- One leader among the `hotline serve` processes (issue 15): the live loop runs where
-- this lease is held. `epoch` grows at each change of holder (or a holder's return after
-- its lease ran out): whatever a leader does carries it, so a deposed one is known.
-- Times are the database's clock (seconds since the epoch), not the servers'.
CREATE TABLE IF NOT EXISTS leader_lease (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    acquired_at DOUBLE PRECISION NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);
