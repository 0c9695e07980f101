-- A new leader logs the ends of the written tasks that ended lately (cti/live_tasks.py
-- restore): closed or abandoned while no leader ran, or logged by a leader killed before
-- its event log was written. Read by closed_at.
CREATE INDEX tasks_ended ON tasks (closed_at) WHERE closed_at IS NOT NULL;
