-- Issue 5, the user side: the person a user id was issued to, the administrator flag, the
-- password's life (forced change, history, lockout), automatic disabling, and permissions.
ALTER TABLE users
    ADD COLUMN name                  text NOT NULL DEFAULT '',
    ADD COLUMN mail                  text NOT NULL DEFAULT '',
    -- The registration's administrator: may issue and administer its users.
    ADD COLUMN administrator         boolean NOT NULL DEFAULT false,
    -- An initial (issued or reissued) password: every call but the change is refused.
    ADD COLUMN must_change_password  boolean NOT NULL DEFAULT false,
    -- Disabled by the administrator or for lack of use; login is refused until enabled.
    ADD COLUMN disabled              boolean NOT NULL DEFAULT false,
    -- When the administrator last enabled the account (counts as use for automatic disabling).
    ADD COLUMN enabled_at            timestamptz,
    -- The catalogue functions (slugs) the user may call; NULL: all the registration's kind allows.
    ADD COLUMN permissions           text[];

-- Argon2 hashes of a user's past passwords (the current one included), newest last: the last
-- N (setting `password_history`) cannot be chosen again.
CREATE TABLE password_history (
    id             bigserial PRIMARY KEY,
    user_id        text NOT NULL REFERENCES users ON DELETE CASCADE,
    password_hash  text NOT NULL,
    set_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_history_of ON password_history (user_id, id DESC);
CREATE INDEX users_of_company ON users (company_code, user_id);
