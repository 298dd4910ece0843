-- The failed requests awaiting a replay, per area (kirikae_dlq_depth): a small partial index, so
-- the gauge's count reads only the failed rows however many requests the table holds.
CREATE INDEX requests_failed_by_area ON requests (area) WHERE status = 'failed';
