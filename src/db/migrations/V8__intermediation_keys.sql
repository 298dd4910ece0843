-- A registration's Idempotency-Key: the retry of a registration with the same key and body is
-- the same registration (same id, event id, time, number and expiry, so producing it again is
-- a duplicate the projector ignores); with another body it is refused. Its own table, not the
-- submissions' `idempotency_keys`, whose `request_id` names a request row.
CREATE TABLE intermediation_keys (
    company_code           text NOT NULL,
    key                    text NOT NULL,
    body_sha256            bytea NOT NULL,
    intermediation_id      uuid NOT NULL,
    event_id               uuid NOT NULL,
    intermediation_number  text NOT NULL,
    registered_at          timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_code, key)
);

-- One open intermediation per point and new retailer: a second registration while one awaits
-- a decision is refused (src/intermediation/commands.rs). The index, not a SELECT first, is what
-- makes two concurrent registrations give one. (Creating it fails on a database that already
-- holds two open ones of a point from one retailer: withdraw the extra ones, or let them expire,
-- before migrating.)
CREATE UNIQUE INDEX intermediations_one_open ON intermediations (point_id, new_retailer_code)
    WHERE state = 'awaiting_decision';
