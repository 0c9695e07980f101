-- API tokens with an expiry and scopes (issue 16). `expires_at` 0 means never (a token
-- made by a script through the store); `scopes` is a JSON list of "read", "agent",
-- "admin" (web.security.SCOPES). The tokens made before this migration keep what they
-- could do (admin: all their role allows) and expire 90 days after it.
ALTER TABLE api_tokens ADD COLUMN expires_at REAL NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '["admin"]';
UPDATE api_tokens SET expires_at = CAST(strftime('%s', 'now') AS REAL) + 90 * 86400 WHERE NOT revoked;
