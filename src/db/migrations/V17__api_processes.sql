-- Issue 11: the per-registration rate limit holds across API processes. Each API process
-- announces itself here and refreshes its row every few seconds; each takes an equal share
-- of the limit among the processes seen recently. `peers` is how many it shares with now
-- (written after it has taken that share), which lets an operator, and a test, see it.
CREATE TABLE api_processes (
    process_id  uuid PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now(),
    peers       integer NOT NULL DEFAULT 1
);
