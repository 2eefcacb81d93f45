/*
 * test_plans.c - what PostgreSQL plans for the delta page (the statement changes_page of
 * adapters/postgres/stmts_changes.h), on the test database as migrations leave it.
 *
 * A delta page must cost about what a page of entries costs.  The statement reads the log's
 * floor from change_floor, a table of one row that is seldom if ever analyzed; unanalyzed,
 * the planner takes it for 1,810 rows, expects 90,000 rows from the page, and hashes the
 * whole of journal_entries for every request (the sync benchmark found pages taking 0.5 s
 * against 100,000 entries).  So the plan, custom and generic, must expect at most a page of
 * rows.  Plans, not timings: the estimate is the same on any machine.
 */
#include "integration/itest.h"
#include "postgres/internal.h"
#include "test.h"

#include <cJSON.h>

static const char *url;
static PGconn *conn;

/* The rows the top node of the plan of changes_page(team, 0, 0, limit) expects, with
 * plan_cache_mode set to mode; -1 when EXPLAIN fails. */
static double planned_rows(const char *mode, int limit)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SET plan_cache_mode = %s", mode);
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return -1;
    snprintf(sql, sizeof(sql),
             "EXPLAIN (FORMAT JSON) EXECUTE changes_page("
             "'01900000-0000-7000-8000-000000000001', '0', 0, %d)",
             limit);
    r = PQexec(conn, sql);
    double rows = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        cJSON *doc = cJSON_Parse(PQgetvalue(r, 0, 0));
        const cJSON *plan = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(doc, 0), "Plan");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(plan, "Plan Rows");
        if (cJSON_IsNumber(n))
            rows = n->valuedouble;
        else
            printf("# no Plan Rows in: %.300s\n", PQgetvalue(r, 0, 0));
        cJSON_Delete(doc);
    } else {
        printf("# EXPLAIN failed: %s", PQresultErrorMessage(r));
    }
    PQclear(r);
    return rows;
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

static const struct ql_test tests[] = {
    TEST(test_page_is_planned_for_a_page_custom),
    TEST(test_page_is_planned_for_a_page_generic),
};

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        printf("Bail out! cannot connect: %s", PQerrorMessage(conn));
        return 1;
    }
    const struct ql__pg_stmt_def *st = &ql__pg_stmts[QL__ST_CHANGES_PAGE];
    PGresult *r = PQprepare(conn, st->name, st->sql, st->nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        printf("Bail out! cannot prepare %s: %s", st->name, PQresultErrorMessage(r));
        return 1;
    }
    PQclear(r);
    int rc = ql_test_run(tests, QL_NTESTS(tests), argc, argv);
    PQfinish(conn);
    return rc;
}
