-- Reverts 0012_rights.up.sql (exports are lost; erased accounts stay erased).
DELETE FROM jobs WHERE kind IN ('export.build', 'account.erase', 'purge.exports');
DROP INDEX journal_entries_author_any_idx;
DROP TABLE export_parts;
DROP TABLE exports;
