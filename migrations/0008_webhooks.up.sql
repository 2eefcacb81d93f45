-- Webhooks: a team's endpoints, the deliveries the fan-out consumer makes for them from the
-- change log, and every attempt of every delivery.
CREATE TABLE webhooks (
    webhook_id  uuid PRIMARY KEY,
    team_id     uuid        NOT NULL REFERENCES teams ON DELETE CASCADE,
    url         text        NOT NULL,
    events      text[]      NOT NULL,
    description text        NOT NULL DEFAULT '',
    secret      bytea       NOT NULL,  -- sealed under a key derived from QUILL_SECRET
    failures    integer     NOT NULL DEFAULT 0, -- failed attempts in a row
    created_at  timestamptz NOT NULL,
    disabled_at timestamptz,           -- after too many failures in a row
    deleted_at  timestamptz
);
CREATE INDEX webhooks_team_idx ON webhooks (team_id, created_at DESC, webhook_id DESC)
    WHERE deleted_at IS NULL;

-- One message to one endpoint: its id is the webhook-id header, the same on every attempt,
-- and its body is fixed when it is made, so every attempt sends the same bytes.
CREATE TABLE webhook_deliveries (
    delivery_id uuid PRIMARY KEY,
    webhook_id  uuid        NOT NULL REFERENCES webhooks ON DELETE CASCADE,
    team_id     uuid        NOT NULL,
    event       text        NOT NULL,
    body        text        NOT NULL,
    created_at  timestamptz NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    state       text        NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'succeeded', 'failed'))
);
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (webhook_id, created_at DESC);

CREATE TABLE webhook_attempts (
    delivery_id     uuid        NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
    attempt         integer     NOT NULL,
    webhook_id      uuid        NOT NULL,
    at              timestamptz NOT NULL,
    ok              boolean     NOT NULL,
    response_status integer,   -- NULL: no answer came
    error           text,      -- NULL: a 2xx answer
    duration_ms     integer     NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX webhook_attempts_hook_idx ON webhook_attempts (webhook_id, at DESC);
CREATE INDEX webhook_attempts_failed_idx ON webhook_attempts (at DESC) WHERE NOT ok;

-- The fan-out reads the change log from here on.
INSERT INTO change_consumers (name, txid, seq)
    VALUES ('webhooks', pg_snapshot_xmin(pg_current_snapshot()), 0);
