-- Reverts 0002_journal.up.sql.
DROP TABLE idempotency_keys;
DROP TABLE journal_entries;
DROP TABLE prompts;
