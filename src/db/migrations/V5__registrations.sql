-- Issue 5, the registration side: a company's registration (one row of `companies`, still keyed
-- by company code: one registration per code, see docs/registrations.md), its administrator,
-- its status, its client certificates, and the hub's maintenance windows.
ALTER TABLE companies
    ADD COLUMN contact_email  text,
    -- The registration's one administrator ID, issued once (`kirikae company issue-admin`).
    ADD COLUMN admin_user_id  text UNIQUE,
    -- 利用の中断 (suspended) and 利用契約の終了 (ended) refuse every call; the data is kept.
    ADD COLUMN status         text NOT NULL DEFAULT 'active'
                              CHECK (status IN ('active', 'suspended', 'ended')),
    ADD COLUMN status_changed_at timestamptz;

-- One row per client machine's certificate, by the SHA-256 of its DER. A request is accepted
-- only with a certificate registered to the user's registration and valid now; two may overlap.
CREATE TABLE client_certificates (
    fingerprint    text PRIMARY KEY,
    company_code   text NOT NULL REFERENCES companies,
    subject        text NOT NULL,
    not_before     timestamptz NOT NULL,
    not_after      timestamptz NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX client_certificates_of ON client_certificates (company_code);

-- Planned closures of the API: while now() is in [starts_at, ends_at) and the window was not
-- stopped, every API call answers 503 with the planned end.
CREATE TABLE maintenance (
    id          bigserial PRIMARY KEY,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    message     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at  timestamptz,
    CHECK (ends_at > starts_at)
);
CREATE INDEX audit_log_of_company ON audit_log (company_code, at);
