/*
 * stmts.c - every SQL statement of the PostgreSQL adapter, in one table.  Statements are
 * prepared per session on first use and always take their input as parameters: no SQL
 * text is ever built from input.
 */
#include "internal.h"

const struct ql__pg_stmt_def ql__pg_stmts[QL__ST_COUNT] = {
    [QL__ST_PING] = {"ping", "SELECT 1", 0},
    [QL__ST_SCHEMA_VERSION] = {"schema_version",
                               "SELECT coalesce(max(version), 0)::int8 FROM schema_migrations", 0},
    [QL__ST_BEGIN] = {"begin", "BEGIN", 0},
    [QL__ST_COMMIT] = {"commit", "COMMIT", 0},
    [QL__ST_ROLLBACK] = {"rollback", "ROLLBACK", 0},
    [QL__ST_NOTIFY] = {"notify", "SELECT pg_notify('quill_auth', $1)", 1},
    [QL__ST_USER_INSERT] =
        {"user_insert",
         "INSERT INTO users (user_id, email, display_name, password_hash, oidc_issuer, "
         "oidc_subject, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
         7},
    [QL__ST_USER_BY_EMAIL] =
        {"user_by_email",
         "SELECT user_id, email, display_name, password_hash, created_at, updated_at FROM "
         "users WHERE email = $1 AND erased_at IS NULL",
         1},
    [QL__ST_USER_BY_ID] =
        {"user_by_id",
         "SELECT user_id, email, display_name, password_hash, created_at, updated_at FROM "
         "users WHERE user_id = $1 AND erased_at IS NULL",
         1},
    [QL__ST_USER_BY_OIDC] =
        {"user_by_oidc",
         "SELECT user_id, email, display_name, password_hash, created_at, updated_at FROM "
         "users WHERE oidc_issuer = $1 AND oidc_subject = $2 AND erased_at IS NULL",
         2},
    [QL__ST_USER_RENAME] =
        {"user_rename",
         "UPDATE users SET display_name = $2, updated_at = $3 WHERE user_id = $1 AND "
         "erased_at IS NULL RETURNING user_id, email, display_name, password_hash, "
         "created_at, updated_at",
         3},
    [QL__ST_USER_SET_PASSWORD] =
        {"user_set_password",
         "UPDATE users SET password_hash = $2, updated_at = $3 WHERE user_id = $1 AND "
         "erased_at IS NULL",
         3},
    [QL__ST_USER_PROFILE] =
        {"user_profile",
         "SELECT u.user_id, u.email, u.display_name, u.password_hash, u.created_at, "
         "u.updated_at, t.team_id, t.name, m.role FROM users u LEFT JOIN (team_members m "
         "JOIN teams t ON t.team_id = m.team_id AND t.deleted_at IS NULL) ON m.user_id = "
         "u.user_id WHERE u.user_id = $1 AND u.erased_at IS NULL ORDER BY t.name, t.team_id",
         1},
    [QL__ST_SESSION_INSERT] =
        {"session_insert",
         "INSERT INTO sessions (token_digest, session_id, user_id, created_at, "
         "last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
         5},
    [QL__ST_SESSION_DELETE] = {"session_delete",
                               "DELETE FROM sessions WHERE token_digest = $1 RETURNING user_id", 1},
    [QL__ST_SESSIONS_DELETE_USER] =
        {"sessions_delete_user",
         "DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_digest "
         "<> $2)",
         2},
    [QL__ST_SESSION_TOUCH] = {"session_touch",
                              "UPDATE sessions SET last_seen_at = $2 WHERE token_digest = $1", 2},
    [QL__ST_PRINCIPAL_LOAD] =
        {"principal_load",
         "SELECT 1, s.user_id, s.session_id, NULL::uuid, NULL::text, s.created_at, "
         "s.expires_at, s.last_seen_at, (SELECT string_agg(m.team_id::text || ' ' || "
         "m.role, ',') FROM team_members m JOIN teams t ON t.team_id = m.team_id WHERE "
         "m.user_id = s.user_id AND t.deleted_at IS NULL) FROM sessions s JOIN users u ON "
         "u.user_id = s.user_id WHERE s.token_digest = $1 AND u.erased_at IS NULL UNION "
         "ALL SELECT 2, NULL::uuid, k.api_key_id, k.team_id, k.role, k.created_at, "
         "k.expires_at, k.last_used_at, NULL FROM api_keys k JOIN "
         "teams t ON t.team_id = k.team_id WHERE k.token_digest = $1 AND k.revoked_at IS "
         "NULL AND t.deleted_at IS NULL",
         1},
    [QL__ST_PRINCIPAL_LOAD_USER] =
        {"principal_load_user",
         "SELECT string_agg(m.team_id::text || ' ' || m.role, ',') FROM team_members m "
         "JOIN teams t ON t.team_id = m.team_id WHERE m.user_id = $1 AND t.deleted_at IS "
         "NULL",
         1},
    [QL__ST_TEAM_INSERT] =
        {"team_insert",
         "WITH t AS (INSERT INTO teams (team_id, name, created_at, updated_at) VALUES ($1, "
         "$2, $3, $3)) INSERT INTO team_members (team_id, user_id, role, joined_at) VALUES "
         "($1, $4, 'owner', $3)",
         4},
    [QL__ST_TEAM_GET] =
        {"team_get",
         "SELECT team_id, name, created_at, updated_at FROM teams WHERE team_id = $1 AND "
         "deleted_at IS NULL",
         1},
    [QL__ST_TEAM_LOCK] =
        {"team_lock", "SELECT 1 FROM teams WHERE team_id = $1 AND deleted_at IS NULL FOR UPDATE",
         1},
    [QL__ST_TEAM_RENAME] =
        {"team_rename",
         "UPDATE teams SET name = $2, updated_at = $3 WHERE team_id = $1 AND deleted_at IS "
         "NULL RETURNING team_id, name, created_at, updated_at",
         3},
    [QL__ST_TEAM_DELETE] =
        {"team_delete",
         "UPDATE teams SET deleted_at = $2, updated_at = $2 WHERE team_id = $1 AND "
         "deleted_at IS NULL",
         2},
    [QL__ST_MEMBERS_LIST] =
        {"members_list",
         "SELECT m.user_id, u.email, u.display_name, m.role, m.joined_at FROM team_members "
         "m JOIN users u ON u.user_id = m.user_id WHERE m.team_id = $1 AND ($2::uuid IS "
         "NULL OR m.user_id > $2) ORDER BY m.user_id LIMIT $3",
         3},
    [QL__ST_MEMBER_GET] =
        {"member_get",
         "SELECT m.user_id, u.email, u.display_name, m.role, m.joined_at FROM team_members "
         "m JOIN users u ON u.user_id = m.user_id WHERE m.team_id = $1 AND m.user_id = $2",
         2},
    [QL__ST_MEMBER_INSERT] =
        {"member_insert",
         "INSERT INTO team_members (team_id, user_id, role, joined_at) VALUES ($1, $2, $3, "
         "$4)",
         4},
    [QL__ST_MEMBER_SET_ROLE] =
        {"member_set_role", "UPDATE team_members SET role = $3 WHERE team_id = $1 AND user_id = $2",
         3},
    [QL__ST_MEMBER_DELETE] = {"member_delete",
                              "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2", 2},
    [QL__ST_OWNERS_COUNT] =
        {"owners_count", "SELECT count(*) FROM team_members WHERE team_id = $1 AND role = 'owner'",
         1},
    [QL__ST_KEY_INSERT] =
        {"key_insert",
         "INSERT INTO api_keys (api_key_id, team_id, name, role, prefix, token_digest, "
         "created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
         9},
    [QL__ST_KEYS_LIST] =
        {"keys_list",
         "SELECT api_key_id, team_id, name, role, prefix, created_at, expires_at, "
         "last_used_at FROM api_keys WHERE team_id = $1 AND revoked_at IS NULL AND "
         "($2::timestamptz IS NULL OR (created_at, api_key_id) < ($2, $3::uuid)) ORDER BY "
         "created_at DESC, api_key_id DESC LIMIT $4",
         4},
    [QL__ST_KEY_REVOKE] =
        {"key_revoke",
         "UPDATE api_keys SET revoked_at = $3 WHERE team_id = $1 AND api_key_id = $2 AND "
         "revoked_at IS NULL",
         3},
    [QL__ST_KEY_TOUCH] = {"key_touch",
                          "UPDATE api_keys SET last_used_at = $2 WHERE api_key_id = $1", 2},
    [QL__ST_AUDIT_APPEND] =
        {"audit_append",
         "INSERT INTO audit_log (audit_id, chain, team_id, at, actor, action, target_type, "
         "target_id, seq, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, '', "
         "'')",
         8},
    [QL__ST_AUDIT_LIST] =
        {"audit_list",
         "SELECT audit_id, at, actor, action, target_type, target_id, seq FROM audit_log "
         "WHERE chain = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
         3},
    [QL__ST_FAILURES] = {"failures",
                         "SELECT count(*), min(failed_at) FROM login_failures WHERE email = $1 AND "
                         "failed_at > $2",
                         2},
    [QL__ST_FAILURE_RECORD] = {"failure_record",
                               "INSERT INTO login_failures (email, failed_at) VALUES ($1, $2)", 2},
    [QL__ST_FAILURES_CLEAR] = {"failures_clear", "DELETE FROM login_failures WHERE email = $1", 1},
    [QL__ST_RATE_HIT] =
        {"rate_hit",
         "WITH hit AS (INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, 1) "
         "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1 "
         "RETURNING count) SELECT hit.count, coalesce((SELECT r.count FROM rate_counters r "
         "WHERE r.key = $1 AND r.window_start = $2::timestamptz - interval '1 minute'), 0) "
         "FROM hit",
         2},
    [QL__ST_ENTRY_INSERT] =
        {"entry_insert",
         "INSERT INTO journal_entries (journal_entry_id, team_id, author_user_id, "
         "author_api_key_id, prompt_id, content, version, created_at, updated_at) VALUES "
         "($1, $2, $3, $4, $5, $6, $7, $8, $9)",
         9},
    [QL__ST_ENTRY_GET] =
        {"entry_get",
         "SELECT journal_entry_id, team_id, author_user_id, author_api_key_id, prompt_id, "
         "content, version, created_at, updated_at, deleted_at FROM journal_entries WHERE "
         "team_id = $1 AND journal_entry_id = $2 AND deleted_at IS NULL",
         2},
    [QL__ST_ENTRY_LOCK] =
        {"entry_lock",
         "SELECT journal_entry_id, team_id, author_user_id, author_api_key_id, prompt_id, "
         "content, version, created_at, updated_at, deleted_at FROM journal_entries WHERE "
         "team_id = $1 AND journal_entry_id = $2 AND deleted_at IS NULL FOR UPDATE",
         2},
    [QL__ST_ENTRY_LIST] =
        {"entry_list",
         "SELECT journal_entry_id, team_id, author_user_id, author_api_key_id, prompt_id, "
         "content, version, created_at, updated_at, deleted_at FROM journal_entries WHERE "
         "team_id = $1 AND deleted_at IS NULL AND (created_at, journal_entry_id) < ($2, "
         "$3) ORDER BY created_at DESC, journal_entry_id DESC LIMIT $4",
         4},
    [QL__ST_ENTRY_LIST_AUTHOR] =
        {"entry_list_author",
         "SELECT journal_entry_id, team_id, author_user_id, author_api_key_id, prompt_id, "
         "content, version, created_at, updated_at, deleted_at FROM journal_entries WHERE "
         "team_id = $1 AND deleted_at IS NULL AND (created_at, journal_entry_id) < ($2, "
         "$3) AND author_user_id = $5 ORDER BY created_at DESC, journal_entry_id DESC "
         "LIMIT $4",
         5},
    [QL__ST_ENTRY_LIST_PROMPT] =
        {"entry_list_prompt",
         "SELECT journal_entry_id, team_id, author_user_id, author_api_key_id, prompt_id, "
         "content, version, created_at, updated_at, deleted_at FROM journal_entries WHERE "
         "team_id = $1 AND deleted_at IS NULL AND (created_at, journal_entry_id) < ($2, "
         "$3) AND prompt_id = $5 ORDER BY created_at DESC, journal_entry_id DESC LIMIT $4",
         5},
    [QL__ST_ENTRY_LIST_BOTH] =
        {"entry_list_both",
         "SELECT journal_entry_id, team_id, author_user_id, author_api_key_id, prompt_id, "
         "content, version, created_at, updated_at, deleted_at FROM journal_entries WHERE "
         "team_id = $1 AND deleted_at IS NULL AND (created_at, journal_entry_id) < ($2, "
         "$3) AND author_user_id = $5 AND prompt_id = $6 ORDER BY created_at DESC, "
         "journal_entry_id DESC LIMIT $4",
         6},
    [QL__ST_ENTRY_UPDATE] =
        {"entry_update",
         "UPDATE journal_entries SET content = $3, prompt_id = $4, version = $5, "
         "updated_at = $6 WHERE team_id = $1 AND journal_entry_id = $2",
         6},
    [QL__ST_ENTRY_DELETE] =
        {"entry_delete",
         "UPDATE journal_entries SET deleted_at = $3, updated_at = $3, version = version + "
         "1 WHERE team_id = $1 AND journal_entry_id = $2 AND deleted_at IS NULL",
         3},
    [QL__ST_PROMPT_INSERT] =
        {"prompt_insert",
         "INSERT INTO prompts (prompt_id, team_id, text, category, created_at, updated_at) "
         "VALUES ($1, $2, $3, $4, $5, $5)",
         5},
    [QL__ST_PROMPT_GET] =
        {"prompt_get",
         "SELECT prompt_id, team_id, text, category, created_at, updated_at, deleted_at "
         "FROM prompts WHERE prompt_id = $2 AND (team_id IS NULL OR team_id = $1) AND "
         "deleted_at IS NULL",
         2},
    [QL__ST_PROMPT_LIST] =
        {"prompt_list",
         "SELECT prompt_id, team_id, text, category, created_at, updated_at, deleted_at "
         "FROM prompts WHERE (team_id IS NULL OR team_id = $1) AND deleted_at IS NULL AND "
         "($2::text IS NULL OR category = $2) AND (created_at, prompt_id) > ($3, $4::uuid) "
         "ORDER BY created_at, prompt_id LIMIT $5",
         5},
    [QL__ST_PROMPT_DELETE] =
        {"prompt_delete",
         "UPDATE prompts SET deleted_at = $3, updated_at = $3 WHERE team_id = $1 AND "
         "prompt_id = $2 AND deleted_at IS NULL",
         3},
    [QL__ST_IDEM_GET] = {"idem_get",
                         "SELECT fingerprint, status, response, created_at, expires_at FROM "
                         "idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at > $3",
                         3},
    [QL__ST_IDEM_LOCK] = {"idem_lock",
                          "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 7))",
                          2},
    [QL__ST_IDEM_PUT] =
        {"idem_put",
         "INSERT INTO idempotency_keys AS k (scope, key, fingerprint, status, response, "
         "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, "
         "key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, "
         "response = EXCLUDED.response, created_at = EXCLUDED.created_at, expires_at = "
         "EXCLUDED.expires_at WHERE k.expires_at <= EXCLUDED.created_at",
         7},
};

int ql__pg_deferred(enum ql__pg_stmt st)
{
    switch (st) {
    case QL__ST_BEGIN:
    case QL__ST_NOTIFY:
    case QL__ST_SESSION_INSERT:
    case QL__ST_SESSIONS_DELETE_USER:
    case QL__ST_USER_SET_PASSWORD:
    case QL__ST_FAILURES_CLEAR:
    case QL__ST_ENTRY_INSERT:
    case QL__ST_ENTRY_UPDATE:
    case QL__ST_AUDIT_APPEND:
    case QL__ST_IDEM_PUT:
        return 1;
    default:
        return 0;
    }
}
