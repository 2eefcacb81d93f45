-- The metered API: plans and monthly quotas, usage per calendar month (UTC), the log of
-- requests made with API keys, and the per-principal counts the API instances share for
-- their rate limits.  See core/usage/usage.h for how processes meter and docs/api.md for
-- what clients see.

-- The plan an operator set for a team; a team without a row has the default plan ("free",
-- with QUILL_FREE_MONTHLY_QUOTA requests a month).
CREATE TABLE subscriptions (
    team_id       uuid PRIMARY KEY REFERENCES teams (team_id) ON DELETE CASCADE,
    plan          text        NOT NULL,
    monthly_quota bigint      NOT NULL CHECK (monthly_quota >= 0),
    updated_at    timestamptz NOT NULL
);

-- One row per team and month.  reserved: units handed out to API processes, which spend
-- them one per request and give back what they did not spend; it never passes the quota
-- (a reservation that would is cut to what is left), so no more requests than the quota
-- can succeed in a month.  used: requests recorded (billed rows of request_log), which
-- is what GET .../subscription reports.  alerted: the 90 % alert of the month was raised
-- (the change log's event 9, in the transaction whose requests crossed the mark).
-- granted: what the latest reservation got, so that its UPDATE can return it.
CREATE TABLE usage_periods (
    team_id      uuid        NOT NULL REFERENCES teams (team_id) ON DELETE CASCADE,
    period_start timestamptz NOT NULL,
    reserved     bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    used         bigint      NOT NULL DEFAULT 0 CHECK (used >= 0),
    alerted      boolean     NOT NULL DEFAULT false,
    granted      bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, period_start)
);

-- Every request authenticated by an API key, written in batches by each quill-api (kept 30
-- days: the purge.requests job).  billed: it used a unit of the quota (false for requests
-- refused with 429).  Rows only ever arrive in time order, so a BRIN index serves the purge
-- at almost no cost per insert.
CREATE TABLE request_log (
    at          timestamptz NOT NULL,
    team_id     uuid        NOT NULL,
    api_key_id  uuid        NOT NULL,
    method      text        NOT NULL,
    route       text        NOT NULL,
    status      smallint    NOT NULL,
    duration_us integer     NOT NULL,
    billed      boolean     NOT NULL
);
CREATE INDEX request_log_at_idx ON request_log USING brin (at);

-- Rate limits across instances: each quill-api publishes, every ~200 ms, how many requests
-- it let through per principal in each wall-clock second, and reads the other instances'
-- counts back (adapters/http/ratelimit.h).  Losing it in a crash only forgets a few seconds
-- of counts, so it is not worth the WAL.
CREATE UNLOGGED TABLE rate_shares (
    principal uuid   NOT NULL,
    instance  uuid   NOT NULL,
    second    bigint NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (principal, instance, second)
);
CREATE INDEX rate_shares_second_idx ON rate_shares (second);
