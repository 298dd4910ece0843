-- Ending a user's sessions (disable, delete, reissue, password change: src/accounts/sessions.rs)
-- and the cascade when a user is deleted find them by user, not by token.
CREATE INDEX sessions_by_user ON sessions (user_id);
