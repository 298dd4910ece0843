-- Bulk CSV applications (src/bulk): a batch is an uploaded file, checked row by row before
-- anything is filed; its rows are stored at upload, so confirming files exactly what was
-- previewed, and a filing job that stops half way resumes from the rows still pending.
CREATE TABLE bulk_batches (
    batch_id      uuid PRIMARY KEY,
    company_code  text NOT NULL,
    -- Who uploaded it; the filing acts as the user who confirmed it.
    user_id       text NOT NULL,
    -- The single function each row is filed as (its catalogue slug).
    kind          text NOT NULL,
    encoding      text NOT NULL,
    rows_total    integer NOT NULL,
    rows_bad      integer NOT NULL,
    state         text NOT NULL CHECK (state IN ('previewed', 'confirmed', 'filed')),
    only_good     boolean NOT NULL DEFAULT false,
    confirmed_by  text,
    certificate   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    filed_at      timestamptz
);
CREATE INDEX bulk_batches_by_company ON bulk_batches (company_code, created_at DESC);
CREATE INDEX bulk_batches_to_file ON bulk_batches (confirmed_at) WHERE state = 'confirmed';

-- One line of a batch: the application it becomes (body), or why the line is bad; once filed,
-- its request id, or the refusal the filing met.
CREATE TABLE bulk_rows (
    batch_id         uuid NOT NULL REFERENCES bulk_batches ON DELETE CASCADE,
    line             integer NOT NULL,
    supply_point_id  text NOT NULL,
    body             jsonb,
    bad_column       text,
    bad_code         text,
    bad_ja           text,
    bad_en           text,
    request_id       uuid,
    refusal_code     text,
    refusal_ja       text,
    refusal_en       text,
    PRIMARY KEY (batch_id, line)
);
CREATE INDEX bulk_rows_pending ON bulk_rows (batch_id, line)
    WHERE body IS NOT NULL AND request_id IS NULL AND refusal_code IS NULL;
