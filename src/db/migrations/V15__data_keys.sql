-- The data keys that encrypt the personal fields of the Kafka records (src/vault): one per
-- registration and period (a month, JST), kept wrapped by a master key of the key ring
-- (`kek_id`), so that every API process seals a period's records with the same key. The
-- connectors never read this table: each record carries its wrapped key in a header.
-- A destroyed key (crypto-shredding, `kirikae keys destroy`) keeps its row without the key,
-- as the record of what was destroyed and when.
CREATE TABLE data_keys (
    company_code text NOT NULL,
    period text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    kek_id text NOT NULL,
    wrapped bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    PRIMARY KEY (company_code, period),
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);

CREATE INDEX data_keys_by_kek ON data_keys (kek_id) WHERE wrapped IS NOT NULL;
