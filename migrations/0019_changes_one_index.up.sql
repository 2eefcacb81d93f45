-- Nothing reads the change log by team any more: since 0017 a delta page and a live
-- stream read the things themselves, and the log's own readers (the consumers, compaction)
-- read it in global order, by position.  So the log needs one index, not two: the primary
-- key becomes (txid, seq, team_id), which serves the consumers' order as
-- changes_order_idx did, and changes_order_idx goes.  team_id stays in the key so that
-- the table can still be distributed by team (docs/operations.md, "Sharding by team").
-- Each change then costs one index insert instead of two, at the index's right edge
-- instead of inside its team's range: the group commit's change rows insert about 1.4
-- times as fast (docs/benchmarks.md).  The key is rebuilt under an exclusive lock on the
-- log, which retention keeps to QUILL_CHANGE_RETENTION_HOURS of changes.
ALTER TABLE changes
    DROP CONSTRAINT changes_pkey,
    ADD CONSTRAINT changes_pkey PRIMARY KEY (txid, seq, team_id);
DROP INDEX changes_order_idx;
