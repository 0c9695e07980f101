-- A new leader logs the steps of the written tasks an earlier leader may not have logged
-- (cti/live_tasks.py): the ends of those that ended lately (closed or abandoned while no
-- leader ran, or under a leader killed before its event log was written), read by
-- closed_at; and a missed offer (ring-no-answer): the row back in line names the agent
-- who missed its last offer (missed_by; '' once offered again).
CREATE INDEX tasks_ended ON tasks (closed_at) WHERE closed_at IS NOT NULL;
ALTER TABLE tasks ADD COLUMN missed_by TEXT NOT NULL DEFAULT '';
