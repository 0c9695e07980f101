-- Call recordings (issue 17): one per interaction (call id), the WAV the PBX writes
-- (MixMonitor) under [recording] dir. Deleted (file and row) when older than the
-- retention period (cti/recording_retention.py).
CREATE TABLE IF NOT EXISTS recordings (
    call_id    TEXT PRIMARY KEY,
    path       TEXT NOT NULL,
    agent_id   TEXT NOT NULL DEFAULT '',
    queue      TEXT NOT NULL DEFAULT '',
    started_at DOUBLE PRECISION NOT NULL,
    ended_at   DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS recordings_started_at ON recordings (started_at);
