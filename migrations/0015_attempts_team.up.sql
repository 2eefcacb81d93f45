-- Every team-scoped table carries team_id, so that the tables can be distributed by team
-- (Citus: see "Sharding by team" in docs/operations.md, and test/check_sharding.py).
-- webhook_attempts was the one that reached its team only through its delivery.
ALTER TABLE webhook_attempts ADD COLUMN team_id uuid;
UPDATE webhook_attempts a SET team_id = d.team_id
  FROM webhook_deliveries d WHERE d.delivery_id = a.delivery_id;
ALTER TABLE webhook_attempts ALTER COLUMN team_id SET NOT NULL;
