/*
 * stmts_rights.h - the statements of data rights (exports and erasure), as entries of the
 * statement table in stmts.c (included inside its initializer; see stmts_changes.h).  Not
 * a header to include anywhere else.
 *
 * Keyset pages start after a position that is never NULL (the nil UUID, or '' for text):
 * "$2 IS NULL OR key > $2" would make the generic plan of a prepared statement scan from
 * the start on every page.
 */
#define QL__PG_EXPORT_COLS                                                                         \
    "x.export_id, x.user_id, x.status, x.error, x.bytes, x.created_at, x.ready_at, x.expires_at"
[QL__ST_R_ACCOUNT] = {"r_account",
                      "SELECT user_id, email, display_name, password_hash, created_at, "
                      "updated_at, oidc_issuer, oidc_subject FROM users WHERE user_id = $1 AND "
                      "erased_at IS NULL",
                      1},
    [QL__ST_R_MEMBERSHIPS] = {"r_memberships",
                              "SELECT m.team_id, t.name, m.role, m.joined_at, t.deleted_at IS "
                              "NOT NULL FROM team_members m JOIN teams t ON t.team_id = "
                              "m.team_id WHERE m.user_id = $1 AND m.team_id > $2 ORDER BY "
                              "m.team_id LIMIT $3",
                              3},
    /*
     * Bounded by bytes as well as by count (QL_PAGE_CONTENT_MAX, store.h), as the pages of
     * stmts_pages.h are: an entry whose predecessors on the page already carry 1 MiB of
     * content comes without it (content is never NULL otherwise), and the reader ends the
     * page before it.  One statement: the export job reads few pages, and its WindowAgg costs
     * microseconds, where a page of 50 entries of 100,000 characters held up to 20 MB.
     */
    [QL__ST_R_ENTRIES] = {"r_entries",
                          "SELECT journal_entry_id, team_id, author_user_id, author_api_key_id, "
                          "prompt_id, CASE WHEN sum(octet_length(content)) OVER (ORDER BY "
                          "journal_entry_id ROWS UNBOUNDED PRECEDING) - octet_length(content) < "
                          "1048576 THEN content END, version, created_at, updated_at, deleted_at "
                          "FROM journal_entries WHERE author_user_id = $1 AND journal_entry_id > "
                          "$2 ORDER BY journal_entry_id LIMIT $3",
                          3},
    [QL__ST_R_SESSIONS] = {"r_sessions",
                           "SELECT session_id, created_at, last_seen_at, expires_at FROM "
                           "sessions WHERE user_id = $1 AND session_id > $2 ORDER BY session_id "
                           "LIMIT $3",
                           3},
    [QL__ST_R_KEYS] = {"r_keys",
                       "SELECT api_key_id, team_id, name, role, prefix, created_at, expires_at, "
                       "last_used_at, revoked_at FROM api_keys WHERE created_by = $1 AND "
                       "api_key_id > $2 ORDER BY api_key_id LIMIT $3",
                       3},
    /* The log's key order: a range scan of its primary key, filtered. */
    [QL__ST_R_AUDIT] = {"r_audit",
                        "SELECT chain, seq, audit_id, team_id, at, actor, action, target_type, "
                        "target_id FROM audit_log WHERE (chain, seq) > ($3, $4) AND (actor = $1 "
                        "OR target_id = $2) ORDER BY chain, seq LIMIT $5",
                        5},
    /*
     * The pending export (unexpired), the number of unexpired exports and the first of their
     * expiries; the users row is locked against a concurrent request (NO KEY UPDATE: logins
     * and memberships, whose foreign keys take KEY SHARE, do not wait for it).
     */
    [QL__ST_EXPORT_STATE] =
        {"export_state",
         "SELECT (SELECT count(*) FROM exports y WHERE y.user_id = u.user_id AND y.expires_at > "
         "$2)::int8, (SELECT min(y.expires_at) FROM exports y WHERE y.user_id = u.user_id AND "
         "y.expires_at > $2), " QL__PG_EXPORT_COLS " FROM users u LEFT JOIN LATERAL (SELECT * "
         "FROM exports z WHERE z.user_id = u.user_id AND z.status = 'pending' AND z.expires_at > "
         "$2 ORDER BY z.created_at DESC LIMIT 1) x ON true WHERE u.user_id = $1 AND u.erased_at "
         "IS NULL FOR NO KEY UPDATE OF u",
         2},
    [QL__ST_EXPORT_INSERT] = {"export_insert",
                              "INSERT INTO exports (export_id, user_id, status, created_at, "
                              "expires_at) VALUES ($1, $2, 'pending', $3, $4)",
                              4},
    [QL__ST_EXPORT_GET] = {"export_get",
                           "SELECT " QL__PG_EXPORT_COLS " FROM exports x WHERE x.export_id = $1",
                           1},
    [QL__ST_EXPORT_RESET] = {"export_reset", "DELETE FROM export_parts WHERE export_id = $1", 1},
    [QL__ST_EXPORT_APPEND] = {"export_append",
                              "INSERT INTO export_parts (export_id, part, data) VALUES ($1, $2, "
                              "$3::text)",
                              3},
    [QL__ST_EXPORT_FINISH] = {"export_finish",
                              "UPDATE exports SET status = $2, error = $3, bytes = $4, ready_at "
                              "= $5, expires_at = $6 WHERE export_id = $1 AND status = 'pending'",
                              6},
    [QL__ST_EXPORT_PARTS] = {"export_parts",
                             "SELECT part, data FROM export_parts WHERE export_id = $1 AND part > "
                             "$2 ORDER BY part LIMIT $3",
                             3},
    [QL__ST_EXPORTS_PURGE] = {"exports_purge", "DELETE FROM exports WHERE expires_at <= $1", 1},
    [QL__ST_EXPORTS_REMOVE_USER] = {"exports_remove_user", "DELETE FROM exports WHERE user_id = $1",
                                    1},
    /* The email it had comes back; nothing of the person stays in the row. */
    [QL__ST_ERASE_USER] =
        {"erase_user",
         "WITH old AS (SELECT user_id, email FROM users WHERE user_id = $1 AND erased_at IS NULL "
         "FOR UPDATE) UPDATE users u SET email = 'erased:' || u.user_id::text, display_name = '', "
         "password_hash = NULL, oidc_issuer = NULL, oidc_subject = NULL, erased_at = $2, "
         "updated_at = $2 FROM old WHERE u.user_id = old.user_id RETURNING old.email",
         2},
    /* Each erased entry leaves its tombstone for delta sync (migration 0017). */
    [QL__ST_ERASE_ENTRIES] =
        {"erase_entries",
         "WITH d AS (DELETE FROM journal_entries e WHERE e.journal_entry_id IN (SELECT "
         "journal_entry_id FROM journal_entries WHERE author_user_id = $1 ORDER BY "
         "journal_entry_id LIMIT $2 FOR UPDATE) RETURNING e.team_id, e.journal_entry_id, "
         "e.deleted_at IS NULL AS live), t AS (INSERT INTO sync_tombstones (team_id, kind, "
         "entity_id) SELECT d.team_id, 1, d.journal_entry_id FROM d ON CONFLICT (team_id, kind, "
         "entity_id) DO UPDATE SET change_txid = EXCLUDED.change_txid, change_seq = "
         "EXCLUDED.change_seq) SELECT team_id, journal_entry_id, live FROM d",
         2},
    [QL__ST_SCRUB_DELIVERIES] =
        {"scrub_deliveries",
         "WITH page AS (SELECT delivery_id, body FROM webhook_deliveries WHERE delivery_id > $1 "
         "ORDER BY delivery_id LIMIT $2), gone AS (DELETE FROM webhook_deliveries d USING page p "
         "WHERE d.delivery_id = p.delivery_id AND (strpos(p.body, $3) > 0 OR strpos(p.body, $4) "
         "> 0) RETURNING 1) SELECT (SELECT delivery_id FROM page ORDER BY delivery_id DESC LIMIT "
         "1), (SELECT count(*) FROM page)::int8, (SELECT count(*) FROM gone)::int8",
         4},
    [QL__ST_IDEM_REMOVE_SCOPE] = {"idem_remove_scope",
                                  "DELETE FROM idempotency_keys WHERE scope = $1", 1},
    /*
     * Bounded by bytes as r_entries is: a stored answer holds an entry of up to 100,000
     * characters, and a page of 500 of them held 200 MB.  A record whose predecessors on the
     * page carry 1 MiB comes without its response (never NULL otherwise): the page ends.
     */
    [QL__ST_IDEM_PAGE] = {"idem_page",
                          "SELECT scope, key, fingerprint, status, CASE WHEN "
                          "sum(octet_length(response)) OVER (ORDER BY scope, key ROWS UNBOUNDED "
                          "PRECEDING) - octet_length(response) < 1048576 THEN response END, "
                          "created_at, expires_at FROM idempotency_keys WHERE (scope, key) > ($1, "
                          "$2) ORDER BY scope, key LIMIT $3",
                          3},
    [QL__ST_IDEM_REMOVE] = {"idem_remove",
                            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2", 2},
#undef QL__PG_EXPORT_COLS
