-- Feature flags: a global switch and a percentage rollout per flag, and per-team overrides.
-- quill-api reads them through a per-process cache that NOTIFY quill_flags keeps coherent
-- (every write below is followed by one in its transaction).
CREATE TABLE feature_flags (
    flag_id         uuid PRIMARY KEY,
    key             text        NOT NULL UNIQUE
                    CHECK (key ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    description     text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
    enabled         boolean     NOT NULL DEFAULT false, -- on for every team
    rollout_percent integer     NOT NULL DEFAULT 0 CHECK (rollout_percent BETWEEN 0 AND 100),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- One team's override of a flag: on or off whatever the flag's switch and rollout say.
CREATE TABLE feature_flag_teams (
    team_id    uuid        NOT NULL REFERENCES teams ON DELETE CASCADE,
    flag_id    uuid        NOT NULL REFERENCES feature_flags ON DELETE CASCADE,
    enabled    boolean     NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (team_id, flag_id)
);
-- the operator's list of a flag's overrides
CREATE INDEX feature_flag_teams_flag_idx ON feature_flag_teams (flag_id, team_id);
