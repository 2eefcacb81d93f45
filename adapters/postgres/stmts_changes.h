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
     * The things of a team changed after ($2, $3), read from the things themselves (see
     * migrations/0017_sync_state.up.sql): each journal entry, team prompt and membership at
     * the position of its last change, in its state now, and the tombstones of what is gone
     * for good; a soft-deleted entry or prompt reads as a tombstone (its first column NULL).
     * Each kind is a walk of its (team_id, change_txid, change_seq) index, at most $4 rows;
     * the adapter merges them in position order (repo_changes.c) and keeps the first $4.
     * First, from the same snapshot, come the horizon and the log's floor (one row with the
     * thing's columns NULL when nothing changed).  The last column says whether a row may be
     * given out: only those of transactions older than every running one (see
     * migrations/0007_changes.up.sql); one after them is committed but held back, and tells
     * the reader to look again soon.  Nothing when ($2, $3) lies below the floor: what
     * changed before it may have been purged.  LIMIT 1 on the floor's one row: change_floor
     * is seldom analyzed, and unanalyzed the planner takes it for 1,810 rows.  Its text is in
     * stmts_pages.h, around the content column; changes_page_bytes bounds the page by bytes.
     */
    [QL__ST_CHANGES_PAGE] = {"changes_page",
                             QL__PG_CHANGES_PAGE_HEAD QL__PG_DELTA_SMALL QL__PG_CHANGES_PAGE_TAIL,
                             4},
    [QL__ST_CHANGES_PAGE_BYTES] = {"changes_page_bytes",
                                   QL__PG_CHANGES_PAGE_HEAD QL__PG_DELTA_BYTES
                                       QL__PG_CHANGES_PAGE_TAIL,
                                   4},
    /*
     * changes_page when only entries changed after ($2, $3), which is nearly always: the
     * entries' walk alone, in 13 narrow columns (numbered from 0 here), behind one header
     * row read in the same snapshot.  An entry's row: its position (0, 1) and the entry
     * without its team, which the caller knows (2 to 10, as ql__pg_entry_in reads them).
     * The header is the row without an entry id: the horizon (column 0), the floor
     * (columns 11 and 1), and in column 7 whether a prompt, membership or tombstone of the
     * team changed after ($2, $3) too, from the team's one row of team_sync_others
     * (migrations/0018_sync_others.up.sql); then changes_other_first says where the first
     * of those lies, and only a page that reaches it is changes_page's.  The reader
     * holds back what the horizon does not cover and gives nothing below the floor, as
     * changes_page does in SQL.  Most of a generic plan's cost per execution is starting
     * its nodes and locking its relations: this one has three small scans.  Each non-null
     * column of a row costs the server a send function (51 rows a page), so the rows carry
     * nothing the reader can do without: positions as binary xid8 (eight bytes, as an
     * int8) rather than printed, no kind, no team.  $5, when not NULL, is the horizon below
     * which this page was read before (pagecache.c): then the entries come only if some
     * entry, prompt, membership or tombstone of the team has a position at or past it now,
     * and column 12 of the header says the page kept is still the page (1).  Its text and
     * its _bytes twin: stmts_pages.h.
     */
    [QL__ST_CHANGES_PAGE_ENTRIES] = {"changes_page_entries",
                                     QL__PG_ENTRIES_PAGE_HEAD QL__PG_DELTA_SMALL
                                         QL__PG_ENTRIES_PAGE_TAIL,
                                     5},
    [QL__ST_CHANGES_PAGE_ENTRIES_BYTES] = {"changes_page_entries_bytes",
                                           QL__PG_ENTRIES_PAGE_HEAD QL__PG_DELTA_BYTES
                                               QL__PG_ENTRIES_PAGE_TAIL,
                                           5},
    /*
     * When team_sync_others says a prompt, membership or tombstone of team $1 changed after
     * ($2, $3): the first such position (columns 2 and 3; NULL when none is left), and the
     * floor (0 and 1) in the same snapshot, as changes_page_entries read them in its own.  A
     * page of entries that ends before that position is the whole page; one that reaches
     * it is changes_page's (repo_changes.c).  Each kind's position index gives its first
     * row: three probes, paid only by the pages of a team whose other things changed.
     */
    [QL__ST_CHANGES_OTHER_FIRST] =
        {"changes_other_first",
         "SELECT f.txid::text, f.seq, o.t::text, o.s FROM change_floor f LEFT JOIN LATERAL "
         "(SELECT a.t, a.s FROM ((SELECT p.change_txid AS t, p.change_seq AS s FROM prompts p "
         "WHERE p.team_id = $1 AND (p.change_txid, p.change_seq) > ($2::xid8, $3) ORDER BY "
         "p.change_txid, p.change_seq LIMIT 1) UNION ALL (SELECT m.change_txid, m.change_seq "
         "FROM team_members m WHERE m.team_id = $1 AND (m.change_txid, m.change_seq) > "
         "($2::xid8, $3) ORDER BY m.change_txid, m.change_seq LIMIT 1) UNION ALL (SELECT "
         "t.change_txid, t.change_seq FROM sync_tombstones t WHERE t.team_id = $1 AND "
         "(t.change_txid, t.change_seq) > ($2::xid8, $3) ORDER BY t.change_txid, t.change_seq "
         "LIMIT 1)) a ORDER BY a.t, a.s LIMIT 1) o ON true LIMIT 1",
         3},
    [QL__ST_CHANGES_BOUNDS] = {"changes_bounds",
                               "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, "
                               "f.txid::text, f.seq FROM change_floor f",
                               0},
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
    /*
     * Ordered by the table's columns, c.txid: a bare "txid" would name the output column
     * txid::text and sort positions as text ("10000" before "9999").
     */
    [QL__ST_CONSUMER_READ] =
        {"consumer_read",
         "SELECT c.txid::text, c.seq, c.team_id, c.event::int4, c.entity_id, c.traceparent FROM "
         "changes c WHERE (c.txid, c.seq) > ($1::xid8, $2) AND c.txid < "
         "pg_snapshot_xmin(pg_current_snapshot()) ORDER BY c.txid, c.seq LIMIT $3",
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
     * Cut below the newest mark older than $1 that every consumer has passed: raise the
     * floor there and drop the marks older than the one used.  What lies below the floor
     * has expired for every reader; changes_compact_batch deletes it, a batch a
     * transaction, so no one transaction holds back the horizon for the whole log.
     */
    [QL__ST_CHANGES_COMPACT] =
        {"changes_compact",
         "WITH m AS (SELECT at, txid FROM change_marks WHERE at < $1 ORDER BY at DESC LIMIT 1), "
         "cut AS (SELECT m.at, least(m.txid, (SELECT min(txid) FROM change_consumers)) AS txid "
         "FROM m), raised AS (UPDATE change_floor f SET txid = cut.txid, seq = 0 FROM cut WHERE "
         "cut.txid > f.txid RETURNING 1), old AS (DELETE FROM change_marks k USING cut WHERE "
         "k.at < cut.at RETURNING 1) SELECT count(*)::int8 FROM raised",
         1},
    /*
     * At most $1 changes below the floor, oldest first (the primary key's order), and at
     * most $1 sync tombstones below it: how many of each went.
     */
    [QL__ST_CHANGES_COMPACT_BATCH] = {
        "changes_compact_batch",
        "WITH f AS (SELECT txid FROM change_floor LIMIT 1), gone AS (DELETE FROM changes c "
        "WHERE (c.txid, c.seq, c.team_id) IN (SELECT d.txid, d.seq, d.team_id FROM changes d, "
        "f WHERE d.txid < f.txid ORDER BY d.txid, d.seq, d.team_id LIMIT $1) RETURNING 1), "
        "tomb AS (DELETE FROM sync_tombstones t WHERE t.ctid = ANY (ARRAY(SELECT s.ctid FROM "
        "sync_tombstones s, f WHERE s.change_txid < f.txid LIMIT $1)) RETURNING 1) SELECT "
        "(SELECT count(*) FROM gone)::int8, (SELECT count(*) FROM tomb)::int8",
        1},
