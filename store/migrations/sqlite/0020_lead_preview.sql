-- A preview shown to an agent is a promise to that agent (issue 14): the lead's row says
-- which agent reads it (status 'preview', call_id the preview's call), so a restart
-- offers the same lead to the same agent again instead of counting a failed attempt.
ALTER TABLE dialer_leads ADD COLUMN offered_to TEXT NOT NULL DEFAULT ''
