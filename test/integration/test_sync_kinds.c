/*
 * test_sync_kinds.c - delta pages of a team whose prompts, memberships or tombstones
 * changed as well as its entries, against the real PostgreSQL: the team's row of other
 * changes, the page of entries that stands before the first of them, and a floor raised
 * between that page and the probe that finds them.
 */
#include "arena/arena.h"
#include "changes/changes.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "integration/sync_world.h"
#include "store/store.h"

#include <pthread.h>

/* A session reading the change pages of one team. */
struct reader {
    struct ql_store *s;
    struct ql_arena arena;
    struct ql_ctx cx;
    struct ql_uuid team;
};

/* ---- the team's row of other changes ---------------------------------------------------------
 * A delta page asks team_sync_others, not the tables of prompts, memberships and tombstones,
 * whether something other than entries changed after its cursor (migration 0018).  So the
 * row must hold the newest position among the three after every kind of change, and keep
 * it when two transactions commit out of the order of their positions.
 */

/* "txid seq" of the team's row, and the newest position among its three tables. */
static void others_row_is_newest(const char *team)
{
    char sql[1024], row[64];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce((SELECT txid || ' ' || seq FROM team_sync_others WHERE team_id = "
             "'%s'), 'none')",
             team);
    const char *got = itest_sql(url, sql);
    ASSERT_NOT_NULL(got);
    snprintf(row, sizeof(row), "%s", got);
    snprintf(sql, sizeof(sql),
             "SELECT coalesce((SELECT txid || ' ' || seq FROM (SELECT change_txid AS txid, "
             "change_seq AS seq FROM prompts WHERE team_id = '%s' UNION ALL SELECT change_txid, "
             "change_seq FROM team_members WHERE team_id = '%s' UNION ALL SELECT change_txid, "
             "change_seq FROM sync_tombstones WHERE team_id = '%s') a ORDER BY txid DESC, seq "
             "DESC LIMIT 1), 'none')",
             team, team, team);
    const char *want = itest_sql(url, sql);
    ASSERT_NOT_NULL(want);
    ASSERT_STR_EQ(row, want);
}

static void test_the_teams_row_of_other_changes_holds_the_newest(void)
{
    char sql[2048], ts[QL_UUID_STR_LEN + 1], us[QL_UUID_STR_LEN + 1], vs[QL_UUID_STR_LEN + 1];
    fresh_row(210, ts, 1);
    fresh_row(211, us, 0);
    fresh_row(212, vs, 0);
    others_row_is_newest(ts); /* none yet */
    static const char *const steps[] = {
        "INSERT INTO team_members (team_id, user_id, role, joined_at) VALUES ('%1$s', '%2$s', "
        "'owner', now()), ('%1$s', '%3$s', 'viewer', now())",
        "INSERT INTO prompts (prompt_id, team_id, text, category, created_at, updated_at) "
        "VALUES (gen_random_uuid(), '%1$s', 'p', 'c', now(), now())",
        "UPDATE team_members SET role = 'member', change_txid = pg_current_xact_id(), "
        "change_seq = nextval('changes_seq') WHERE team_id = '%1$s' AND user_id = '%3$s'",
        "UPDATE prompts SET deleted_at = now(), change_txid = pg_current_xact_id(), change_seq "
        "= nextval('changes_seq') WHERE team_id = '%1$s'",
        "WITH d AS (DELETE FROM team_members WHERE team_id = '%1$s' AND user_id = '%3$s' "
        "RETURNING team_id, user_id) INSERT INTO sync_tombstones (team_id, kind, entity_id) "
        "SELECT team_id, 3, user_id FROM d",
        /* a change that moves nothing leaves the row where it is */
        "UPDATE team_members SET role = 'owner' WHERE team_id = '%1$s' AND user_id = '%2$s'",
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        snprintf(sql, sizeof(sql), steps[i], ts, us, vs);
        ASSERT_NOT_NULL(itest_sql(url, sql));
        others_row_is_newest(ts);
    }

    /*
     * Out of order: a takes the older transaction id, b a newer one; b changes a membership
     * and commits, then a adds a prompt (its position the older, by its id) and commits.
     * The row keeps b's, the newest.
     */
    PGconn *a = connect_or_fail(), *b = connect_or_fail();
    char prompt_a[512], role_b[512];
    snprintf(prompt_a, sizeof(prompt_a),
             "INSERT INTO prompts (prompt_id, team_id, text, category, created_at, updated_at) "
             "VALUES (gen_random_uuid(), '%s', 'a', 'c', now(), now())",
             ts);
    snprintf(role_b, sizeof(role_b),
             "UPDATE team_members SET role = 'admin', change_txid = pg_current_xact_id(), "
             "change_seq = nextval('changes_seq') WHERE team_id = '%s' AND user_id = '%s'",
             ts, us);
    exec_ok(a, "BEGIN; SELECT pg_current_xact_id()");
    exec_ok(b, "BEGIN");
    exec_ok(b, role_b);
    exec_ok(b, "COMMIT");
    exec_ok(a, prompt_a);
    exec_ok(a, "COMMIT");
    others_row_is_newest(ts);

    /* And in order with a wait: a writes first; b's write waits for a's lock on the row. */
    exec_ok(a, "BEGIN");
    exec_ok(a, prompt_a);
    exec_ok(b, "BEGIN");
    ASSERT_TRUE(PQsendQuery(b, role_b) == 1);
    exec_ok(a, "COMMIT");
    PGresult *r;
    while ((r = PQgetResult(b)) != NULL) {
        ASSERT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK);
        PQclear(r);
    }
    exec_ok(b, "COMMIT");
    others_row_is_newest(ts);
    PQfinish(a);
    PQfinish(b);
}

/* ---- a page of entries beside other kinds' changes ---------------------------------------------
 * A page of entries stands if it ends before the first other change after its cursor
 * (changes_other_first); one that reaches it is read with every kind, in position order.
 * page_kinds: the page of rd's team after pos, as "EEPE" (E entry, P prompt, M member, X gone).
 */
static void page_kinds(struct reader *rd, const struct ql_change_pos *pos, int limit,
                       struct ql_change_page *pg, char *kinds)
{
    ql_arena_reset(&rd->arena);
    ASSERT_INT_EQ(ql_store_changes_page(rd->s, &rd->cx, &rd->team, pos, limit, 1, pg), QL_OK);
    for (int i = 0; i < pg->n; i++)
        kinds[i] = pg->items[i].deleted ? 'X' : "?EPM"[pg->items[i].kind & 3]; /* kinds 1-3 */
    kinds[pg->n] = '\0';
}

static void test_a_page_of_entries_stands_before_another_kinds_change(void)
{
    char ts[QL_UUID_STR_LEN + 1], sql[512], kinds[128];
    struct ql_db_session *db = itest_session(url, QL_DB_BLOCKING);
    struct reader rd = {.team = fresh_row(230, ts, 1), .s = ql_db_store(db)};
    ql_arena_init(&rd.arena, 0, 0);
    rd.cx.arena = &rd.arena;
    rd.cx.ports.store = rd.s;
    struct ql_change_pos start, floor, from;
    ASSERT_INT_EQ(ql_store_changes_bounds(rd.s, &rd.cx, &start, &floor), QL_OK);
    struct ql_change_page pg;
    entries_in(ts, 60);
    team_sql("INSERT INTO prompts (prompt_id, team_id, text, category, created_at, updated_at) "
             "VALUES (gen_random_uuid(), '%s', 'p', 'c', now(), now())",
             ts, 1);
    page_kinds(&rd, &start, 50, &pg, kinds); /* ends before the prompt: entries alone */
    ASSERT_INT_EQ(pg.n, 50);
    ASSERT_TRUE(pg.more && !pg.held && strspn(kinds, "E") == 50);
    from = pg.items[49].pos;
    page_kinds(&rd, &from, 50, &pg, kinds); /* reaches it */
    ASSERT_STR_EQ(kinds, "EEEEEEEEEEP");
    ASSERT_TRUE(!pg.more && !pg.held);

    /* The prompt moved (soft-deleted) between entries: pages around it, and up to it. */
    from = pg.items[10].pos;
    entries_in(ts, 3);
    team_sql("UPDATE prompts SET deleted_at = now(), change_txid = pg_current_xact_id(), "
             "change_seq = nextval('changes_seq') WHERE team_id = '%s'",
             ts, 1);
    entries_in(ts, 3);
    static const struct {
        int limit;
        const char *kinds;
        int more;
    } around[] = {{50, "EEEXEEE", 0}, {5, "EEEXE", 1}, {4, "EEEX", 1}, {3, "EEE", 1}, {1, "E", 1}};
    for (size_t i = 0; i < sizeof(around) / sizeof(around[0]); i++) {
        page_kinds(&rd, &from, around[i].limit, &pg, kinds);
        ASSERT_STR_EQ(kinds, around[i].kinds);
        ASSERT_INT_EQ(pg.more, around[i].more);
    }

    /* A member joins while an older transaction runs: held back, then there once it ends. */
    from = pg.items[0].pos;
    page_kinds(&rd, &from, 50, &pg, kinds);
    from = pg.items[pg.n - 1].pos; /* after everything so far */
    PGconn *old = connect_or_fail();
    exec_ok(old, "BEGIN; SELECT pg_current_xact_id()");
    char us[QL_UUID_STR_LEN + 1];
    fresh_row(231, us, 0);
    snprintf(sql, sizeof(sql),
             "INSERT INTO team_members (team_id, user_id, role, joined_at) VALUES ('%s', '%s', "
             "'viewer', now())",
             ts, us);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    page_kinds(&rd, &from, 50, &pg, kinds);
    ASSERT_STR_EQ(kinds, "");
    ASSERT_TRUE(pg.held && !pg.more);
    exec_ok(old, "COMMIT");
    page_kinds(&rd, &from, 50, &pg, kinds);
    ASSERT_STR_EQ(kinds, "M");
    ASSERT_TRUE(!pg.held && !pg.more);
    PQfinish(old);
    ql_arena_cleanup(&rd.arena);
    ql_db_session_destroy(db);
}

/* ---- a floor raised between the page and the probe ---------------------------------------------
 * changes_other_first runs in a newer snapshot than the page of entries before it.  If
 * compaction raised the floor past the cursor in between, what the probe would have found
 * below the new floor may be gone, so the page must not stand on its answer: it empties,
 * and the reader hears that its cursor expired.  The probe is made to wait on a lock on
 * prompts, which the page does not read, while the floor is raised and committed.
 */
struct paging {
    struct reader *rd;
    struct ql_change_pos from;
    struct ql_change_page pg;
    int rc;
};

static void *page_main(void *arg)
{
    struct paging *p = arg;
    ql_arena_reset(&p->rd->arena);
    p->rc = ql_store_changes_page(p->rd->s, &p->rd->cx, &p->rd->team, &p->from, 3, 1, &p->pg);
    return NULL;
}

/* Wait (up to 10 s) until a session waits on a lock to run changes_other_first. */
static void wait_for_probe_blocked(PGconn *c)
{
    for (int i = 0; i < 1000; i++) {
        PGresult *r = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                                "'Lock' AND query LIKE '%FROM change_floor f LEFT JOIN LATERAL%'");
        int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
        PQclear(r);
        ASSERT_TRUE(n >= 0);
        if (n > 0)
            return;
        nap_ms(10);
    }
    ASSERT_TRUE(!"changes_other_first never waited on the lock");
}

static void test_a_floor_raised_before_the_probe_expires_the_page(void)
{
    char ts[QL_UUID_STR_LEN + 1], sql[1024], kinds[128], old_floor[64];
    struct ql_db_session *db = itest_session(url, QL_DB_BLOCKING);
    struct reader rd = {.team = fresh_row(240, ts, 1), .s = ql_db_store(db)};
    ql_arena_init(&rd.arena, 0, 0);
    rd.cx.arena = &rd.arena;
    rd.cx.ports.store = rd.s;
    struct ql_change_pos start, floor;
    ASSERT_INT_EQ(ql_store_changes_bounds(rd.s, &rd.cx, &start, &floor), QL_OK);
    entries_in(ts, 10);
    team_sql("INSERT INTO prompts (prompt_id, team_id, text, category, created_at, updated_at) "
             "VALUES (gen_random_uuid(), '%s', 'p', 'c', now(), now())",
             ts, 1);
    struct paging p = {.rd = &rd, .from = start};
    page_kinds(&rd, &start, 3, &p.pg, kinds); /* the probe answers: the page stands */
    ASSERT_STR_EQ(kinds, "EEE");
    ASSERT_TRUE(p.pg.more);

    const char *got = itest_sql(url, "SELECT txid || ' ' || seq FROM change_floor");
    ASSERT_NOT_NULL(got);
    snprintf(old_floor, sizeof(old_floor), "%s", got);
    PGconn *c = connect_or_fail(), *watch = connect_or_fail();
    exec_ok(c, "BEGIN");
    exec_ok(c, "LOCK TABLE prompts IN ACCESS EXCLUSIVE MODE");
    snprintf(sql, sizeof(sql),
             "UPDATE change_floor SET txid = (SELECT change_txid FROM journal_entries WHERE "
             "team_id = '%s' ORDER BY change_txid, change_seq OFFSET 1 LIMIT 1), seq = 0",
             ts);
    exec_ok(c, sql);
    pthread_t t;
    ASSERT_INT_EQ(pthread_create(&t, NULL, page_main, &p), 0);
    wait_for_probe_blocked(watch); /* the page is read; its probe waits */
    exec_ok(c, "COMMIT");
    pthread_join(t, NULL);
    /* the floor back before asserting: a failed assertion must not leave it raised */
    snprintf(sql, sizeof(sql),
             "UPDATE change_floor SET txid = split_part('%s', ' ', 1)::xid8, "
             "seq = split_part('%s', ' ', 2)::int8",
             old_floor, old_floor);
    exec_ok(c, sql);
    ASSERT_INT_EQ(p.rc, QL_OK);
    ASSERT_INT_EQ(p.pg.n, 0);
    ASSERT_TRUE(ql_change_pos_cmp(&start, &p.pg.floor) < 0); /* the reader's cursor expired */
    PQfinish(c);
    PQfinish(watch);
    ql_arena_cleanup(&rd.arena);
    ql_db_session_destroy(db);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_the_teams_row_of_other_changes_holds_the_newest),
        TEST(test_a_page_of_entries_stands_before_another_kinds_change),
        TEST(test_a_floor_raised_before_the_probe_expires_the_page),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
