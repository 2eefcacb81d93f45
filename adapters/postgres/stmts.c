/*
 * stmts.c - every SQL statement of the PostgreSQL adapter, in one table.  Statements are
 * prepared per session on first use and always take their input as parameters: no SQL
 * text is ever built from input.
 */
#include "internal.h"

/*
 * The SET of a change to a journal entry, team prompt or membership: the row takes the
 * position of this change (migration 0017), as the log's row of it does.
 */
#define QL__PG_MOVED "change_txid = pg_current_xact_id(), change_seq = nextval('changes_seq')"

/* A users row's mfaEnabled: a confirmed TOTP enrolment exists (the profile spells it for u). */
#define QL__PG_MFA_ON                                                                              \
    "EXISTS (SELECT 1 FROM mfa_totp m WHERE m.user_id = users.user_id AND m.confirmed_at IS NOT "  \
    "NULL)"

/* What the statements of stmts_pages.h and r_entries (stmts_rights.h) spell out. */
_Static_assert(QL_PAGE_CONTENT_MAX == 1048576, "the budget of the _bytes statements and r_entries");
_Static_assert(201 * 4096 < QL_PAGE_CONTENT_MAX, "a page of small entries is under the budget");

const struct ql__pg_stmt_def ql__pg_stmts[QL__ST_COUNT] = {
    [QL__ST_PING] = {"ping", "SELECT 1", 0},
    [QL__ST_SCHEMA_VERSION] = {"schema_version",
                               "SELECT coalesce(max(version), 0)::int8 FROM schema_migrations", 0},
    /* Whether schema_migrations exists: a database never migrated has none (version 0). */
    [QL__ST_SCHEMA_KNOWN] = {"schema_known", "SELECT to_regclass('schema_migrations') IS NOT NULL",
                             0},
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
         "SELECT user_id, email, display_name, password_hash, created_at, "
         "updated_at, " QL__PG_MFA_ON
         ", email_verified_at FROM users WHERE email = $1 AND erased_at IS NULL",
         1},
    [QL__ST_USER_BY_ID] =
        {"user_by_id",
         "SELECT user_id, email, display_name, password_hash, created_at, "
         "updated_at, " QL__PG_MFA_ON
         ", email_verified_at FROM users WHERE user_id = $1 AND erased_at IS NULL",
         1},
    [QL__ST_USER_BY_OIDC] = {"user_by_oidc",
                             "SELECT user_id, email, display_name, password_hash, created_at, "
                             "updated_at, " QL__PG_MFA_ON
                             ", email_verified_at FROM users WHERE oidc_issuer = $1 AND "
                             "oidc_subject = $2 AND erased_at "
                             "IS NULL",
                             2},
    /* The name shows in the member lists of the user's teams: each membership moves on. */
    [QL__ST_USER_RENAME] =
        {"user_rename",
         "WITH m AS (UPDATE team_members SET " QL__PG_MOVED " WHERE user_id = $1) UPDATE "
         "users SET display_name = $2, updated_at = $3 WHERE user_id = $1 AND "
         "erased_at IS NULL RETURNING user_id, email, display_name, password_hash, "
         "created_at, updated_at, " QL__PG_MFA_ON ", email_verified_at",
         3},
    [QL__ST_USER_SET_PASSWORD] =
        {"user_set_password",
         "UPDATE users SET password_hash = $2, updated_at = $3 WHERE user_id = $1 AND "
         "erased_at IS NULL",
         3},
    [QL__ST_USER_PROFILE] =
        {"user_profile",
         "SELECT u.user_id, u.email, u.display_name, u.password_hash, u.created_at, "
         "u.updated_at, EXISTS (SELECT 1 FROM mfa_totp x WHERE x.user_id = u.user_id AND "
         "x.confirmed_at IS NOT NULL), t.team_id, t.name, m.role, u.email_verified_at FROM users "
         "u LEFT JOIN (team_members m JOIN teams t ON t.team_id = m.team_id AND t.deleted_at IS "
         "NULL) ON m.user_id = u.user_id WHERE u.user_id = $1 AND u.erased_at IS NULL ORDER BY "
         "t.name, t.team_id",
         1},
    [QL__ST_SESSION_INSERT] =
        {"session_insert",
         "INSERT INTO sessions (token_digest, session_id, user_id, created_at, "
         "last_seen_at, expires_at, user_agent, client_ip) VALUES ($1, $2, $3, $4, $4, $5, $6, "
         "$7)",
         7},
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
         "WITH u AS (SELECT user_id FROM users WHERE user_id = $4 AND erased_at IS NULL FOR KEY "
         "SHARE), t AS (INSERT INTO teams (team_id, name, created_at, updated_at) SELECT $1, "
         "$2, $3, $3 FROM u RETURNING team_id) INSERT INTO team_members (team_id, user_id, "
         "role, joined_at) SELECT t.team_id, $4, 'owner', $3 FROM t",
         4},
    [QL__ST_TEAM_GET] =
        {"team_get",
         "SELECT team_id, name, created_at, updated_at FROM teams WHERE team_id = $1 AND "
         "deleted_at IS NULL",
         1},
    [QL__ST_TEAM_LOCK] =
        {"team_lock",
         "SELECT 1 FROM teams WHERE team_id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE", 1},
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
         "INSERT INTO team_members (team_id, user_id, role, joined_at) SELECT $1, u.user_id, "
         "$3, $4 FROM users u WHERE u.user_id = $2 AND u.erased_at IS NULL FOR KEY SHARE",
         4},
    [QL__ST_MEMBER_SET_ROLE] = {"member_set_role",
                                "UPDATE team_members SET role = $3, " QL__PG_MOVED
                                " WHERE team_id = $1 AND "
                                "user_id = $2",
                                3},
    /* A membership removed leaves its tombstone for delta sync (migration 0017). */
    [QL__ST_MEMBER_DELETE] =
        {"member_delete",
         "WITH d AS (DELETE FROM team_members WHERE team_id = $1 AND user_id = $2 RETURNING "
         "team_id, user_id) INSERT INTO sync_tombstones AS t (team_id, kind, entity_id) SELECT "
         "d.team_id, 3, d.user_id FROM d ON CONFLICT (team_id, kind, entity_id) DO UPDATE SET "
         "change_txid = EXCLUDED.change_txid, change_seq = EXCLUDED.change_seq",
         2},
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
    /*
     * The chain trigger fires once per row in the order the SELECT yields them: WITH
     * ORDINALITY and ORDER BY keep the caller's order, which is what locks the heads.
     */
    [QL__ST_AUDIT_APPEND_MANY] =
        {"audit_append_many",
         "INSERT INTO audit_log (audit_id, chain, team_id, at, actor, action, target_type, "
         "target_id, seq, prev_hash, hash) SELECT id, ch, t, at, ac, act, tt, ti, 0, '', '' FROM "
         "unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], "
         "$7::text[], $8::text[]) WITH ORDINALITY AS u (id, ch, t, at, ac, act, tt, ti, o) "
         "ORDER BY o",
         8},
    [QL__ST_AUDIT_LIST] =
        {"audit_list",
         "SELECT audit_id, at, actor, action, target_type, target_id, seq FROM audit_log "
         "WHERE chain = $1 AND team_id = $4 AND seq < $2 ORDER BY seq DESC LIMIT $3",
         4},
    [QL__ST_FAILURES] = {"failures",
                         "SELECT count(*), min(failed_at) FROM login_failures WHERE email = $1 AND "
                         "failed_at > $2",
                         2},
    [QL__ST_FAILURE_RECORD] = {"failure_record",
                               "INSERT INTO login_failures (email, failed_at) VALUES ($1, $2)", 2},
    /*
     * One row of the key at that time: the table has no id, so the row's ctid names it.
     * Concurrent forgets of one key and time (attempts in the same millisecond) must each
     * take a different row: without the lock they would all pick the first, and only one
     * would delete it.  SKIP LOCKED moves on to the next alike instead of waiting.
     */
    [QL__ST_FAILURE_FORGET] = {"failure_forget",
                               "DELETE FROM login_failures WHERE ctid = (SELECT ctid FROM "
                               "login_failures WHERE email = $1 AND failed_at = $2 LIMIT 1 "
                               "FOR UPDATE SKIP LOCKED)",
                               2},
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
    /* Rows in the order of the arrays (unnest keeps it), content as text. */
    [QL__ST_ENTRY_INSERT_MANY] =
        {"entry_insert_many",
         "INSERT INTO journal_entries (journal_entry_id, team_id, author_user_id, "
         "author_api_key_id, prompt_id, content, version, created_at, updated_at) SELECT id, t, "
         "au, ak, pr, c, v, ca, ua FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], "
         "$5::uuid[], $6::text[], $7::int[], $8::timestamptz[], $9::timestamptz[]) AS u (id, t, "
         "au, ak, pr, c, v, ca, ua)",
         9},
    /* Which rows of a group whose COMMIT lost its answer are there (entry.c); the caller
     * matches the pairs. */
    [QL__ST_ENTRY_EXIST_MANY] = {"entry_exist_many",
                                 "SELECT journal_entry_id, team_id FROM journal_entries WHERE "
                                 "team_id = ANY ($1::uuid[]) AND "
                                 "journal_entry_id = ANY ($2::uuid[])",
                                 2},
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
    [QL__ST_ENTRY_UPDATE] =
        {"entry_update",
         "UPDATE journal_entries SET content = $3, prompt_id = $4, version = $5, "
         "updated_at = $6, " QL__PG_MOVED " WHERE team_id = $1 AND journal_entry_id = $2",
         6},
    [QL__ST_ENTRY_DELETE] =
        {"entry_delete",
         "UPDATE journal_entries SET deleted_at = $3, updated_at = $3, version = version + "
         "1, " QL__PG_MOVED " WHERE team_id = $1 AND journal_entry_id = $2 AND deleted_at "
         "IS NULL",
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
    [QL__ST_PROMPT_DELETE] = {"prompt_delete",
                              "UPDATE prompts SET deleted_at = $3, updated_at = $3, " QL__PG_MOVED
                              " WHERE "
                              "team_id = $1 AND prompt_id = $2 AND deleted_at IS NULL",
                              3},
    [QL__ST_IDEM_GET] = {"idem_get",
                         "SELECT fingerprint, status, response, created_at, expires_at FROM "
                         "idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at > $3",
                         3},
    [QL__ST_IDEM_LOCK] = {"idem_lock",
                          "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 7))",
                          2},
    /* Run after IDEM_LOCK, so its snapshot sees a record committed before the lock was free. */
    [QL__ST_IDEM_LIVE] = {"idem_live",
                          "SELECT EXISTS (SELECT 1 FROM idempotency_keys WHERE scope = $1 AND key "
                          "= $2 AND expires_at > now())",
                          2},
    [QL__ST_IDEM_PUT] =
        {"idem_put",
         "INSERT INTO idempotency_keys AS k (scope, key, fingerprint, status, response, "
         "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, "
         "key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, "
         "response = EXCLUDED.response, created_at = EXCLUDED.created_at, expires_at = "
         "EXCLUDED.expires_at WHERE k.expires_at <= EXCLUDED.created_at",
         7},
    /* Enqueues send no NOTIFY themselves: the session wakes workers after the commit. */
    [QL__ST_JOB_INSERT] =
        {"job_insert",
         "INSERT INTO jobs (queue, kind, payload, priority, run_at, max_attempts, "
         "unique_key, trace_id, traceparent) VALUES ($1, $2, $3::jsonb, $4, coalesce($5, now()), "
         "$6, $7, substr($8, 4, 32), $8) ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO "
         "UPDATE SET unique_key "
         "= EXCLUDED.unique_key RETURNING job_id",
         8},
    [QL__ST_JOB_INSERT_MANY] =
        {"job_insert_many",
         "INSERT INTO jobs (queue, kind, payload, priority, run_at, max_attempts, unique_key, "
         "trace_id, traceparent) SELECT q, k, p, pr, coalesce(ra, now()), ma, uk, substr(tr, 4, "
         "32), tr FROM unnest($1::text[], "
         "$2::text[], $3::jsonb[], $4::int[], $5::timestamptz[], $6::int[], $7::text[], "
         "$8::text[]) AS u (q, k, p, pr, ra, ma, uk, tr) ON CONFLICT (unique_key) WHERE "
         "unique_key IS NOT NULL DO NOTHING RETURNING job_id",
         8},
    /* Events' jobs: no unique key, so no ON CONFLICT (a speculative insertion costs). */
    /*
     * $3 jobs for runners that start them at once, then $4 claimed ahead of the runners:
     * only jobs without errors, so a job whose worker died while holding it ahead (the
     * rescuer allows it one more attempt and records an error) is never claimed ahead again,
     * and spends an attempt if it kills its next worker too.  The attempt counts here, in
     * the claim, not in a statement of its own when a runner starts the job: that would
     * cost a round trip a job.  A scan of $3 = 0 rows stops at once.
     */
    [QL__ST_JOB_CLAIM] =
        {"job_claim",
         "WITH n AS (SELECT job_id FROM jobs WHERE state IN ('available', 'failed') AND "
         "run_at <= now() AND ($2::text[] IS NULL OR queue = ANY ($2)) ORDER BY priority, "
         "run_at, job_id LIMIT $3 FOR UPDATE SKIP LOCKED), a AS (SELECT job_id FROM jobs "
         "WHERE state IN ('available', 'failed') AND run_at <= now() AND ($2::text[] IS NULL "
         "OR queue = ANY ($2)) AND errors = '[]'::jsonb AND job_id <> ALL (ARRAY(SELECT "
         "job_id FROM n)) ORDER BY priority, run_at, job_id LIMIT $4 FOR UPDATE SKIP "
         "LOCKED), c AS (SELECT job_id, false AS ahead FROM n UNION ALL SELECT job_id, true "
         "FROM a) UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, "
         "claimed_ahead = c.ahead, locked_by = $1, locked_at = now(), heartbeat_at = now() "
         "FROM c WHERE j.job_id = c.job_id RETURNING j.job_id, j.queue, j.kind, "
         "j.payload::text, j.priority, j.attempts, j.max_attempts, j.trace_id, j.created_at, "
         "j.run_at, j.locked_at, j.traceparent, c.ahead",
         4},
    [QL__ST_JOB_COMPLETE] =
        {"job_complete",
         "UPDATE jobs j SET state = 'succeeded', finished_at = now(), locked_by = NULL, "
         "heartbeat_at = NULL FROM unnest($2::bigint[], $3::int[]) AS d (id, attempt) "
         "WHERE j.job_id = d.id AND j.attempts = d.attempt AND j.state = 'running' AND "
         "j.locked_by = $1",
         3},
    [QL__ST_JOB_FAIL] =
        {"job_fail",
         "UPDATE jobs SET state = CASE WHEN $6 THEN 'discarded' ELSE 'failed' END, run_at "
         "= CASE WHEN $6 THEN run_at ELSE now() + $5::bigint * interval '1 millisecond' END, "
         "locked_by = NULL, heartbeat_at = NULL, finished_at = "
         "CASE WHEN $6 THEN now() END, errors = errors || "
         "jsonb_build_array(jsonb_build_object('attempt', $3::int, 'at', now(), 'error', "
         "$4::text)) WHERE job_id = $2 AND attempts = $3 AND state = 'running' AND "
         "locked_by = $1",
         6},
    [QL__ST_JOB_HEARTBEAT] =
        {"job_heartbeat",
         "UPDATE jobs SET heartbeat_at = now() WHERE job_id = ANY ($2::bigint[]) AND "
         "locked_by = $1 AND state = 'running'",
         2},
    [QL__ST_JOB_RELEASE] =
        {"job_release",
         "UPDATE jobs j SET state = 'available', attempts = j.attempts - 1, locked_by = "
         "NULL, heartbeat_at = NULL, run_at = now() FROM unnest($2::bigint[], $3::int[]) "
         "AS d (id, attempt) WHERE j.job_id = d.id AND j.attempts = d.attempt AND j.state "
         "= 'running' AND j.locked_by = $1",
         3},
    /*
     * A job claimed ahead of its worker's runners may never have started: it is allowed one
     * more attempt, so its attempts and errors still agree (once: the error recorded keeps
     * it from being claimed ahead again).
     */
    [QL__ST_JOB_RESCUE] =
        {"job_rescue",
         "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts AND NOT claimed_ahead "
         "THEN 'discarded' ELSE 'failed' END, run_at = now(), finished_at = CASE WHEN "
         "attempts >= max_attempts AND NOT claimed_ahead THEN now() END, max_attempts = "
         "max_attempts + claimed_ahead::int, errors = errors || "
         "jsonb_build_array(jsonb_build_object('attempt', attempts, 'at', now(), 'error', "
         "'worker ' || coalesce(locked_by, '?') || ' stopped sending heartbeats' || CASE WHEN "
         "claimed_ahead THEN ' (it had claimed the job ahead of its runners: one more attempt "
         "is allowed)' ELSE '' END)), claimed_ahead = false, locked_by = NULL, heartbeat_at = "
         "NULL WHERE state = 'running' AND heartbeat_at < now() - $1::bigint * interval '1 "
         "millisecond'",
         1},
    [QL__ST_JOB_PURGE] =
        {"job_purge",
         "DELETE FROM jobs WHERE job_id IN (SELECT job_id FROM jobs WHERE state IN "
         "('succeeded', 'discarded', 'cancelled') AND finished_at < $1 LIMIT 10000)",
         1},
    [QL__ST_JOB_PROGRESS] =
        {"job_progress",
         "UPDATE jobs SET progress = $3::jsonb WHERE job_id = $2 AND locked_by = $1 AND "
         "state = 'running'",
         3},
    /*
     * Bounded by bytes as well as by count (QL_PAGE_CONTENT_MAX), as the pages of
     * stmts_pages.h are: a job carries its error history (an entry per attempt), and a page
     * of 200 such jobs reached megabytes.  A job whose predecessors on the page already carry
     * 1 MiB of JSON (payload, errors, progress) comes without it (errors is never NULL
     * otherwise), and the reader ends the page before it (QL__PG_CUT).
     */
    [QL__ST_JOB_LIST] =
        {"job_list",
         "SELECT job_id, queue, kind, CASE WHEN NOT cut THEN payload END, state, priority, "
         "attempts, max_attempts, unique_key, trace_id, CASE WHEN NOT cut THEN errors END, "
         "CASE WHEN NOT cut THEN progress END, locked_by, run_at, created_at, locked_at, "
         "finished_at FROM (SELECT *, sum(w) OVER (ORDER BY job_id DESC ROWS UNBOUNDED "
         "PRECEDING) - w >= 1048576 AS cut FROM (SELECT job_id, queue, kind, payload::text AS "
         "payload, state, priority, attempts, max_attempts, unique_key, trace_id, errors::text "
         "AS errors, progress::text AS progress, locked_by, run_at, created_at, locked_at, "
         "finished_at, octet_length(payload::text) + octet_length(errors::text) + "
         "coalesce(octet_length(progress::text), 0) AS w FROM jobs WHERE ($1::text IS NULL OR "
         "state = $1) AND ($2::text IS NULL OR queue = $2) AND ($3::text IS NULL OR kind = "
         "$3) AND job_id < $4 ORDER BY job_id DESC LIMIT $5) j) k ORDER BY job_id DESC",
         5},
    [QL__ST_JOB_GET] =
        {"job_get",
         "SELECT job_id, queue, kind, payload::text, state, priority, attempts, "
         "max_attempts, unique_key, trace_id, errors::text, progress::text, locked_by, "
         "run_at, created_at, locked_at, finished_at FROM jobs WHERE job_id = $1",
         1},
    [QL__ST_JOB_STATS] =
        {"job_stats",
         "SELECT queue, state, count(*), min(run_at) FILTER (WHERE state = 'available' AND "
         "run_at <= now()) FROM jobs GROUP BY queue, state ORDER BY queue",
         0},
    [QL__ST_JOB_RETRY] =
        {"job_retry",
         "UPDATE jobs SET state = 'available', run_at = now(), max_attempts = "
         "greatest(max_attempts, attempts + 1), finished_at = NULL WHERE job_id = $1 AND "
         "state IN ('failed', 'discarded')",
         1},
    [QL__ST_JOB_CANCEL] =
        {"job_cancel",
         "UPDATE jobs SET state = 'cancelled', finished_at = now(), locked_by = NULL, "
         "heartbeat_at = NULL WHERE job_id = $1 AND state IN ('available', 'failed', "
         "'running')",
         1},
    [QL__ST_PURGE_IDEM] = {"purge_idem", "DELETE FROM idempotency_keys WHERE expires_at <= $1", 1},
    [QL__ST_PURGE_SESSIONS] = {"purge_sessions",
                               "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= "
                               "$1::timestamptz - $2::bigint * "
                               "interval '1 millisecond'",
                               2},
    [QL__ST_PURGE_THROTTLES] =
        {"purge_throttles",
         "WITH a AS (DELETE FROM login_failures WHERE failed_at <= $1::timestamptz - interval '15 "
         "minutes' RETURNING 1), b AS (DELETE FROM rate_counters WHERE window_start <= $1 "
         "- interval '2 minutes' RETURNING 1) SELECT (SELECT count(*) FROM a) + (SELECT "
         "count(*) FROM b)",
         1},
    /*
     * A prompt goes only when no entry this purge leaves (live, recent, or above the floor)
     * refers to it: the entries' foreign key would fail the whole statement.
     */
    [QL__ST_PURGE_DELETED] =
        {"purge_deleted",
         "WITH f AS (SELECT txid FROM change_floor LIMIT 1), e AS (DELETE FROM journal_entries "
         "WHERE deleted_at <= $1 AND change_txid < (SELECT txid FROM f) RETURNING 1), d AS "
         "(DELETE FROM daily_prompts WHERE prompt_id IN (SELECT prompt_id FROM prompts "
         "WHERE deleted_at <= $1 AND change_txid < (SELECT txid FROM f))), p AS (DELETE FROM "
         "prompts WHERE deleted_at <= $1 AND change_txid < (SELECT txid FROM f) AND "
         "prompt_id NOT IN (SELECT prompt_id FROM journal_entries WHERE prompt_id IS NOT "
         "NULL AND (deleted_at IS NULL OR deleted_at > $1 OR change_txid >= (SELECT txid "
         "FROM f))) RETURNING 1), t AS (DELETE "
         "FROM teams WHERE deleted_at <= $1 RETURNING 1) SELECT (SELECT count(*) FROM e) + "
         "(SELECT count(*) FROM p) + (SELECT count(*) FROM t)",
         1},
    [QL__ST_DAILY_PICK_ALL] =
        {"daily_pick_all",
         "INSERT INTO daily_prompts (team_id, day, prompt_id, picked_at) SELECT t.team_id, "
         "$1::date, (SELECT p.prompt_id FROM prompts p WHERE (p.team_id IS NULL OR "
         "p.team_id = t.team_id) AND p.deleted_at IS NULL ORDER BY md5(t.team_id::text || "
         "$1::date::text || p.prompt_id::text) LIMIT 1), $2 FROM teams t WHERE "
         "t.deleted_at IS NULL AND EXISTS (SELECT 1 FROM prompts p WHERE (p.team_id IS "
         "NULL OR p.team_id = t.team_id) AND p.deleted_at IS NULL) ON CONFLICT (team_id, "
         "day) DO NOTHING",
         2},
    /* The day's pick, made now; a pick whose prompt was deleted since is made again. */
    [QL__ST_DAILY_PICK] =
        {"daily_pick",
         "INSERT INTO daily_prompts (team_id, day, prompt_id, picked_at) SELECT $1, "
         "$2::date, p.prompt_id, $3 FROM prompts p WHERE (p.team_id IS NULL OR p.team_id = "
         "$1) AND p.deleted_at IS NULL ORDER BY md5($1::text || $2::date::text || "
         "p.prompt_id::text) LIMIT 1 ON CONFLICT (team_id, day) DO UPDATE SET prompt_id = "
         "EXCLUDED.prompt_id, picked_at = EXCLUDED.picked_at WHERE EXISTS (SELECT 1 FROM "
         "prompts q WHERE q.team_id = $1 AND q.prompt_id = daily_prompts.prompt_id AND "
         "q.deleted_at IS NOT NULL)",
         3},
    [QL__ST_DAILY_GET] =
        {"daily_get",
         "SELECT p.prompt_id, p.team_id, p.text, p.category, p.created_at, p.updated_at, "
         "p.deleted_at FROM daily_prompts d JOIN prompts p ON p.prompt_id = d.prompt_id "
         "WHERE d.team_id = $1 AND d.day = $2::date AND p.deleted_at IS NULL",
         2},
#include "stmts_pages.h"
#include "stmts_changes.h"
#include "stmts_webhooks.h"
#include "stmts_mail.h"
#include "stmts_flags.h"
#include "stmts_rights.h"
    [QL__ST_JOB_LEAD] = {"job_lead",
                         "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = "
                         "'advisory' AND classid = 0 AND objid = 1364543820 AND objsubid = 1 "
                         "AND pid = pg_backend_pid()) THEN true ELSE "
                         "pg_try_advisory_lock(1364543820) END",
                         0},
#include "stmts_usage.h"
    /* Read replicas (replica.c): where the primary's WAL is, how far a replica replayed. */
    [QL__ST_WAL_LSN] = {"wal_lsn", "SELECT pg_current_wal_insert_lsn()::text", 0},
    [QL__ST_REPLAY_LSN] = {"replay_lsn",
                           "SELECT coalesce(pg_last_wal_replay_lsn(), '0/0'::pg_lsn)::text", 0},
#define QL__ST_SECURITY_DEF(e, name, nparams, sql) [QL__ST_##e] = {name, sql, nparams},
    QL__PG_SECURITY_STMTS(QL__ST_SECURITY_DEF) /* stmts_security.h */
#undef QL__ST_SECURITY_DEF
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
    case QL__ST_CHANGE_APPEND:
    case QL__ST_CHANGE_APPEND_MANY:
    case QL__ST_DELIVERIES_ADD:
    case QL__ST_ENTRY_INSERT_MANY:
    case QL__ST_AUDIT_APPEND_MANY:
    case QL__ST_USAGE_LOG:
    case QL__ST_TOKEN_INSERT:
    case QL__ST_TOKENS_END:
    case QL__ST_MAIL_FORGET:
    case QL__ST_FLAGS_NOTIFY:
        return 1;
    default:
        return 0;
    }
}
