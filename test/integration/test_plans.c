/*
 * test_plans.c - what PostgreSQL plans for the delta page (the statement changes_page of
 * adapters/postgres/stmts_changes.h), on the test database as migrations leave it.
 *
 * A delta page must cost about what a page of entries costs.  The statement reads the log's
 * floor from change_floor, a table of one row that is seldom if ever analyzed; unanalyzed,
 * the planner takes it for 1,810 rows, expects 90,000 rows from the page, and hashes the
 * whole of journal_entries for every request (the sync benchmark found pages taking 0.5 s
 * against 100,000 entries).  So the plan, custom and generic, must expect at most a page of
 * rows.  And each change looks its thing up by key: no plan reads a whole table of things
 * (an earlier form hashed all of team_members for every page, a third of a page's cost
 * against 100,000 changes).  Plans, not timings: the estimate is the same on any machine
 * (for the data set main() gives the tables).
 */
#include "integration/itest.h"
#include "postgres/internal.h"
#include "test.h"

#include <cJSON.h>
#include <string.h>

static const char *url;
static PGconn *conn;

/* The plan of changes_page(team, 0, 0, limit) as EXPLAIN (FORMAT JSON) gives it, with
 * plan_cache_mode set to mode; NULL when EXPLAIN fails.  The caller deletes it. */
static cJSON *plan_of(const char *mode, int limit)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SET plan_cache_mode = %s", mode);
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return NULL;
    snprintf(sql, sizeof(sql),
             "EXPLAIN (FORMAT JSON) EXECUTE changes_page("
             "'01900000-0000-7000-8000-000000000001', '0', 0, %d)",
             limit);
    r = PQexec(conn, sql);
    cJSON *doc = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        doc = cJSON_Parse(PQgetvalue(r, 0, 0));
    else
        printf("# EXPLAIN failed: %s", PQresultErrorMessage(r));
    PQclear(r);
    return doc;
}

static const cJSON *top_node(const cJSON *doc)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(doc, 0), "Plan");
}

/* The rows the top node of the plan expects; -1 when EXPLAIN fails. */
static double planned_rows(const char *mode, int limit)
{
    cJSON *doc = plan_of(mode, limit);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(top_node(doc), "Plan Rows");
    double rows = cJSON_IsNumber(n) ? n->valuedouble : -1;
    cJSON_Delete(doc);
    return rows;
}

/*
 * How many Seq Scans of table under (and with) node run for the page as a whole rather than
 * per change: not below a lookup gated on the change's kind (a Result with a One-Time
 * Filter).  A gated scan runs once per change of its kind and is what the planner picks for
 * a table of a page or two, as on a test database; it reads by key once the table is
 * larger.  An ungated one (an earlier form hashed the page's changes and read all of
 * team_members against them) reads the whole table for every page, at any size.
 */
static int ungated_scans(const cJSON *node, const char *table)
{
    if (cJSON_GetObjectItemCaseSensitive(node, "One-Time Filter") != NULL)
        return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(node, "Node Type");
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(node, "Relation Name");
    int n = cJSON_IsString(type) && strcmp(type->valuestring, "Seq Scan") == 0 &&
            cJSON_IsString(rel) && strcmp(rel->valuestring, table) == 0;
    const cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItemCaseSensitive(node, "Plans")) n +=
        ungated_scans(child, table);
    return n;
}

/* The type of the first node under (and with) node that reads table; NULL when none. */
static const char *scan_of(const cJSON *node, const char *table)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(node, "Node Type");
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(node, "Relation Name");
    if (cJSON_IsString(type) && cJSON_IsString(rel) && strcmp(rel->valuestring, table) == 0)
        return type->valuestring;
    const cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItemCaseSensitive(node, "Plans"))
    {
        const char *t = scan_of(child, table);
        if (t)
            return t;
    }
    return NULL;
}

/* The log is read from its primary key's index alone (migrations/0016_changes_page_cover). */
static void check_log_read_from_index(const char *mode)
{
    /* A team with few changes is as cheap to read by a bitmap of the index, which still
     * visits the heap; without that choice, the index covers the page or it does not. */
    PQclear(PQexec(conn, "SET enable_bitmapscan = off"));
    cJSON *doc = plan_of(mode, 50);
    PQclear(PQexec(conn, "RESET enable_bitmapscan"));
    const char *scan = scan_of(top_node(doc), "changes");
    printf("# %s: changes read by %s\n", mode, scan ? scan : "nothing");
    int ok = scan && strcmp(scan, "Index Only Scan") == 0;
    cJSON_Delete(doc);
    ASSERT_TRUE(ok);
}

/*
 * Plans follow the statistics, and the test database's change as other suites write to it
 * (a table of a page or two is scanned whole, which is right for it).  So the lookup plans
 * are taken after giving the tables the data set of a modest deployment and analyzing them,
 * under a savepoint rolled back afterwards: the rows and the statistics go with it, and
 * other sessions never see either.  Their dead rows make an index-only scan of the log
 * look dearer until autovacuum passes, so these checks run last.  1 when seeded.
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
        "INSERT INTO changes (team_id, kind, event, entity_id) SELECT team_id, 1, 1, "
        "journal_entry_id FROM journal_entries WHERE team_id IN (SELECT team_id FROM "
        "plan_teams);"
        "ANALYZE users, teams, team_members, journal_entries, prompts, changes;";
    PGresult *r = PQexec(conn, seed);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        printf("# cannot seed: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

/* The page looks entries, members and their users up by key, whatever the plan mode. */
static void check_lookups_by_key(const char *mode)
{
    static const char *const tables[] = {"changes", "journal_entries", "team_members", "users"};
    PQclear(PQexec(conn, "SAVEPOINT deployment"));
    ASSERT_TRUE(with_deployment());
    cJSON *doc = plan_of(mode, 50);
    PQclear(PQexec(conn, "ROLLBACK TO SAVEPOINT deployment"));
    ASSERT_TRUE(top_node(doc) != NULL);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        int n = ungated_scans(top_node(doc), tables[i]);
        if (n)
            printf("# %s plan reads all of %s for the page\n", mode, tables[i]);
        ASSERT_INT_EQ(n, 0);
    }
    cJSON_Delete(doc);
}

static void test_page_is_planned_for_a_page_custom(void)
{
    double rows = planned_rows("force_custom_plan", 50);
    printf("# custom plan: %.0f rows\n", rows);
    ASSERT_TRUE(rows >= 0);
    ASSERT_TRUE(rows <= 50);
}

static void test_page_is_planned_for_a_page_generic(void)
{
    double rows = planned_rows("force_generic_plan", 50);
    printf("# generic plan: %.0f rows\n", rows);
    ASSERT_TRUE(rows >= 0);
    ASSERT_TRUE(rows <= 50);
}

static void test_page_looks_things_up_by_key_custom(void)
{
    check_lookups_by_key("force_custom_plan");
}

static void test_page_looks_things_up_by_key_generic(void)
{
    check_lookups_by_key("force_generic_plan");
}

static void test_page_reads_the_log_from_the_index_custom(void)
{
    check_log_read_from_index("force_custom_plan");
}

static void test_page_reads_the_log_from_the_index_generic(void)
{
    check_log_read_from_index("force_generic_plan");
}

static const struct ql_test tests[] = {
    TEST(test_page_is_planned_for_a_page_custom),
    TEST(test_page_is_planned_for_a_page_generic),
    TEST(test_page_reads_the_log_from_the_index_custom),
    TEST(test_page_reads_the_log_from_the_index_generic),
    TEST(test_page_looks_things_up_by_key_custom), /* last: they leave dead rows */
    TEST(test_page_looks_things_up_by_key_generic),
};

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        printf("Bail out! cannot connect: %s", PQerrorMessage(conn));
        return 1;
    }
    /* An index-only scan pays off where the visibility map has the log's pages as all
     * visible, as autovacuum keeps them; other suites have just written to it. */
    PGresult *r = PQexec(conn, "VACUUM (ANALYZE) changes");
    PQclear(r);
    r = PQexec(conn, "BEGIN"); /* rolled back at the end: see with_deployment */
    PQclear(r);
    const struct ql__pg_stmt_def *st = &ql__pg_stmts[QL__ST_CHANGES_PAGE];
    r = PQprepare(conn, st->name, st->sql, st->nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        printf("Bail out! cannot prepare %s: %s", st->name, PQresultErrorMessage(r));
        return 1;
    }
    PQclear(r);
    int rc = ql_test_run(tests, QL_NTESTS(tests), argc, argv);
    PQclear(PQexec(conn, "ROLLBACK"));
    PQfinish(conn);
    return rc;
}
