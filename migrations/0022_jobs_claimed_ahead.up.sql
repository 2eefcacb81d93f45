-- A job claimed ahead of a worker's runners (a batch of short jobs claimed while every
-- runner was busy) may never have started when its worker dies.  The rescuer then allows it
-- one more attempt (adapters/postgres/stmts.c, job_rescue); the claim sets this column.  Adding
-- a column with a constant default rewrites nothing.
ALTER TABLE jobs ADD COLUMN claimed_ahead boolean NOT NULL DEFAULT false;
