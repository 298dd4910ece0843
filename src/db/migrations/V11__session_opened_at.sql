-- When each session opened, so a web session that slides its end forward on use (idle expiry,
-- src/accounts/sessions.rs `keep_alive`) never outlives `session_ttl_secs` from its sign-in.
ALTER TABLE sessions ADD COLUMN opened_at timestamptz NOT NULL DEFAULT now();
