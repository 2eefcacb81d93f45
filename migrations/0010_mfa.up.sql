-- Account security: what the sessions list shows of a session, TOTP enrolments, recovery
-- codes, and password logins waiting for their second factor.

-- Written once, with the session, at login (never per request): the sessions list shows
-- them.  last_seen_at is the session's "last used" (refreshed at most once a minute).
ALTER TABLE sessions
    ADD COLUMN user_agent text,   -- printable ASCII, at most 256 characters
    ADD COLUMN client_ip  text;   -- the address it logged in from (behind trusted proxies)
CREATE INDEX sessions_user_created_idx ON sessions (user_id, created_at DESC, session_id DESC);
DROP INDEX sessions_user_idx;     -- the index above serves every lookup by user

-- One TOTP enrolment per user (RFC 6238: HMAC-SHA-1, 6 digits, 30 s).  The secret is sealed
-- (XChaCha20-Poly1305 under a key derived from QUILL_SECRET) together with the user's id, so
-- it opens for this user only.  last_step is the newest 30-second step a code was accepted
-- for: a code of that step or an earlier one is a replay and is refused.
CREATE TABLE mfa_totp (
    user_id      uuid PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    secret       bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz,          -- NULL: waiting for its first code (not in force)
    last_step    bigint      NOT NULL DEFAULT 0
);

-- Single-use recovery codes, kept only as keyed digests (BLAKE2b under QUILL_SECRET).
CREATE TABLE mfa_recovery_codes (
    user_id     uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    code_digest bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (user_id, code_digest)
);

-- A right password of a user with MFA on opens one of these instead of a session: its
-- token (the mfaToken, known by its keyed digest only) is exchanged with a code for the
-- session.  It dies after 5 wrong codes; the purge.sessions job deletes expired ones.
CREATE TABLE mfa_challenges (
    token_digest bytea PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    failures     integer     NOT NULL DEFAULT 0
);
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id);
