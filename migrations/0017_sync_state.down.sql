DROP TABLE sync_tombstones;
DROP INDEX journal_entries_change_idx, prompts_change_idx, team_members_change_idx;
ALTER TABLE journal_entries DROP COLUMN change_txid, DROP COLUMN change_seq;
ALTER TABLE prompts DROP COLUMN change_txid, DROP COLUMN change_seq;
ALTER TABLE team_members DROP COLUMN change_txid, DROP COLUMN change_seq;
