-- A delta page reads things, not changes (issue 11).  Each journal entry, team prompt and
-- membership carries the position (txid, seq) of its last change, written by the statement
-- that makes the change, from the same sources as the log's positions (the writing
-- transaction's id and changes_seq).  A delta page after a position is then a walk of
-- each table's (team_id, change_txid, change_seq) index: one row per thing changed since,
-- in its state now, as a page of entries reads its index, instead of one primary-key
-- lookup per change in the log.  The log stays: consumers (activity counts, webhooks)
-- read it.
--
-- What is gone for good leaves a tombstone at the position of its removal: a membership
-- removed, an entry erased.  A soft-deleted entry or prompt is its own tombstone.  Both
-- are purged only below the floor (change_floor), where no cursor reads any more.
ALTER TABLE journal_entries
    ADD COLUMN change_txid xid8 NOT NULL DEFAULT '0',
    ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE prompts
    ADD COLUMN change_txid xid8 NOT NULL DEFAULT '0',
    ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE team_members
    ADD COLUMN change_txid xid8 NOT NULL DEFAULT '0',
    ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE sync_tombstones (
    team_id     uuid     NOT NULL,
    kind        smallint NOT NULL, -- 1 journal entry, 3 member (as in changes)
    entity_id   uuid     NOT NULL,
    change_txid xid8     NOT NULL DEFAULT pg_current_xact_id(),
    change_seq  bigint   NOT NULL DEFAULT nextval('changes_seq'),
    PRIMARY KEY (team_id, kind, entity_id)
);

-- Each thing as of its last change still in the log; older ones stay at (0, 0), below
-- every cursor that has not expired.  This rewrites every row of the three tables once:
-- on a large deployment, run it in a quiet hour.
UPDATE journal_entries e SET change_txid = c.txid, change_seq = c.seq
FROM (SELECT DISTINCT ON (entity_id) entity_id, txid, seq FROM changes WHERE kind = 1
      ORDER BY entity_id, txid DESC, seq DESC) c
WHERE e.journal_entry_id = c.entity_id;
UPDATE prompts p SET change_txid = c.txid, change_seq = c.seq
FROM (SELECT DISTINCT ON (entity_id) entity_id, txid, seq FROM changes WHERE kind = 2
      ORDER BY entity_id, txid DESC, seq DESC) c
WHERE p.prompt_id = c.entity_id;
UPDATE team_members m SET change_txid = c.txid, change_seq = c.seq
FROM (SELECT DISTINCT ON (team_id, entity_id) team_id, entity_id, txid, seq FROM changes
      WHERE kind = 3 ORDER BY team_id, entity_id, txid DESC, seq DESC) c
WHERE m.team_id = c.team_id AND m.user_id = c.entity_id;
INSERT INTO sync_tombstones (team_id, kind, entity_id, change_txid, change_seq)
SELECT DISTINCT ON (c.team_id, c.kind, c.entity_id) c.team_id, c.kind, c.entity_id, c.txid, c.seq
FROM changes c
WHERE (c.kind = 1 AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.journal_entry_id = c.entity_id))
   OR (c.kind = 3 AND NOT EXISTS (SELECT 1 FROM team_members m
                                  WHERE m.team_id = c.team_id AND m.user_id = c.entity_id))
ORDER BY c.team_id, c.kind, c.entity_id, c.txid DESC, c.seq DESC;

-- From now on every new row takes the position of the transaction that writes it.
ALTER TABLE journal_entries
    ALTER COLUMN change_txid SET DEFAULT pg_current_xact_id(),
    ALTER COLUMN change_seq SET DEFAULT nextval('changes_seq');
ALTER TABLE prompts
    ALTER COLUMN change_txid SET DEFAULT pg_current_xact_id(),
    ALTER COLUMN change_seq SET DEFAULT nextval('changes_seq');
ALTER TABLE team_members
    ALTER COLUMN change_txid SET DEFAULT pg_current_xact_id(),
    ALTER COLUMN change_seq SET DEFAULT nextval('changes_seq');

CREATE INDEX journal_entries_change_idx ON journal_entries (team_id, change_txid, change_seq);
CREATE INDEX prompts_change_idx ON prompts (team_id, change_txid, change_seq)
    WHERE team_id IS NOT NULL;
CREATE INDEX team_members_change_idx ON team_members (team_id, change_txid, change_seq);
CREATE INDEX sync_tombstones_change_idx ON sync_tombstones (team_id, change_txid, change_seq);
