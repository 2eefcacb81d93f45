ALTER TABLE webhook_attempts DROP COLUMN team_id;
