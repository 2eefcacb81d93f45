CREATE INDEX changes_order_idx ON changes (txid, seq);
ALTER TABLE changes
    DROP CONSTRAINT changes_pkey,
    ADD CONSTRAINT changes_pkey PRIMARY KEY (team_id, txid, seq) INCLUDE (kind, entity_id);
