-- Issue 5, the rest of the terms: the company behind a registration, contractors (受託者),
-- notices (インフォメーション), and an audit trail that names the contractor and certificate and
-- cannot be changed.

-- 法人番号 of the company a registration belongs to. A company that sells and also runs demand
-- response has two registrations (terms 2.1.1), one of each kind, each with its own code,
-- administrator, certificates and users; never two of the same kind.
ALTER TABLE companies ADD COLUMN corporate_number text;
CREATE UNIQUE INDEX companies_one_per_kind ON companies (corporate_number, kind)
    WHERE corporate_number IS NOT NULL;

-- A contractor a registration lets act for it (terms 2.3). Its users are users of the
-- registration, marked with the contractor; what they do counts as the registration's.
-- Revoking keeps the row (the audit trail names it) and refuses its users at once.
CREATE TABLE contractors (
    company_code      text NOT NULL REFERENCES companies,
    corporate_number  text NOT NULL,
    name              text NOT NULL,
    authorised_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz,
    PRIMARY KEY (company_code, corporate_number)
);

ALTER TABLE users ADD COLUMN contractor text;
ALTER TABLE users ADD FOREIGN KEY (company_code, contractor)
    REFERENCES contractors (company_code, corporate_number);

-- Who acted for the registration (a contractor's corporate number) and from which client
-- certificate (its SHA-256 fingerprint); NULL for the operator at the CLI and the hub's jobs.
ALTER TABLE audit_log
    ADD COLUMN contractor   text,
    ADD COLUMN certificate  text;

-- The trail is append-only for everyone, the hub's own role included: an UPDATE, DELETE or
-- TRUNCATE fails. (Removing rows after the retention period is a database administrator's act
-- that drops this trigger first, on purpose and visibly.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- インフォメーション: notices the hub operator publishes, read by every registration's users.
CREATE TABLE notices (
    id            bigserial PRIMARY KEY,
    published_at  timestamptz NOT NULL DEFAULT now(),
    title         text NOT NULL,
    body          text NOT NULL,
    -- A change of the terms of use: also mailed to every registration's contact (terms 1.3.3).
    terms_change  boolean NOT NULL DEFAULT false,
    published_by  text NOT NULL
);

-- Which user has opened which notice (the list shows the unread ones).
CREATE TABLE notice_reads (
    notice_id  bigint NOT NULL REFERENCES notices,
    user_id    text NOT NULL REFERENCES users ON DELETE CASCADE,
    read_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (notice_id, user_id)
);

-- The mail of a terms change to one registration's contact: written with the notice, in the
-- same transaction, and sent by the notice mailer until `sent_at` is set, so a mail server that
-- is down delays the mail but never drops it. `due_at` is the end of the period the terms give.
CREATE TABLE notice_mails (
    notice_id     bigint NOT NULL REFERENCES notices,
    company_code  text NOT NULL REFERENCES companies,
    address       text NOT NULL,
    due_at        timestamptz NOT NULL,
    sent_at       timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    PRIMARY KEY (notice_id, company_code)
);
CREATE INDEX notice_mails_unsent ON notice_mails (due_at) WHERE sent_at IS NULL;
