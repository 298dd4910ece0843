-- The replay generation of each request: 0 as submitted, n after its n-th replay from the
-- dead-letter topic. A newer generation resets the status; results of older ones are ignored.
ALTER TABLE requests ADD COLUMN replay integer NOT NULL DEFAULT 0;
