/*
 * Integration tests of the audit chain (migrations 0001, 0003 and 0004): rows appended alone
 * and in groups (a group commit's, one statement) make one unbroken chain per team whatever
 * the order of the chains in a group, however many sessions append at once, and whether or
 * not a transaction commits.
 */
#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "itest.h"
#include "model/model.h"
#include "postgres/pg.h"
#include "store/store.h"
#include "uuid/uuid.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static const char *url;

/* One audit row whose target names it, so a chain's order can be read back. */
static struct ql_audit_entry row(char target[QL_UUID_STR_LEN + 1], int64_t at_ms)
{
    struct ql_uuid id = itest_fresh_id(0);
    ql_uuid_format(&id, target);
    return (struct ql_audit_entry){
        id, 0, at_ms, "User:chain-test", "journal_entry.create", "JournalEntry", target};
}

/* "seq:target,..." of team's chain in order, then ";" and its head's seq. */
static const char *chain_of(const struct ql_uuid *team)
{
    char sql[512], t[QL_UUID_STR_LEN + 1];
    ql_uuid_format(team, t);
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(string_agg(seq || ':' || target_id, ',' ORDER BY seq), '') || ';' "
             "|| coalesce((SELECT seq::text FROM audit_heads WHERE chain = 'team:%s'), 'none') "
             "FROM audit_log WHERE chain = 'team:%s'",
             t, t);
    return itest_sql(url, sql);
}

/* The whole log verifies: every hash, every link, every head (quill-admin audit-verify). */
static int verifies(void)
{
    struct ql_error err;
    ql_error_clear(&err);
    FILE *out = fopen("/dev/null", "w");
    int rc = ql_pg_audit_verify(url, NULL, NULL, out, &err);
    fclose(out);
    return rc;
}

/* A test's session, its store and a context with an arena. */
struct fix {
    struct ql_db_session *pg;
    struct ql_arena arena;
    struct ql_ctx cx;
};

static struct ql_store *fix_open(struct fix *f)
{
    f->pg = itest_session(url, QL_DB_BLOCKING);
    ql_arena_init(&f->arena, 0, 0);
    f->cx = (struct ql_ctx){.arena = &f->arena};
    return ql_db_store(f->pg);
}

static void fix_close(struct fix *f)
{
    ql_arena_cleanup(&f->arena);
    ql_db_session_destroy(f->pg);
}

static void test_a_group_whose_chains_interleave_chains_each_in_order(void)
{
    struct fix f;
    struct ql_store *s = fix_open(&f);
    struct ql_ctx cx = f.cx;
    struct ql_uuid t1 = itest_fresh_id(0), t2 = itest_fresh_id(0), t3 = itest_fresh_id(0);
    char tg[7][QL_UUID_STR_LEN + 1];
    struct ql_audit_entry alone = row(tg[0], 1000);
    ASSERT_INT_EQ(ql_store_audit_append(s, &cx, &t1, &alone), QL_OK); /* the trigger's row */
    const char *before = itest_sql(url, "SELECT coalesce((SELECT seq FROM audit_heads WHERE "
                                        "chain = 'account'), 0)");
    ASSERT_NOT_NULL(before);
    long long account = atoll(before);
    /* t1, t2, t1 again after t2, the account chain, t2 again, and t3's first row ever. */
    const struct ql_uuid *teams[6] = {&t1, &t2, &t1, NULL, &t2, &t3};
    struct ql_audit_entry group[6];
    for (int i = 0; i < 6; i++)
        group[i] = row(tg[i + 1], 2000 + i);
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append_many(s, &cx, teams, group, 6), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(s, &cx), QL_OK);
    char want[512];
    snprintf(want, sizeof(want), "1:%s,2:%s,3:%s;3", tg[0], tg[1], tg[3]);
    ASSERT_STR_EQ(chain_of(&t1), want);
    snprintf(want, sizeof(want), "1:%s,2:%s;2", tg[2], tg[5]);
    ASSERT_STR_EQ(chain_of(&t2), want);
    snprintf(want, sizeof(want), "1:%s;1", tg[6]);
    ASSERT_STR_EQ(chain_of(&t3), want);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT seq FROM audit_log WHERE chain = 'account' AND "
             "target_id = '%s'",
             tg[4]);
    ASSERT_INT_EQ(atoll(itest_sql(url, sql)), account + 1);
    /* A row alone after the group links to the group's last row of its chain. */
    struct ql_audit_entry after = row(tg[0], 3000);
    ASSERT_INT_EQ(ql_store_audit_append(s, &cx, &t2, &after), QL_OK);
    snprintf(want, sizeof(want), "1:%s,2:%s,3:%s;3", tg[2], tg[5], tg[0]);
    ASSERT_STR_EQ(chain_of(&t2), want);
    ASSERT_INT_EQ(verifies(), QL_OK);
    fix_close(&f);
}

static void test_a_group_rolled_back_leaves_no_gap(void)
{
    struct fix f;
    struct ql_store *s = fix_open(&f);
    struct ql_ctx cx = f.cx;
    struct ql_uuid t = itest_fresh_id(0);
    const struct ql_uuid *teams[2] = {&t, &t};
    char tg[4][QL_UUID_STR_LEN + 1];
    struct ql_audit_entry first[2] = {row(tg[0], 1), row(tg[1], 2)};
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append_many(s, &cx, teams, first, 2), QL_OK);
    ql_store_rollback(s, &cx);
    ASSERT_INT_EQ(cx.err.code, 0);
    ASSERT_STR_EQ(chain_of(&t), ";none"); /* not even the head the group created */
    struct ql_audit_entry second[2] = {row(tg[2], 3), row(tg[3], 4)};
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append_many(s, &cx, teams, second, 2), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(s, &cx), QL_OK);
    char want[256];
    snprintf(want, sizeof(want), "1:%s,2:%s;2", tg[2], tg[3]);
    ASSERT_STR_EQ(chain_of(&t), want);
    ASSERT_INT_EQ(verifies(), QL_OK);
    fix_close(&f);
}

enum { WRITERS = 4, ROUNDS = 25, GROUP = 4 };

struct writer {
    struct ql_db_session *pg;
    const struct ql_uuid *shared;
    struct ql_uuid own; /* a chain of the writer's own, locked before the shared one */
    int failures;
};

/* Each round: a group of the writer's own chain then the shared one, and a row alone. */
static void *write_rounds(void *arg)
{
    struct writer *w = arg;
    struct ql_store *s = ql_db_store(w->pg);
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    struct ql_ctx cx = {.arena = &arena};
    const struct ql_uuid *teams[GROUP + 1] = {&w->own};
    for (int i = 1; i <= GROUP; i++)
        teams[i] = w->shared;
    for (int r = 0; r < ROUNDS; r++) {
        char tg[GROUP + 2][QL_UUID_STR_LEN + 1];
        struct ql_audit_entry group[GROUP + 1];
        for (int i = 0; i <= GROUP; i++)
            group[i] = row(tg[i], 1000 + r);
        struct ql_audit_entry alone = row(tg[GROUP + 1], 1000 + r);
        if (ql_store_begin(s, &cx) != QL_OK ||
            ql_store_audit_append_many(s, &cx, teams, group, GROUP + 1) != QL_OK ||
            ql_store_audit_append(s, &cx, w->shared, &alone) != QL_OK ||
            ql_store_commit(s, &cx) != QL_OK) {
            w->failures++;
            printf("# a writer's round failed: %s\n", cx.err.msg);
            ql_store_rollback(s, &cx);
            ql_error_clear(&cx.err);
        }
        ql_arena_reset(&arena);
    }
    ql_arena_cleanup(&arena);
    return NULL;
}

static void test_groups_and_rows_from_many_sessions_make_one_chain(void)
{
    struct ql_uuid shared = itest_fresh_id(0);
    struct writer w[WRITERS];
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++) /* sessions made here: the factory is made once */
        w[i] = (struct writer){itest_session(url, QL_DB_BLOCKING), &shared, itest_fresh_id(0), 0};
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&t[i], NULL, write_rounds, &w[i]);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < WRITERS; i++) {
        ASSERT_INT_EQ(w[i].failures, 0);
        ql_db_session_destroy(w[i].pg);
    }
    char sql[512], id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&shared, id);
    /* Every row is there, numbered 1 to n with no gap, and the head is the last of them. */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) || ',' || min(seq) || ',' || max(seq) || ',' || (SELECT seq FROM "
             "audit_heads WHERE chain = 'team:%s') FROM audit_log WHERE chain = 'team:%s'",
             id, id);
    char want[64];
    int n = WRITERS * ROUNDS * (GROUP + 1);
    snprintf(want, sizeof(want), "%d,1,%d,%d", n, n, n);
    ASSERT_STR_EQ(itest_sql(url, sql), want);
    ASSERT_INT_EQ(verifies(), QL_OK);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_a_group_whose_chains_interleave_chains_each_in_order),
        TEST(test_a_group_rolled_back_leaves_no_gap),
        TEST(test_groups_and_rows_from_many_sessions_make_one_chain),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
