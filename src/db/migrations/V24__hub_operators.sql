-- Issue 12: the hub operator's own role. An operator is a person of the hub's operating
-- organisation, not a user of any registration: its account is created at the CLI
-- (`kirikae operator add`), it signs in to the operator screens (/web/ops/) with a password
-- from a machine holding the hub's operator client certificate, and its sessions are rows
-- here, read on every request, so ending one (sign-out, `kirikae operator disable`, plain
-- SQL) holds on every process at once. Owner: src/accounts/operators.rs.
CREATE TABLE operators (
    operator_id   text PRIMARY KEY,
    name          text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    failed_logins integer NOT NULL DEFAULT 0,
    locked        boolean NOT NULL DEFAULT false,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE TABLE operator_sessions (
    token_sha256 bytea PRIMARY KEY,
    operator_id  text NOT NULL REFERENCES operators ON DELETE CASCADE,
    -- The fingerprint of the operator certificate the session was opened with: the session is
    -- honoured only on a connection presenting the same certificate.
    certificate  text NOT NULL,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX operator_sessions_by_operator ON operator_sessions (operator_id);
