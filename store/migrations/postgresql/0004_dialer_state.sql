-- The dialer's promises (issue 14): each campaign lead's dialing state and the
-- do-not-call lists, so a restart neither redials a lead early or from attempt 0 nor
-- forgets a customer's "do not call".
CREATE TABLE dialer_leads (
    campaign     TEXT NOT NULL,
    lead_id      TEXT NOT NULL,
    phone        TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    cycle        INTEGER NOT NULL DEFAULT 0,
    next_at      DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_outcome TEXT NOT NULL DEFAULT '',
    disposition  TEXT NOT NULL DEFAULT '',
    callback     BOOLEAN NOT NULL DEFAULT FALSE,
    call_id      TEXT NOT NULL DEFAULT '',
    details      JSONB NOT NULL DEFAULT '{}',
    updated_at   DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign, lead_id)
);

-- campaign '' is the global list
CREATE TABLE dnc (
    campaign TEXT NOT NULL DEFAULT '',
    number   TEXT NOT NULL,
    source   TEXT NOT NULL DEFAULT '',
    added_at DOUBLE PRECISION NOT NULL,
    added_by TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (campaign, number)
);
CREATE INDEX dnc_number ON dnc (number);
