-- Identity: users, sessions, teams and members, API keys, login throttling, rate counters,
-- and the append-only, hash-chained audit log.
-- Times are written by the application in whole milliseconds (the wire precision), so a
-- value read back formats exactly as it was written.

CREATE TABLE users (
    user_id       uuid PRIMARY KEY,
    email         text NOT NULL,          -- normalised: trimmed, lower-case
    display_name  text NOT NULL,
    password_hash text,                   -- NULL for users who only sign in through OIDC
    oidc_issuer   text,
    oidc_subject  text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    erased_at     timestamptz,
    CONSTRAINT users_oidc_pair CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_oidc_key ON users (oidc_issuer, oidc_subject) WHERE oidc_issuer IS NOT NULL;

-- A session is known by the keyed digest of its token only.
CREATE TABLE sessions (
    token_digest bytea PRIMARY KEY,
    session_id   uuid NOT NULL UNIQUE,
    user_id      uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,    -- refreshed at most once a minute (idle expiry)
    expires_at   timestamptz NOT NULL     -- absolute expiry
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE teams (
    team_id    uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz
);

CREATE TABLE team_members (
    team_id   uuid NOT NULL REFERENCES teams ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    role      text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_idx ON team_members (user_id);

CREATE TABLE api_keys (
    api_key_id   uuid PRIMARY KEY,
    team_id      uuid NOT NULL REFERENCES teams ON DELETE CASCADE,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('member', 'viewer')),
    prefix       text NOT NULL,           -- the first characters of the key, for recognition
    token_digest bytea NOT NULL UNIQUE,
    created_by   uuid,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,             -- refreshed at most once a minute
    revoked_at   timestamptz
);
CREATE INDEX api_keys_team_idx ON api_keys (team_id, created_at DESC);

-- Failed logins per normalised email, known account or not, so that throttling says
-- nothing about which accounts exist.
CREATE TABLE login_failures (
    email     text NOT NULL,
    failed_at timestamptz NOT NULL
);
CREATE INDEX login_failures_email_idx ON login_failures (email, failed_at);

-- Fixed-window counters shared by every API instance (per-address signup/login limits).
CREATE TABLE rate_counters (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- The audit log: one chain per team ('team:<uuid>') and one for account events
-- ('account').  Each row's hash is SHA-256 over the previous row's hash and the row's
-- canonical text (see audit_canonical); the head of each chain is kept in audit_heads,
-- whose row lock serialises appends to one chain without making chains wait for each other.
CREATE TABLE audit_heads (
    chain text PRIMARY KEY,
    seq   bigint NOT NULL,
    hash  bytea NOT NULL
);

CREATE TABLE audit_log (
    audit_id    uuid PRIMARY KEY,
    chain       text NOT NULL,
    seq         bigint NOT NULL,
    team_id     uuid,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL,
    UNIQUE (chain, seq)
);
CREATE INDEX audit_log_team_idx ON audit_log (team_id, at DESC, audit_id DESC) WHERE team_id IS NOT NULL;

-- The canonical text of a row: fields joined by newlines, time as epoch microseconds.
-- quill-admin audit-verify recomputes exactly this in C.
CREATE FUNCTION audit_canonical(r audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to(concat_ws(E'\n', r.chain, r.seq::text,
        (extract(epoch FROM r.at) * 1000000)::bigint::text, r.actor, r.action,
        r.target_type, r.target_id, r.audit_id::text), 'UTF8')
$$;

CREATE FUNCTION audit_chain_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head audit_heads;
BEGIN
    INSERT INTO audit_heads (chain, seq, hash) VALUES (NEW.chain, 0, '\x'::bytea)
        ON CONFLICT (chain) DO NOTHING;
    SELECT * INTO head FROM audit_heads WHERE chain = NEW.chain FOR UPDATE;
    NEW.seq := head.seq + 1;
    NEW.prev_hash := head.hash;
    NEW.hash := sha256(head.hash || audit_canonical(NEW));
    UPDATE audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = NEW.chain;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_chain_append();

CREATE FUNCTION audit_log_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
