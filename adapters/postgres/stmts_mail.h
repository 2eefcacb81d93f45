/*
 * stmts_mail.h - the statements of the outbox and of mailed tokens, as entries of the
 * statement table in stmts.c (included inside its initializer; see stmts_changes.h).  Not a
 * header to include anywhere else.
 */
#define QL__PG_MAIL_COLS                                                                           \
    "mail_id, kind, user_id, recipient, subject, body, state, attempts, last_error, "              \
    "dedupe_key, created_at, updated_at, sent_at"
#define QL__PG_TOKEN_COLS "token_digest, purpose, user_id, email, created_at, expires_at, used_at"
[QL__ST_MAIL_INSERT] = {"mail_insert",
                        "INSERT INTO mail_outbox (mail_id, kind, user_id, recipient, subject, "
                        "body, state, dedupe_key, created_at, updated_at) VALUES ($1, $2, $3, "
                        "$4, $5, $6, $7, $8, $9, $10) ON CONFLICT (dedupe_key) DO NOTHING",
                        10},
    [QL__ST_MAIL_GET] = {"mail_get",
                         "SELECT " QL__PG_MAIL_COLS " FROM mail_outbox WHERE mail_id = $1", 1},
    [QL__ST_MAIL_RECORD] =
        {"mail_record",
         "UPDATE mail_outbox SET state = $2, last_error = $3, attempts = attempts + $4::int, "
         "updated_at = $5, sent_at = CASE WHEN $2 = 'sent' THEN $5 ELSE sent_at END, body = "
         "CASE WHEN $2 = 'sent' THEN NULL ELSE body END WHERE mail_id = $1",
         5},
    [QL__ST_MAIL_LIST] = {"mail_list",
                          "SELECT " QL__PG_MAIL_COLS " FROM mail_outbox WHERE $1::uuid IS NULL "
                          "OR (created_at, mail_id) < ($2, $1) ORDER BY created_at DESC, "
                          "mail_id DESC LIMIT $3",
                          3},
    [QL__ST_TOKEN_INSERT] = {"token_insert",
                             "INSERT INTO email_tokens (token_digest, purpose, user_id, email, "
                             "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                             6},
    [QL__ST_TOKEN_FIND] = {"token_find",
                           "SELECT " QL__PG_TOKEN_COLS " FROM email_tokens WHERE token_digest = "
                           "$1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
                           3},
    /* Of two transactions using one token, the second waits for the first and then finds it
     * used: only one ever gets the row back. */
    [QL__ST_TOKEN_USE] =
        {"token_use",
         "UPDATE email_tokens SET used_at = $3 WHERE token_digest = $1 AND "
         "purpose = $2 AND used_at IS NULL AND expires_at > $3 RETURNING " QL__PG_TOKEN_COLS,
         3},
    [QL__ST_TOKENS_END] = {"tokens_end",
                           "UPDATE email_tokens SET used_at = $3 WHERE user_id = $1 AND purpose "
                           "= $2 AND used_at IS NULL",
                           3},
    [QL__ST_VERIFY_EMAIL] =
        {"verify_email",
         "UPDATE users SET email_verified_at = coalesce(email_verified_at, $3), updated_at = "
         "CASE WHEN email_verified_at IS NULL THEN $3 ELSE updated_at END WHERE user_id = $1 "
         "AND email = $2 AND erased_at IS NULL",
         3},
    /* The reset counts are kept under "mail:reset:<email>" (core/account/recovery.c). */
    [QL__ST_MAIL_FORGET] = {"mail_forget",
                            "WITH m AS (DELETE FROM mail_outbox WHERE user_id = $1 OR recipient "
                            "= $2), t AS (DELETE FROM email_tokens WHERE user_id = $1), f AS "
                            "(DELETE FROM login_failures WHERE email = 'mail:reset:' || $2 OR "
                            "email = 'mail:verify:' || $1::text) DELETE FROM jobs WHERE kind = "
                            "'account.password_reset' AND payload->>'email' = $2",
                            2},
    [QL__ST_MAIL_PURGE] = {"mail_purge",
                           "WITH t AS (DELETE FROM email_tokens WHERE expires_at < $1 RETURNING "
                           "1), m AS (DELETE FROM mail_outbox WHERE state <> 'pending' AND "
                           "updated_at < $2 RETURNING 1) SELECT (SELECT count(*) FROM t) + "
                           "(SELECT count(*) FROM m)",
                           2},
