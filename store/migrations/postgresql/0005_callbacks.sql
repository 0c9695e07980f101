-- Call-backs are promises the live loop keeps (cti/live_callbacks.py): what to queue
-- (queue, skills, priority, attributes), where the promise stands (state, attempts,
-- outcome) and when the caller first waited (arrived_at, the router's wait).
ALTER TABLE callbacks ADD COLUMN queue TEXT NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN skills TEXT NOT NULL DEFAULT '{}';
ALTER TABLE callbacks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE callbacks ADD COLUMN kind TEXT NOT NULL DEFAULT 'scheduled';
ALTER TABLE callbacks ADD COLUMN state TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE callbacks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN arrived_at DOUBLE PRECISION NOT NULL DEFAULT 0;
UPDATE callbacks SET state = 'done' WHERE done;
CREATE INDEX callbacks_open ON callbacks (state, due_at);
