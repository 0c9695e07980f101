-- Web: versioned settings documents (routing rules, queues, codes...), API tokens, callbacks.
CREATE TABLE settings_versions (
    section    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    author     TEXT NOT NULL DEFAULT '',
    comment    TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (section, version)
);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    login      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX api_tokens_login ON api_tokens (login);

CREATE TABLE callbacks (
    id          TEXT PRIMARY KEY,
    call_id     TEXT NOT NULL DEFAULT '',
    customer_id TEXT NOT NULL DEFAULT '',
    agent_id    TEXT NOT NULL DEFAULT '',
    number      TEXT NOT NULL DEFAULT '',
    due_at      DOUBLE PRECISION NOT NULL,
    notes       TEXT NOT NULL DEFAULT '',
    created_at  DOUBLE PRECISION NOT NULL,
    done        BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX callbacks_due ON callbacks (due_at);
