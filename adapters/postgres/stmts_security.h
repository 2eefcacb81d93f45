/*
 * stmts_security.h - the SQL of the security repository (repo_security.c): the sessions list
 * and its revocations, TOTP enrolments, recovery codes and MFA challenges.  One X-macro table,
 * X(enum suffix, name, number of parameters, SQL), expanded into enum ql__pg_stmt
 * (internal.h) and into the statement table (stmts.c), so these statements are prepared and
 * run like every other one.
 *
 * Single use is the database's to enforce: spending a TOTP step, a recovery code or a
 * challenge is one conditional UPDATE or DELETE whose row count says whether this request
 * was the one that spent it.
 */
#ifndef QL_PG_STMTS_SECURITY_H
#define QL_PG_STMTS_SECURITY_H

#define QL__PG_SECURITY_STMTS(X)                                                                   \
    X(SESSIONS_LIST, "sessions_list", 6,                                                           \
      "SELECT session_id, created_at, last_seen_at, expires_at, user_agent, client_ip FROM "       \
      "sessions WHERE user_id = $1 AND expires_at > $2 AND last_seen_at > $3 AND ($4::uuid IS "    \
      "NULL OR (created_at, session_id) < ($5, $4)) ORDER BY created_at DESC, session_id DESC "    \
      "LIMIT $6")                                                                                  \
    X(SESSION_REVOKE, "session_revoke", 2,                                                         \
      "DELETE FROM sessions WHERE user_id = $1 AND session_id = $2 RETURNING token_digest")        \
    X(TOTP_GET, "totp_get", 1,                                                                     \
      "SELECT secret, created_at, confirmed_at, last_step FROM mfa_totp WHERE user_id = $1")       \
    X(TOTP_BEGIN, "totp_begin", 3,                                                                 \
      "INSERT INTO mfa_totp AS t (user_id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT "   \
      "(user_id) DO UPDATE SET secret = EXCLUDED.secret, created_at = EXCLUDED.created_at, "       \
      "last_step = 0 WHERE t.confirmed_at IS NULL RETURNING 1")                                    \
    X(TOTP_CONFIRM, "totp_confirm", 3,                                                             \
      "UPDATE mfa_totp SET confirmed_at = $3, last_step = $2 WHERE user_id = $1 AND "              \
      "confirmed_at IS NULL")                                                                      \
    X(TOTP_USE, "totp_use", 2,                                                                     \
      "UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1 AND confirmed_at IS NOT NULL AND "    \
      "last_step < $2")                                                                            \
    X(TOTP_REMOVE, "totp_remove", 1,                                                               \
      "WITH codes AS (DELETE FROM mfa_recovery_codes WHERE user_id = $1) DELETE FROM mfa_totp "    \
      "WHERE user_id = $1")                                                                        \
    X(RECOVERY_SET, "recovery_set", 3,                                                             \
      "WITH old AS (DELETE FROM mfa_recovery_codes WHERE user_id = $1) INSERT INTO "               \
      "mfa_recovery_codes (user_id, code_digest, created_at) SELECT $1, decode(d, 'hex'), $3 "     \
      "FROM unnest($2::text[]) AS d")                                                              \
    X(RECOVERY_USE, "recovery_use", 3,                                                             \
      "UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_digest = $2 AND "    \
      "used_at IS NULL")                                                                           \
    X(RECOVERY_LEFT, "recovery_left", 1,                                                           \
      "SELECT count(*)::int4 FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL")      \
    X(CHALLENGE_INSERT, "challenge_insert", 4,                                                     \
      "INSERT INTO mfa_challenges (token_digest, user_id, created_at, expires_at) VALUES ($1, "    \
      "$2, $3, $4)")                                                                               \
    X(CHALLENGE_GET, "challenge_get", 1,                                                           \
      "SELECT user_id, failures, created_at, expires_at FROM mfa_challenges WHERE token_digest "   \
      "= $1")                                                                                      \
    X(CHALLENGE_FAIL, "challenge_fail", 1,                                                         \
      "UPDATE mfa_challenges SET failures = failures + 1 WHERE token_digest = $1 RETURNING "       \
      "failures")                                                                                  \
    X(CHALLENGE_TAKE, "challenge_take", 3,                                                         \
      "DELETE FROM mfa_challenges WHERE token_digest = $1 AND expires_at > $2 AND failures < $3")  \
    X(CHALLENGE_PURGE, "challenge_purge", 1, "DELETE FROM mfa_challenges WHERE expires_at <= $1")

#endif
