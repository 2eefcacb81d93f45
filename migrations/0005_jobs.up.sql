-- The job engine: the queue itself, the daily prompt picks made by cron, and per-team
-- activity counts kept by event handlers.

CREATE TABLE jobs (
    job_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue        text NOT NULL DEFAULT 'default',
    kind         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',
    -- available: waiting for run_at; running: claimed by a worker; failed: an attempt failed,
    -- the next waits for run_at; succeeded, discarded (attempts exhausted), cancelled: final.
    state        text NOT NULL DEFAULT 'available'
                 CHECK (state IN ('available', 'running', 'failed', 'succeeded', 'discarded',
                                  'cancelled')),
    priority     integer NOT NULL DEFAULT 0,
    run_at       timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 25 CHECK (max_attempts > 0),
    unique_key   text,
    locked_by    text,
    locked_at    timestamptz,
    heartbeat_at timestamptz,
    progress     jsonb,
    errors       jsonb NOT NULL DEFAULT '[]',
    trace_id     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
-- Claims: runnable jobs in priority, then time order (a queue filter is applied on top).
CREATE INDEX jobs_claim_idx ON jobs (priority, run_at, job_id)
    WHERE state IN ('available', 'failed');
-- The rescuer: running jobs by their last heartbeat.
CREATE INDEX jobs_running_idx ON jobs (heartbeat_at) WHERE state = 'running';
-- Retention: finished jobs by age.
CREATE INDEX jobs_finished_idx ON jobs (finished_at)
    WHERE state IN ('succeeded', 'discarded', 'cancelled');
-- A unique key names one job for as long as the job exists (a cron tick keeps its key after
-- it ran, so a second leader cannot run the tick again).
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key) WHERE unique_key IS NOT NULL;
-- The operator API lists by state and kind.
CREATE INDEX jobs_state_idx ON jobs (state, job_id);

-- Today's prompt of each team (UTC day), picked at midnight by cron, or on first request
-- for a team created during the day, with the same deterministic choice.
CREATE TABLE daily_prompts (
    team_id   uuid NOT NULL REFERENCES teams ON DELETE CASCADE,
    day       date NOT NULL,
    prompt_id uuid NOT NULL REFERENCES prompts,
    picked_at timestamptz NOT NULL,
    PRIMARY KEY (team_id, day)
);

-- Counts kept by the activity.record event handler.
CREATE TABLE team_activity (
    team_id          uuid PRIMARY KEY REFERENCES teams ON DELETE CASCADE,
    entries_created  bigint NOT NULL DEFAULT 0,
    entries_updated  bigint NOT NULL DEFAULT 0,
    entries_deleted  bigint NOT NULL DEFAULT 0,
    members_added    bigint NOT NULL DEFAULT 0,
    members_removed  bigint NOT NULL DEFAULT 0,
    last_activity_at timestamptz
);
