-- Results pushed to the retailer (docs/push.md). `events`: every status change of a
-- registration's requests and intermediations, appended in the transaction that made the
-- change. Its id is the feed's cursor; appenders take one advisory lock until they commit, so
-- ids become visible in their order and a reader resuming after an id never misses a smaller
-- one committed later. One row per (registration, subject, generation, status): a redelivered
-- or replayed record that changes nothing appends nothing.
CREATE TABLE events (
    id            bigserial PRIMARY KEY,
    company_code  text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('request', 'intermediation')),
    subject_id    uuid NOT NULL,
    generation    integer NOT NULL DEFAULT 0,
    status        text NOT NULL,
    body          jsonb NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_code, subject_id, generation, status)
);
CREATE INDEX events_of ON events (company_code, id);

-- One HTTPS endpoint per registration. `delivered_through`: every event of the registration
-- up to this id is done (delivered, or given up and recorded as failed); the next one waits
-- until `next_attempt_at`, after `attempts` failures since `failing_since`.
CREATE TABLE webhooks (
    company_code       text PRIMARY KEY,
    url                text NOT NULL,
    secret             text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    delivered_through  bigint NOT NULL DEFAULT 0,
    attempts           integer NOT NULL DEFAULT 0,
    failing_since      timestamptz,
    next_attempt_at    timestamptz NOT NULL DEFAULT now()
);

-- Every delivery attempt, for the registration to see.
CREATE TABLE webhook_deliveries (
    id            bigserial PRIMARY KEY,
    company_code  text NOT NULL,
    event_id      bigint NOT NULL,
    attempt       integer NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
    http_status   integer,
    error         text,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (company_code, id DESC);
