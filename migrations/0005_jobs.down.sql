-- Reverts 0005_jobs.up.sql.
DROP TABLE team_activity;
DROP TABLE daily_prompts;
DROP TABLE jobs;
