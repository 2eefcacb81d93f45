/*
 * stmts_pages.h - the statements that read pages of journal entries, as entries of the
 * statement table in stmts.c (included inside its initializer, as stmts_changes.h is, which
 * uses the macros defined here).  Not a header to include anywhere else.
 *
 * A page is bounded by bytes as well as by count (QL_PAGE_CONTENT_MAX, store.h), where the
 * rows are read, so neither libpq's result nor the request's arena ever holds much more than
 * that.  Each page is read by two statements that differ in their content column:
 *
 *  - The usual one gives content only up to 4096 bytes, and NULL for a longer one
 *    (QL__PG_LIST_SMALL, QL__PG_DELTA_SMALL; content is never NULL otherwise).  With at most
 *    201 rows (limit 200 and the row that says more follow) that is under 1 MiB, and entries
 *    under 4096 bytes never reach the budget: such a page is the page.  octet_length reads
 *    the length from the value's header, without fetching a TOASTed value; the CASE costs
 *    next to nothing.  When a row of the page comes without its content, the reader answers
 *    QL__PG_LARGE, and the page is read again with:
 *  - The _bytes one: a running sum of octet_length(content) in the page's own order, and an
 *    entry whose predecessors on the page already carry the budget comes without content
 *    (QL__PG_LIST_BYTES, QL__PG_DELTA_BYTES).  The reader ends the page before the first
 *    such row (QL__PG_CUT) and knows more follow.  The rows after the cut still come, but
 *    narrow: the LIMIT and the row that says more follow stay as they are.
 *
 * Why not the _bytes statement alone: its WindowAgg, over a page of 51 rows of 150
 * characters, took the statement from about 50 to 85-125 us of execution (a PL/pgSQL loop of
 * 4000 runs, three rounds), where the CASE alone costs 0-10 us; pages of large entries are
 * rare, and what they carry dwarfs a second statement.  Rejected too: a cursor or libpq's
 * single-row mode (a round trip per chunk, or every row still sent and dropped), and a
 * first statement for the sizes (a round trip on every page).  A tombstone of a delta page
 * neither carries content nor counts.  Where the session is an event loop's, QL__PG_LARGE
 * runs the request again on the pool (pipe.c), which reads both statements.
 */
#define QL__PG_LIST_SMALL "CASE WHEN octet_length(content) <= 4096 THEN content END"
#define QL__PG_LIST_BYTES                                                                          \
    "CASE WHEN sum(octet_length(content)) OVER (ORDER BY created_at DESC, journal_entry_id "       \
    "DESC ROWS UNBOUNDED PRECEDING) - octet_length(content) < 1048576 THEN content END"
#define QL__PG_DELTA_SMALL                                                                         \
    "CASE WHEN e.deleted_at IS NULL AND octet_length(e.content) <= 4096 THEN e.content END"
#define QL__PG_DELTA_BYTES                                                                         \
    "CASE WHEN e.deleted_at IS NULL AND sum(octet_length(e.content)) FILTER (WHERE "               \
    "e.deleted_at IS NULL) OVER (ORDER BY e.change_txid, e.change_seq ROWS UNBOUNDED "             \
    "PRECEDING) - octet_length(e.content) < 1048576 THEN e.content END"
/* The parts of a page of entries around its content column. */
#define QL__PG_LIST_HEAD                                                                           \
    "SELECT journal_entry_id, team_id, author_user_id, author_api_key_id, prompt_id, "
#define QL__PG_LIST_ALL                                                                            \
    ", version, created_at, updated_at, deleted_at FROM journal_entries WHERE team_id = $1 "       \
    "AND deleted_at IS NULL AND (created_at, journal_entry_id) < ($2, $3) ORDER BY "               \
    "created_at DESC, journal_entry_id DESC LIMIT $4"
#define QL__PG_LIST_AUTHOR                                                                         \
    ", version, created_at, updated_at, deleted_at FROM journal_entries WHERE team_id = $1 "       \
    "AND deleted_at IS NULL AND (created_at, journal_entry_id) < ($2, $3) AND "                    \
    "author_user_id = $5 ORDER BY created_at DESC, journal_entry_id DESC LIMIT $4"
#define QL__PG_LIST_PROMPT                                                                         \
    ", version, created_at, updated_at, deleted_at FROM journal_entries WHERE team_id = $1 "       \
    "AND deleted_at IS NULL AND (created_at, journal_entry_id) < ($2, $3) AND prompt_id = "        \
    "$5 ORDER BY created_at DESC, journal_entry_id DESC LIMIT $4"
#define QL__PG_LIST_BOTH                                                                           \
    ", version, created_at, updated_at, deleted_at FROM journal_entries WHERE team_id = $1 "       \
    "AND deleted_at IS NULL AND (created_at, journal_entry_id) < ($2, $3) AND "                    \
    "author_user_id = $5 AND prompt_id = $6 ORDER BY created_at DESC, journal_entry_id "           \
    "DESC LIMIT $4"
#define QL__PG_LIVE_ENTRIES                                                                        \
    ", version, created_at, updated_at, deleted_at FROM journal_entries WHERE team_id = $1 "       \
    "AND deleted_at IS NULL AND ($2::uuid IS NULL OR (created_at, journal_entry_id) < ($3, "       \
    "$2)) ORDER BY created_at DESC, journal_entry_id DESC LIMIT $4"
/* The parts of changes_page and changes_page_entries (stmts_changes.h) around it. */
#define QL__PG_CHANGES_PAGE_HEAD                                                                   \
    "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x, f.txid AS ft, f.seq "         \
    "AS fs FROM change_floor f LIMIT 1) SELECT h.x::text, h.ft::text, h.fs, c.txid::text, "        \
    "c.seq, c.kind, c.entity_id, c.e_id, c.e_team, c.e_user, c.e_key, c.e_prompt, "                \
    "c.e_content, c.e_version, c.e_created, c.e_updated, c.e_deleted, c.p_id, c.p_team, "          \
    "c.p_text, c.p_category, c.p_created, c.p_updated, c.p_deleted, c.m_user, c.m_email, "         \
    "c.m_name, c.m_role, c.m_joined, c.txid < h.x FROM h LEFT JOIN LATERAL ((SELECT "              \
    "e.change_txid AS txid, e.change_seq AS seq, 1 AS kind, e.journal_entry_id AS "                \
    "entity_id, CASE WHEN e.deleted_at IS NULL THEN e.journal_entry_id END AS e_id, "              \
    "e.team_id AS e_team, e.author_user_id AS e_user, e.author_api_key_id AS e_key, "              \
    "e.prompt_id AS e_prompt, "
#define QL__PG_CHANGES_PAGE_TAIL                                                                   \
    " AS e_content, e.version AS e_version, e.created_at AS e_created, e.updated_at AS "           \
    "e_updated, e.deleted_at AS e_deleted, NULL::uuid AS p_id, NULL::uuid AS p_team, "             \
    "NULL::text AS p_text, NULL::text AS p_category, NULL::timestamptz AS p_created, "             \
    "NULL::timestamptz AS p_updated, NULL::timestamptz AS p_deleted, NULL::uuid AS m_user, "       \
    "NULL::text AS m_email, NULL::text AS m_name, NULL::text AS m_role, NULL::timestamptz "        \
    "AS m_joined FROM journal_entries e WHERE e.team_id = $1 AND (e.change_txid, "                 \
    "e.change_seq) > ($2::xid8, $3) ORDER BY e.change_txid, e.change_seq LIMIT $4) UNION "         \
    "ALL (SELECT p.change_txid, p.change_seq, 2, p.prompt_id, NULL, NULL, NULL, NULL, "            \
    "NULL, NULL, NULL, NULL, NULL, NULL, CASE WHEN p.deleted_at IS NULL THEN p.prompt_id "         \
    "END, p.team_id, p.text, p.category, p.created_at, p.updated_at, p.deleted_at, NULL, "         \
    "NULL, NULL, NULL, NULL FROM prompts p WHERE p.team_id = $1 AND (p.change_txid, "              \
    "p.change_seq) > ($2::xid8, $3) ORDER BY p.change_txid, p.change_seq LIMIT $4) UNION "         \
    "ALL (SELECT m.change_txid, m.change_seq, 3, m.user_id, NULL, NULL, NULL, NULL, NULL, "        \
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, m.user_id, "          \
    "u.email, u.display_name, m.role, m.joined_at FROM team_members m JOIN users u ON "            \
    "u.user_id = m.user_id WHERE m.team_id = $1 AND (m.change_txid, m.change_seq) > "              \
    "($2::xid8, $3) ORDER BY m.change_txid, m.change_seq LIMIT $4) UNION ALL (SELECT "             \
    "t.change_txid, t.change_seq, t.kind::int4, t.entity_id, NULL, NULL, NULL, NULL, NULL, "       \
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "         \
    "NULL, NULL, NULL FROM sync_tombstones t WHERE t.team_id = $1 AND (t.change_txid, "            \
    "t.change_seq) > ($2::xid8, $3) ORDER BY t.change_txid, t.change_seq LIMIT $4)) c ON "         \
    "($2::xid8, $3) >= (h.ft, h.fs)"
#define QL__PG_ENTRIES_PAGE_HEAD                                                                   \
    "WITH k AS (SELECT $5::xid8 IS NULL OR EXISTS (SELECT FROM journal_entries c WHERE "           \
    "c.team_id = $1 AND c.change_txid >= $5::xid8) OR EXISTS (SELECT FROM team_sync_others s "     \
    "WHERE s.team_id = $1 AND s.txid >= $5::xid8) AS stale) (SELECT "                              \
    "pg_snapshot_xmin(pg_current_snapshot()), f.seq, NULL::uuid, NULL::uuid, NULL::uuid, "         \
    "NULL::uuid, NULL::text, EXISTS (SELECT FROM team_sync_others o WHERE o.team_id = $1 AND "     \
    "(o.txid, o.seq) > ($2::xid8, $3))::int4, NULL::timestamptz, NULL::timestamptz, "              \
    "NULL::timestamptz, f.txid, (NOT k.stale)::int4 FROM change_floor f, k LIMIT 1) UNION ALL "    \
    "(SELECT e.change_txid, e.change_seq, e.journal_entry_id, e.author_user_id, "                  \
    "e.author_api_key_id, e.prompt_id, "
#define QL__PG_ENTRIES_PAGE_TAIL                                                                   \
    ", e.version, e.created_at, e.updated_at, e.deleted_at, NULL::xid8, NULL::int4 FROM "          \
    "journal_entries e WHERE e.team_id = $1 AND (e.change_txid, e.change_seq) > ($2::xid8, "       \
    "$3) AND (SELECT k.stale FROM k) ORDER BY e.change_txid, e.change_seq LIMIT $4)"
[QL__ST_ENTRY_LIST] = {"entry_list", QL__PG_LIST_HEAD QL__PG_LIST_SMALL QL__PG_LIST_ALL, 4},
    [QL__ST_ENTRY_LIST_BYTES] = {"entry_list_bytes",
                                 QL__PG_LIST_HEAD QL__PG_LIST_BYTES QL__PG_LIST_ALL, 4},
    [QL__ST_ENTRY_LIST_AUTHOR] = {"entry_list_author",
                                  QL__PG_LIST_HEAD QL__PG_LIST_SMALL QL__PG_LIST_AUTHOR, 5},
    [QL__ST_ENTRY_LIST_AUTHOR_BYTES] = {"entry_list_author_bytes",
                                        QL__PG_LIST_HEAD QL__PG_LIST_BYTES QL__PG_LIST_AUTHOR, 5},
    [QL__ST_ENTRY_LIST_PROMPT] = {"entry_list_prompt",
                                  QL__PG_LIST_HEAD QL__PG_LIST_SMALL QL__PG_LIST_PROMPT, 5},
    [QL__ST_ENTRY_LIST_PROMPT_BYTES] = {"entry_list_prompt_bytes",
                                        QL__PG_LIST_HEAD QL__PG_LIST_BYTES QL__PG_LIST_PROMPT, 5},
    [QL__ST_ENTRY_LIST_BOTH] = {"entry_list_both",
                                QL__PG_LIST_HEAD QL__PG_LIST_SMALL QL__PG_LIST_BOTH, 6},
    [QL__ST_ENTRY_LIST_BOTH_BYTES] = {"entry_list_both_bytes",
                                      QL__PG_LIST_HEAD QL__PG_LIST_BYTES QL__PG_LIST_BOTH, 6},
    [QL__ST_LIVE_ENTRIES] = {"live_entries", QL__PG_LIST_HEAD QL__PG_LIST_SMALL QL__PG_LIVE_ENTRIES,
                             4},
    [QL__ST_LIVE_ENTRIES_BYTES] = {"live_entries_bytes",
                                   QL__PG_LIST_HEAD QL__PG_LIST_BYTES QL__PG_LIVE_ENTRIES, 4},
