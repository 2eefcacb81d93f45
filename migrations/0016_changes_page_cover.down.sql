ALTER TABLE changes
    DROP CONSTRAINT changes_pkey,
    ADD CONSTRAINT changes_pkey PRIMARY KEY (team_id, txid, seq);
