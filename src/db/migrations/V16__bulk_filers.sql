-- Bulk rows filed by services other than submissions (src/bulk/kind.rs, `Filer`): what the
-- filing answered beyond an id (a registration's 廃止取次番号, a decision's event and state),
-- and when a row's filing was first attempted, so a decision whose answer was lost in a crash
-- is recognised on the retry by its own event rather than refused as already decided.
ALTER TABLE bulk_rows ADD COLUMN outcome jsonb;
ALTER TABLE bulk_rows ADD COLUMN attempted_at timestamptz;
