/*
 * stmts_changes.h - the statements of the change log and its consumers, as entries of
 * the statement table in stmts.c (which includes this file inside its initializer, so each
 * repository's SQL can sit in a file of its own while the table stays one array indexed by
 * enum ql__pg_stmt).  Not a header to include anywhere else.
 */
[QL__ST_ACTIVITY_ADD] =
    {"activity_add",
     "INSERT INTO team_activity AS a (team_id, entries_created, entries_updated, "
     "entries_deleted, members_added, members_removed, last_activity_at) SELECT u.t, u.c, "
     "u.up, u.d, u.ma, u.mr, $7 FROM unnest($1::uuid[], $2::int8[], $3::int8[], "
     "$4::int8[], $5::int8[], $6::int8[]) AS u(t, c, up, d, ma, mr) JOIN teams ON "
     "teams.team_id = u.t ON CONFLICT (team_id) DO UPDATE SET entries_created = "
     "a.entries_created + EXCLUDED.entries_created, entries_updated = a.entries_updated + "
     "EXCLUDED.entries_updated, entries_deleted = a.entries_deleted + "
     "EXCLUDED.entries_deleted, members_added = a.members_added + EXCLUDED.members_added, "
     "members_removed = a.members_removed + EXCLUDED.members_removed, last_activity_at = "
     "greatest(a.last_activity_at, EXCLUDED.last_activity_at)",
     7},
    [QL__ST_ACTIVITY_GET] = {"activity_get",
                             "SELECT entries_created, entries_updated, entries_deleted, "
                             "members_added, members_removed, last_activity_at FROM "
                             "team_activity WHERE team_id = $1",
                             1},
    [QL__ST_CHANGE_APPEND] = {"change_append",
                              "INSERT INTO changes (team_id, kind, event, entity_id, "
                              "traceparent) VALUES ($1, $2, $3, $4, $5)",
                              5},
    [QL__ST_CHANGE_APPEND_MANY] =
        {"change_append_many",
         "INSERT INTO changes (team_id, kind, event, entity_id, traceparent) SELECT u.t, u.k, "
         "u.e, u.i, u.tp FROM unnest($1::uuid[], $2::int2[], $3::int2[], $4::uuid[], "
         "$5::text[]) WITH ORDINALITY AS u(t, k, e, i, tp, n) ORDER BY u.n",
         5},
    /*
     * A team's changes after ($2, $3), each with the current state of its thing (the
     * lookups find nothing when it is gone: a tombstone), and first, from the same snapshot,
     * its horizon and the log's floor (one row with the change's columns NULL when there
     * is no change).  The last column says whether a change may be given out: only those
     * of transactions older than every running one (see migrations/0007_changes.up.sql).
     * Those come first; one after them is committed but held back, and tells the reader to
     * look again soon.  No change when ($2, $3) lies below the floor: what followed it was
     * compacted away.  LIMIT 1 on the floor's one row: change_floor is seldom analyzed, and
     * unanalyzed the planner takes it for 1,810 rows, plans the page for 90,000 and hashes the
     * whole of journal_entries for every page.  Each thing is looked up in a LATERAL
     * subquery of its own whose "c.kind = K" the planner turns into a one-time filter: a
     * change looks up only its own kind, by primary key, and no page joins (hashes) a whole
     * table such as team_members (test/integration/test_plans.c checks the plan).  No
     * ORDER BY: the rows come as the lookups give them, and the adapter puts them in the
     * order of the log (repo_changes.c), which costs less than sorting them with their
     * state here.
     */
    [QL__ST_CHANGES_PAGE] =
        {"changes_page",
         "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x, f.txid AS ft, f.seq "
         "AS fs FROM change_floor f LIMIT 1) SELECT h.x::text, h.ft::text, h.fs, c.txid::text, "
         "c.seq, c.kind::int4, c.entity_id, e.journal_entry_id, e.team_id, e.author_user_id, "
         "e.author_api_key_id, e.prompt_id, e.content, e.version, e.created_at, e.updated_at, "
         "e.deleted_at, p.prompt_id, p.team_id, p.text, p.category, p.created_at, p.updated_at, "
         "p.deleted_at, m.user_id, m.email, m.display_name, m.role, m.joined_at, c.txid < h.x "
         "FROM h LEFT JOIN LATERAL (SELECT c.txid, c.seq, c.kind, c.team_id, c.entity_id FROM "
         "changes c WHERE c.team_id = $1 AND (c.txid, c.seq) > ($2::xid8, $3) AND c.kind <= 3 "
         "AND ($2::xid8, $3) >= (h.ft, h.fs) ORDER BY c.txid, c.seq LIMIT $4) c ON true LEFT "
         "JOIN LATERAL (SELECT e.journal_entry_id, e.team_id, e.author_user_id, "
         "e.author_api_key_id, e.prompt_id, e.content, e.version, e.created_at, e.updated_at, "
         "e.deleted_at FROM journal_entries e WHERE c.kind = 1 AND e.journal_entry_id = "
         "c.entity_id AND e.team_id = c.team_id AND e.deleted_at IS NULL LIMIT 1) e ON true "
         "LEFT JOIN LATERAL (SELECT p.prompt_id, p.team_id, p.text, p.category, p.created_at, "
         "p.updated_at, p.deleted_at FROM prompts p WHERE c.kind = 2 AND p.prompt_id = "
         "c.entity_id AND p.deleted_at IS NULL LIMIT 1) p ON true LEFT JOIN LATERAL (SELECT "
         "m.user_id, u.email, u.display_name, m.role, m.joined_at FROM team_members m LEFT JOIN "
         "users u ON u.user_id = m.user_id WHERE c.kind = 3 AND m.team_id = c.team_id AND "
         "m.user_id = c.entity_id LIMIT 1) m ON true",
         4},
    [QL__ST_CHANGES_BOUNDS] = {"changes_bounds",
                               "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, "
                               "f.txid::text, f.seq FROM change_floor f",
                               0},
    [QL__ST_LIVE_ENTRIES] =
        {"live_entries",
         "SELECT journal_entry_id, team_id, author_user_id, author_api_key_id, prompt_id, "
         "content, version, created_at, updated_at, deleted_at FROM journal_entries WHERE "
         "team_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR (created_at, "
         "journal_entry_id) < ($3, $2)) ORDER BY created_at DESC, journal_entry_id DESC LIMIT $4",
         4},
    [QL__ST_LIVE_PROMPTS] =
        {"live_prompts",
         "SELECT prompt_id, team_id, text, category, created_at, updated_at, deleted_at FROM "
         "prompts WHERE (team_id IS NULL OR team_id = $1) AND deleted_at IS NULL AND ($2::uuid "
         "IS NULL OR prompt_id > $2) ORDER BY prompt_id LIMIT $3",
         3},
    [QL__ST_CONSUMER_LOCK] = {"consumer_lock",
                              "SELECT txid::text, seq FROM change_consumers WHERE name = $1 FOR "
                              "UPDATE SKIP LOCKED",
                              1},
    [QL__ST_CONSUMER_READ] =
        {"consumer_read",
         "SELECT txid::text, seq, team_id, event::int4, entity_id, traceparent FROM changes "
         "WHERE (txid, seq) "
         "> ($1::xid8, $2) AND txid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY txid, "
         "seq LIMIT $3",
         3},
    [QL__ST_CONSUMER_ADVANCE] = {"consumer_advance",
                                 "UPDATE change_consumers SET txid = $4::xid8, seq = $5, "
                                 "updated_at = now() WHERE name = $1 AND txid = $2::xid8 AND "
                                 "seq = $3",
                                 5},
    [QL__ST_CHANGES_MARK] = {"changes_mark",
                             "INSERT INTO change_marks (at, txid, seq) VALUES ($1, "
                             "pg_snapshot_xmin(pg_current_snapshot()), 0) ON CONFLICT DO "
                             "NOTHING",
                             1},
    /*
     * Cut below the newest mark older than $1 that every consumer has passed; raise the
     * floor there, and drop the marks older than the one used.
     */
    [QL__ST_CHANGES_COMPACT] = {
        "changes_compact",
        "WITH m AS (SELECT at, txid FROM change_marks WHERE at < $1 ORDER BY at DESC LIMIT 1), "
        "cut AS (SELECT m.at, least(m.txid, (SELECT min(txid) FROM change_consumers)) AS txid "
        "FROM m), gone AS (DELETE FROM changes c USING cut WHERE c.txid < cut.txid RETURNING "
        "1), raised AS (UPDATE change_floor f SET txid = cut.txid, seq = 0 FROM cut WHERE "
        "cut.txid > f.txid RETURNING 1), old AS (DELETE FROM change_marks k USING cut WHERE "
        "k.at < cut.at RETURNING 1) SELECT count(*)::int8 FROM gone",
        1},
