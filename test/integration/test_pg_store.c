/* Integration tests of the PostgreSQL session: round trips, transactions, reconnection. */
#include "clock/sysclock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "itest.h"
#include "postgres/pg.h"
#include "arena/arena.h"
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

/*
 * Idempotency: B looked for a record before A committed one, then takes the key's lock
 * after A committed and released it.  The lock must still refuse B (409 in progress; B's
 * retry replays A), or B would run the same request a second time.
 */
static void test_idempotency_lock_sees_a_record_committed_meanwhile(void)
{
    struct ql_pg *a = session(), *b = session();
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    struct ql_ctx cx = {.arena = &arena};
    char key[64];
    snprintf(key, sizeof(key), "race-%lld", (long long)time(NULL));
    struct ql_idem_record rec = {.status = 201,
                                 .sealed = (const uint8_t *)"sealed-bytes-here-0123456789012345",
                                 .sealed_n = 34,
                                 .created_ms = 1,
                                 .expires_ms = INT64_C(4102444800000)};
    ASSERT_INT_EQ(ql_store_begin(ql_pg_store(a), &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_lock(ql_pg_store(a), &cx, "user:t", key), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_put(ql_pg_store(a), &cx, "user:t", key, &rec), QL_OK);
    struct ql_idem_record got;
    ASSERT_INT_EQ(ql_store_idem_get(ql_pg_store(b), &cx, "user:t", key, 2, &got), QL_ENOT_FOUND);
    ql_error_clear(&cx.err);
    /* while A holds the lock */
    ASSERT_INT_EQ(ql_store_begin(ql_pg_store(b), &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_lock(ql_pg_store(b), &cx, "user:t", key), QL_EIDEM_IN_PROGRESS);
    ql_store_rollback(ql_pg_store(b), &cx);
    ql_error_clear(&cx.err);
    ASSERT_INT_EQ(ql_store_commit(ql_pg_store(a), &cx), QL_OK);
    /* after A committed: the lock is free, but the record says the request already ran */
    ASSERT_INT_EQ(ql_store_begin(ql_pg_store(b), &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_lock(ql_pg_store(b), &cx, "user:t", key), QL_EIDEM_IN_PROGRESS);
    ql_store_rollback(ql_pg_store(b), &cx);
    ql_error_clear(&cx.err);
    /* another key is free */
    ASSERT_INT_EQ(ql_store_begin(ql_pg_store(b), &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_lock(ql_pg_store(b), &cx, "user:t", "another-key"), QL_OK);
    ql_store_rollback(ql_pg_store(b), &cx);
    ql_arena_cleanup(&arena);
    ql_pg_destroy(a);
    ql_pg_destroy(b);
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
        TEST(test_idempotency_lock_sees_a_record_committed_meanwhile),
        TEST(test_reconnects_after_server_side_kill),
        TEST(test_lost_connection_inside_transaction_fails),
        TEST(test_unreachable_database_fails_fast),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
