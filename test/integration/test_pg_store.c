/* Integration tests of the PostgreSQL session: round trips, transactions, reconnection. */
#include "clock/sysclock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "itest.h"
#include "postgres/pg.h"
#include "store/store.h"
#include "test.h"

#include <time.h>

static const char *url;

static struct ql_pg *session(void)
{
    struct ql_pg *pg;
    ASSERT_INT_EQ(ql_pg_create(url, NULL, ql_sysclock(), NULL, &pg), QL_OK);
    return pg;
}

static void test_ping_and_schema_version(void)
{
    struct ql_pg *pg = session();
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_ping(ql_pg_store(pg), &cx), QL_OK);
    int64_t v = -1;
    ASSERT_INT_EQ(ql_store_schema_version(ql_pg_store(pg), &cx, &v), QL_OK);
    const char *want = itest_sql(url, "SELECT coalesce(max(version),0) FROM schema_migrations");
    ASSERT_NOT_NULL(want);
    ASSERT_INT_EQ(v, atoll(want));
    ql_pg_destroy(pg);
}

static void test_transactions(void)
{
    struct ql_pg *pg = session();
    struct ql_store *s = ql_pg_store(pg);
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ql_store_rollback(s, &cx);
    ASSERT_INT_EQ(cx.err.code, 0);
    /* after a rollback the session is usable again */
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    ql_pg_destroy(pg);
}

static void kill_sessions(void)
{
    ASSERT_NOT_NULL(itest_sql(url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = 'quill' AND pid <> pg_backend_pid() "
                                   "AND datname = current_database()"));
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
}

static void test_reconnects_after_server_side_kill(void)
{
    struct ql_pg *pg = session();
    struct ql_store *s = ql_pg_store(pg);
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    kill_sessions();
    /* outside a transaction the lost connection is replaced transparently */
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    ASSERT_TRUE(ql_pg_error_count(pg) >= 1);
    ql_pg_destroy(pg);
}

static void test_lost_connection_inside_transaction_fails(void)
{
    struct ql_pg *pg = session();
    struct ql_store *s = ql_pg_store(pg);
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    kill_sessions();
    ASSERT_INT_EQ(ql_store_commit(s, &cx), QL_EUNAVAILABLE);
    ql_store_rollback(s, &cx);
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    ql_pg_destroy(pg);
}

static void test_unreachable_database_fails_fast(void)
{
    struct ql_pg *pg;
    ASSERT_INT_EQ(
        ql_pg_create("postgresql://postgres@127.0.0.1:1/none", NULL, ql_sysclock(), NULL, &pg),
        QL_OK);
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_ping(ql_pg_store(pg), &cx), QL_EUNAVAILABLE);
    ASSERT_TRUE(strstr(cx.err.msg, "database connection failed") != NULL);
    /* within the retry floor the next call does not even try to connect */
    ASSERT_INT_EQ(ql_store_ping(ql_pg_store(pg), &cx), QL_EUNAVAILABLE);
    ASSERT_TRUE(strstr(cx.err.msg, "retrying shortly") != NULL);
    ql_pg_destroy(pg);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_ping_and_schema_version),
        TEST(test_transactions),
        TEST(test_reconnects_after_server_side_kill),
        TEST(test_lost_connection_inside_transaction_fails),
        TEST(test_unreachable_database_fails_fast),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
