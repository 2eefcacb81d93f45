-- A delta page (GET /v1/teams/{teamId}/sync?since=…) reads a team's changes by position
-- and needs only their kind and thing from each row.  With these in the primary key's
-- index, the page reads them from the index alone (an index-only scan) wherever the
-- visibility map says the log's pages are all visible, instead of one heap page per
-- change: a team's changes lie one to a page among every other team's.  One index as
-- before, each entry 18 bytes wider.  See docs/benchmarks.md (delta sync).
ALTER TABLE changes
    DROP CONSTRAINT changes_pkey,
    ADD CONSTRAINT changes_pkey PRIMARY KEY (team_id, txid, seq) INCLUDE (kind, entity_id);
