-- Several Asterisks (issue 15): the PBX an agent's phone is on (a [[pbx]] name; '':
-- the first one configured).
ALTER TABLE users ADD COLUMN pbx TEXT NOT NULL DEFAULT '';
