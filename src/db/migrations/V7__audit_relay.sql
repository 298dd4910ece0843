-- How far the audit trail has been relayed to topic <prefix>.audit: every row with an id up to
-- `position` is on the topic (some possibly twice). One row.
CREATE TABLE audit_relay (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position  bigint NOT NULL DEFAULT 0,
    relayed_at timestamptz
);
INSERT INTO audit_relay DEFAULT VALUES;
