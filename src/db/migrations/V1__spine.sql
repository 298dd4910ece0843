-- Companies (registrations), their users, and logins.
CREATE TABLE companies (
    company_code  text PRIMARY KEY,
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('retailer', 'dr_contractor')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    user_id          text PRIMARY KEY,
    company_code     text NOT NULL REFERENCES companies,
    password_hash    text NOT NULL,
    failed_logins    integer NOT NULL DEFAULT 0,
    locked           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_login_at    timestamptz
);

-- A login's bearer token is stored only as its SHA-256.
CREATE TABLE sessions (
    token_sha256  bytea PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users ON DELETE CASCADE,
    company_code  text NOT NULL,
    expires_at    timestamptz NOT NULL
);

-- Status of every request, kept by the API (accepted) and the projector (everything after).
CREATE TABLE requests (
    request_id           uuid PRIMARY KEY,
    company_code         text NOT NULL,
    user_id              text NOT NULL,
    function             text NOT NULL,
    service_id           text NOT NULL,
    area                 text NOT NULL,
    point_id             text NOT NULL,
    update_flag          text NOT NULL,
    original_request_id  uuid,
    status               text NOT NULL,
    status_rank          smallint NOT NULL,
    code                 text,
    message              text,
    attempts             integer NOT NULL DEFAULT 0,
    result               jsonb,
    accepted_at          timestamptz NOT NULL,
    sent_at              timestamptz,
    finished_at          timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_by_company ON requests (company_code, accepted_at DESC, request_id DESC);
CREATE INDEX requests_by_point ON requests (company_code, point_id);

-- Idempotency-Key: a retried submission returns the first answer.
CREATE TABLE idempotency_keys (
    company_code  text NOT NULL,
    key           text NOT NULL,
    body_sha256   bytea NOT NULL,
    request_id    uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_code, key)
);

-- The projector's consumer positions, written in the same transaction as the rows they produced.
CREATE TABLE projector_offsets (
    topic        text NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
