-- An Idempotency-Key's attempt holds a lease while it produces its record, so a retry that
-- races it waits for its answer instead of producing a second record; `produced` once the
-- broker has acknowledged. A lease that runs out (an attempt that failed or died) is taken
-- over by the next retry, which produces the record under the same request id.
ALTER TABLE idempotency_keys
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN produced boolean NOT NULL DEFAULT false;
