-- The change log of the seeded journal entries, and their positions, for the sync
-- benchmark (tools/bench/bench.sh, bench_sync): one "created" change (kind 1, event 1) per
-- entry, in the order the entries were made, as 1,000 transactions of 100 changes, the i-th
-- (i = 0..999) holding entries n = 100 i + 1 .. 100 i + 100, one of every team, as a busy
-- server's group commits would.  Each team's feed then holds 1,000 changes, in the order of
-- its entries.  Every consumer of the log (activity, webhooks) is moved past them: this
-- history counts as applied, so it is no backlog.
-- Runs in its own psql session after seed_quill.sql and seed_entries.sql.
CREATE FUNCTION pg_temp.seed_id(ms bigint, kind int, n int) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT (lpad(to_hex(ms), 12, '0') || '7' || lpad(to_hex(kind), 3, '0') || '8'
            || lpad(to_hex(n), 15, '0'))::uuid
$$;

-- One statement per transaction: psql runs each row of this query on its own (\gexec).
-- Each entry takes the position of its change, as the statement that writes an entry
-- gives it (migrations/0017_sync_state.up.sql): delta pages read the entries by it.
SELECT format('WITH c AS (INSERT INTO changes (team_id, kind, event, entity_id) '
              'SELECT pg_temp.seed_id(1767229200000 + 1000 * t, 2, t), 1, 1, '
              'pg_temp.seed_id(1767312000000 + 30000::bigint * n + (7919 * n) %% 1000, 3, n) '
              'FROM generate_series(%s, %s) AS n, LATERAL (SELECT (n - 1) %% 100 + 1 AS t) AS a '
              'ORDER BY n RETURNING txid, seq, entity_id) UPDATE journal_entries e '
              'SET change_txid = c.txid, change_seq = c.seq FROM c '
              'WHERE e.journal_entry_id = c.entity_id', 100 * i + 1, 100 * i + 100)
FROM generate_series(0, 999) AS i
\gexec

UPDATE change_consumers
SET (txid, seq) = (SELECT txid, seq FROM changes ORDER BY txid DESC, seq DESC LIMIT 1);
VACUUM ANALYZE changes;
VACUUM ANALYZE journal_entries;
