-- Mail: whether a user's email is proven, the single-use tokens that mails carry (password
-- reset, email verification), and the outbox the mail.send job drains.

ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- A token is known by the keyed digest of its text only, like a session.  Using it sets
-- used_at, once: the statement that uses it matches only unused, unexpired rows.
CREATE TABLE email_tokens (
    token_digest bytea PRIMARY KEY,
    purpose      text        NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    user_id      uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    email        text        NOT NULL,  -- the address it was mailed to
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id) WHERE used_at IS NULL;
CREATE INDEX email_tokens_expires_idx ON email_tokens (expires_at);

-- The outbox: a mail is written in the transaction of the request that causes it, with its
-- mail.send job.  The body is sealed under a key derived from QUILL_SECRET (it may hold a
-- link with a token) and dropped once a mail server accepted the mail.
CREATE TABLE mail_outbox (
    mail_id    uuid PRIMARY KEY,
    kind       text        NOT NULL,
    user_id    uuid        REFERENCES users ON DELETE CASCADE,
    recipient  text        NOT NULL,
    subject    text        NOT NULL,
    body       bytea,
    state      text        NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'sent', 'held', 'failed')),
    attempts   integer     NOT NULL DEFAULT 0,
    last_error text,
    dedupe_key text UNIQUE, -- a job that queues a mail names itself, so a rerun queues none
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    sent_at    timestamptz
);
CREATE INDEX mail_outbox_created_idx ON mail_outbox (created_at DESC, mail_id DESC);
CREATE INDEX mail_outbox_user_idx ON mail_outbox (user_id);
CREATE INDEX mail_outbox_finished_idx ON mail_outbox (updated_at) WHERE state <> 'pending';
