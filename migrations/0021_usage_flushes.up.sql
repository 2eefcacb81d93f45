-- The last flush of each meter (adapters/http/meter_thread.c) that committed: its process
-- (instance_id, a UUID of one process's run) and its number.  A flush writes its mark in its
-- own transaction (core/usage/usage.c: ql_usage_record), so a retry of a flush whose COMMIT
-- landed but whose answer was lost finds its number here and is not counted twice.  One row
-- per process run; the daily purge of the request log drops marks older than the log keeps.
CREATE TABLE usage_flushes (
    instance_id uuid PRIMARY KEY,
    seq bigint NOT NULL,
    flushed_at timestamptz NOT NULL
);
