-- The reports' closed days (issue 20: reports at scale): each day's additive KPI tables
-- (reports/day_codec.py), for the whole center (view '') and each queue filter, folded
-- once for every web process and kept across restarts. `settings` names the KPI
-- settings they were folded with (thresholds, teams): a change of settings makes new
-- rows, the old ones are not read again. A rebuild from the event log replaces a row.
CREATE TABLE IF NOT EXISTS report_days (
    day       TEXT NOT NULL,
    view      TEXT NOT NULL,
    settings  TEXT NOT NULL,
    events    INTEGER NOT NULL,
    body      BYTEA NOT NULL,
    folded_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (settings, view, day)
);
