/*
 * test_plans.c - what PostgreSQL plans for the delta page (the statements changes_page and
 * changes_page_entries of adapters/postgres/stmts_changes.h, and changes_other_first after
 * them) and for the consumers' read of the log (consumer_read), on the test database as
 * migrations leave it.
 *
 * A delta page must cost about what a page of entries costs.  The statement reads the log's
 * floor from change_floor, a table of one row that is seldom if ever analyzed; unanalyzed,
 * the planner takes it for 1,810 rows and an earlier form planned 90,000 rows and hashed
 * the whole of journal_entries for every request.  So the plan, custom and generic, must
 * expect at most what the page reads: $4 rows of each kind of thing.  And each kind is read
 * by its position index (migrations/0017_sync_state.up.sql), as a page of entries reads
 * its index: no plan reads a whole table of things or of users.  Plans, not timings: the
 * estimate is the same on any machine (for the data set main() gives the tables).
 */
#include "integration/itest.h"
#include "postgres/internal.h"
#include "test.h"

#include <cJSON.h>
#include <string.h>

static const char *url;
static PGconn *conn;

/* The plan of stmt(team, txid, 0, limit) as EXPLAIN (FORMAT JSON) gives it, with
 * plan_cache_mode set to mode; NULL when EXPLAIN fails.  The caller deletes it.
 * changes_page_entries takes the horizon of a kept page too: kept, or NULL. */
static cJSON *plan_kept(const char *stmt, const char *mode, const char *txid, int limit,
                        const char *kept)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SET plan_cache_mode = %s", mode);
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return NULL;
    snprintf(sql, sizeof(sql),
             "EXPLAIN (FORMAT JSON) EXECUTE %s("
             "'01900000-0000-7000-8000-000000000001', '%s', 0, %d%s%s)",
             stmt, txid, limit, strcmp(stmt, "changes_page_entries") == 0 ? ", " : "",
             strcmp(stmt, "changes_page_entries") == 0 ? kept : "");
    r = PQexec(conn, sql);
    cJSON *doc = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        doc = cJSON_Parse(PQgetvalue(r, 0, 0));
    else
        printf("# EXPLAIN failed: %s", PQresultErrorMessage(r));
    PQclear(r);
    return doc;
}

static cJSON *plan_at(const char *stmt, const char *mode, const char *txid, int limit)
{
    return plan_kept(stmt, mode, txid, limit, "NULL");
}

/* From the start of the log: the whole of a team's things. */
static cJSON *plan_of(const char *stmt, const char *mode, int limit)
{
    return plan_at(stmt, mode, "0", limit);
}

static const cJSON *top_node(const cJSON *doc)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(doc, 0), "Plan");
}

/* The rows the top node of the plan expects; -1 when EXPLAIN fails. */
static double planned_rows(const char *stmt, const char *mode, int limit)
{
    cJSON *doc = plan_of(stmt, mode, limit);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(top_node(doc), "Plan Rows");
    double rows = cJSON_IsNumber(n) ? n->valuedouble : -1;
    cJSON_Delete(doc);
    return rows;
}

/* How many Seq Scans of table under (and with) node. */
static int seq_scans(const cJSON *node, const char *table)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(node, "Node Type");
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(node, "Relation Name");
    int n = cJSON_IsString(type) && strcmp(type->valuestring, "Seq Scan") == 0 &&
            cJSON_IsString(rel) && strcmp(rel->valuestring, table) == 0;
    const cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItemCaseSensitive(node, "Plans")) n +=
        seq_scans(child, table);
    return n;
}

/* 1 when a node under (and with) node reads the index called name (an index scan of it, or
 * a bitmap of it under a bitmap heap scan). */
static int uses_index(const cJSON *node, const char *name)
{
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(node, "Index Name");
    if (cJSON_IsString(idx) && strcmp(idx->valuestring, name) == 0)
        return 1;
    const cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItemCaseSensitive(
                                  node, "Plans")) if (uses_index(child, name)) return 1;
    return 0;
}

/*
 * Plans follow the statistics, and the test database's change as other suites write to it
 * (a table of a page or two is scanned whole, which is right for it).  So the plans are
 * taken after giving the tables the data set of a modest deployment and analyzing them,
 * under a savepoint rolled back afterwards: the rows and the statistics go with it, and
 * other sessions never see either.  1 when seeded.
 */
static int with_deployment(void)
{
    static const char seed[] =
        "CREATE TEMP TABLE plan_teams AS SELECT gen_random_uuid() AS team_id, g "
        "FROM generate_series(0, 499) g;"
        "INSERT INTO teams (team_id, name, created_at, updated_at) SELECT team_id, 'plan', "
        "now(), now() FROM plan_teams;"
        "CREATE TEMP TABLE plan_users AS SELECT gen_random_uuid() AS user_id, g "
        "FROM generate_series(0, 4999) g;"
        "INSERT INTO users (user_id, email, display_name, created_at, updated_at) SELECT "
        "user_id, user_id || '@plan.example', 'p', now(), now() FROM plan_users;"
        "INSERT INTO team_members (team_id, user_id, role, joined_at) SELECT t.team_id, "
        "u.user_id, 'member', now() FROM plan_users u JOIN plan_teams t ON t.g = u.g % 500;"
        "INSERT INTO journal_entries (journal_entry_id, team_id, content, created_at, "
        "updated_at) SELECT gen_random_uuid(), team_id, repeat('x', 150), now(), now() FROM "
        "plan_teams, generate_series(1, 40);"
        "INSERT INTO prompts (prompt_id, team_id, text, category, created_at, updated_at) "
        "SELECT gen_random_uuid(), team_id, 'p', 'c', now(), now() FROM plan_teams, "
        "generate_series(1, 4);"
        "INSERT INTO sync_tombstones (team_id, kind, entity_id) SELECT team_id, 3, "
        "gen_random_uuid() FROM plan_teams, generate_series(1, 40);"
        "ANALYZE users, teams, team_members, journal_entries, prompts, sync_tombstones, "
        "team_sync_others;";
    PGresult *r = PQexec(conn, seed);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        printf("# cannot seed: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

/*
 * No table is read whole, even for a page from the start of the log (a team's things are
 * then read by their team, and sorted); and a client that has caught up (the common page)
 * is answered from each kind's position index (changes_page_entries: the entries', and the
 * team's row of team_sync_others by its key).
 */
static void check_reads_by_position(const char *stmt, const char *mode)
{
    static const char *const tables[] = {"journal_entries", "team_members",    "users",
                                         "prompts",         "sync_tombstones", "team_sync_others"};
    static const char *const all[] = {"journal_entries_change_idx", "team_members_change_idx",
                                      "prompts_change_idx", "sync_tombstones_change_idx", NULL};
    static const char *const entries[] = {"journal_entries_change_idx", "team_sync_others_pkey",
                                          NULL};
    const char *const *indexes = strcmp(stmt, "changes_page_entries") == 0 ? entries : all;
    PQclear(PQexec(conn, "SAVEPOINT deployment"));
    ASSERT_TRUE(with_deployment());
    cJSON *doc = plan_of(stmt, mode, 50);
    cJSON *late = plan_at(stmt, mode, "18446744073709551615", 50);
    /* changes_page_entries for a page kept from before (adapters/postgres/pagecache.c):
     * whether the team changed since, and the page only if it did; else the late page */
    cJSON *kept = indexes == entries ? plan_kept(stmt, mode, "0", 50, "'1000'") : late;
    PQclear(PQexec(conn, "ROLLBACK TO SAVEPOINT deployment"));
    ASSERT_TRUE(top_node(doc) != NULL && top_node(late) != NULL && top_node(kept) != NULL);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        int n = seq_scans(top_node(doc), tables[i]) + seq_scans(top_node(late), tables[i]) +
                seq_scans(top_node(kept), tables[i]);
        if (n)
            printf("# %s %s plan reads all of %s for the page\n", stmt, mode, tables[i]);
        ASSERT_INT_EQ(n, 0);
    }
    for (size_t i = 0; indexes[i] != NULL; i++) {
        int used = uses_index(top_node(late), indexes[i]);
        int checked = uses_index(top_node(kept), indexes[i]);
        printf("# %s %s: %s %s, %s for a kept page\n", stmt, mode, indexes[i],
               used ? "read" : "not read", checked ? "read" : "not read");
        ASSERT_TRUE(used && checked);
    }
    cJSON_Delete(doc);
    if (kept != late)
        cJSON_Delete(kept);
    cJSON_Delete(late);
}

/* At most 50 rows of each kind the statement reads (changes_page_entries: of entries). */
static void check_planned_rows(const char *stmt, const char *mode, int kinds)
{
    double rows = planned_rows(stmt, mode, 50);
    printf("# %s %s: %.0f rows\n", stmt, mode, rows);
    ASSERT_TRUE(rows >= 0);
    ASSERT_TRUE(rows <= kinds * 50 + 1); /* changes_page_entries: and its header row */
}

static void test_page_is_planned_for_a_page_custom(void)
{
    check_planned_rows("changes_page", "force_custom_plan", 4);
    check_planned_rows("changes_page_entries", "force_custom_plan", 1);
}

static void test_page_is_planned_for_a_page_generic(void)
{
    check_planned_rows("changes_page", "force_generic_plan", 4);
    check_planned_rows("changes_page_entries", "force_generic_plan", 1);
}

static void test_page_reads_things_by_position_custom(void)
{
    check_reads_by_position("changes_page", "force_custom_plan");
    check_reads_by_position("changes_page_entries", "force_custom_plan");
}

static void test_page_reads_things_by_position_generic(void)
{
    check_reads_by_position("changes_page", "force_generic_plan");
    check_reads_by_position("changes_page_entries", "force_generic_plan");
}

/* How many nodes of type under (and with) node. */
static int nodes_of(const cJSON *node, const char *type)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(node, "Node Type");
    int n = cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
    const cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItemCaseSensitive(node, "Plans")) n +=
        nodes_of(child, type);
    return n;
}

/*
 * The consumers read the whole log in order, a batch at a time (consumer_read): from its
 * one index, the primary key (txid, seq, team_id) (migrations/0019_changes_one_index.up.sql),
 * never by reading and sorting the log, which holds every team's changes of the retention
 * period.
 */
/*
 * The plan of explain (an EXPLAIN (FORMAT JSON) EXECUTE) with plan_cache_mode set to mode,
 * on the seeded deployment and after more, a statement that may add rows of its own (or
 * NULL); everything rolled back after.  The caller deletes it.
 */
static cJSON *plan_deployed(const char *mode, const char *more, const char *explain)
{
    char sql[160];
    PQclear(PQexec(conn, "SAVEPOINT deployment"));
    ASSERT_TRUE(with_deployment());
    PGresult *r;
    if (more) {
        r = PQexec(conn, more);
        ASSERT_INT_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
    }
    snprintf(sql, sizeof(sql), "SET plan_cache_mode = %s", mode);
    PQclear(PQexec(conn, sql));
    r = PQexec(conn, explain);
    cJSON *doc = PQresultStatus(r) == PGRES_TUPLES_OK ? cJSON_Parse(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    PQclear(PQexec(conn, "ROLLBACK TO SAVEPOINT deployment"));
    ASSERT_TRUE(top_node(doc) != NULL);
    return doc;
}

static void check_consumer_read(const char *mode)
{
    cJSON *doc = plan_deployed(mode,
                               "INSERT INTO changes (team_id, kind, event, entity_id) SELECT "
                               "team_id, 1, 1, gen_random_uuid() FROM plan_teams, "
                               "generate_series(1, 40); ANALYZE changes",
                               "EXPLAIN (FORMAT JSON) EXECUTE consumer_read('0', 0, 1000)");
    printf("# consumer_read %s: changes_pkey %s, %d sorts, %d whole reads of changes\n", mode,
           uses_index(top_node(doc), "changes_pkey") ? "read" : "not read",
           nodes_of(top_node(doc), "Sort"), seq_scans(top_node(doc), "changes"));
    ASSERT_TRUE(uses_index(top_node(doc), "changes_pkey"));
    ASSERT_INT_EQ(nodes_of(top_node(doc), "Sort"), 0);
    ASSERT_INT_EQ(seq_scans(top_node(doc), "changes"), 0);
    cJSON_Delete(doc);
}

/*
 * When other kinds changed after a cursor, changes_other_first finds the first of them by
 * each kind's position index, one probe each: never by reading a kind's table whole.
 */
static void check_other_first(const char *mode)
{
    static const char *const indexes[] = {"prompts_change_idx", "team_members_change_idx",
                                          "sync_tombstones_change_idx"};
    cJSON *doc = plan_deployed(mode, NULL,
                               "EXPLAIN (FORMAT JSON) EXECUTE changes_other_first("
                               "'01900000-0000-7000-8000-000000000001', '0', 0)");
    for (size_t i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++) {
        int used = uses_index(top_node(doc), indexes[i]);
        printf("# changes_other_first %s: %s %s\n", mode, indexes[i], used ? "read" : "not read");
        ASSERT_TRUE(used);
    }
    ASSERT_INT_EQ(seq_scans(top_node(doc), "prompts") + seq_scans(top_node(doc), "team_members") +
                      seq_scans(top_node(doc), "sync_tombstones"),
                  0);
    cJSON_Delete(doc);
}

static void test_the_first_other_change_is_found_by_position(void)
{
    check_other_first("force_custom_plan");
    check_other_first("force_generic_plan");
}

static void test_consumers_read_the_log_by_its_key(void)
{
    check_consumer_read("force_custom_plan");
    check_consumer_read("force_generic_plan");
}

static const struct ql_test tests[] = {
    TEST(test_page_is_planned_for_a_page_custom),
    TEST(test_page_is_planned_for_a_page_generic),
    TEST(test_page_reads_things_by_position_custom),
    TEST(test_page_reads_things_by_position_generic),
    TEST(test_consumers_read_the_log_by_its_key),
    TEST(test_the_first_other_change_is_found_by_position),
};

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        printf("Bail out! cannot connect: %s", PQerrorMessage(conn));
        return 1;
    }
    PGresult *r = PQexec(conn, "BEGIN"); /* rolled back at the end: see with_deployment */
    PQclear(r);
    static const enum ql__pg_stmt stmts[] = {QL__ST_CHANGES_PAGE, QL__ST_CHANGES_PAGE_ENTRIES,
                                             QL__ST_CHANGES_OTHER_FIRST, QL__ST_CONSUMER_READ};
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        const struct ql__pg_stmt_def *st = &ql__pg_stmts[stmts[i]];
        r = PQprepare(conn, st->name, st->sql, st->nparams, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            printf("Bail out! cannot prepare %s: %s", st->name, PQresultErrorMessage(r));
            return 1;
        }
        PQclear(r);
    }
    int rc = ql_test_run(tests, QL_NTESTS(tests), argc, argv);
    PQclear(PQexec(conn, "ROLLBACK"));
    PQfinish(conn);
    return rc;
}
