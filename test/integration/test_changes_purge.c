/*
 * test_changes_purge.c - the job "purge.changes" against the real PostgreSQL: it deletes the
 * change log below the retention (and below every consumer) in batches, each its own short
 * transaction, so no one transaction holds back the horizon every reader of the log waits
 * for; a run that reaches its deadline stops between batches and the next run goes on.
 */
#include "arena/arena.h"
#include "changes/changes.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "integration/itest.h"
#include "integration/uc_world.h"
#include "jobs/jobs.h"
#include "test.h"

static const char *url;

static int64_t num(const char *sql)
{
    const char *v = itest_sql(url, sql);
    ASSERT_NOT_NULL(v);
    return atoll(v);
}

/* Run the job as a worker would, with the attempt's deadline (0: none). */
static int run(struct uc_world *u, int64_t deadline_ns)
{
    const struct ql_job_kind *k = ql_job_kind_find("purge.changes", 0);
    ASSERT_NOT_NULL(k);
    struct ql_job job = {
        .id = 1, .kind = "purge.changes", .payload = "{}", .attempts = 1, .max_attempts = 5};
    u->cx.deadline_ns = deadline_ns;
    ql_error_clear(&u->cx.err);
    return k->fn(&u->cx, &job);
}

/* Put the consumers and the floor back where the test found them (other tests page the
 * log from its start). */
#define RESTORE                                                                                    \
    "DO $$ BEGIN IF to_regclass('purge_saved') IS NOT NULL THEN UPDATE change_consumers c SET "    \
    "txid = s.txid, seq = s.seq FROM purge_saved s WHERE s.name = c.name; UPDATE change_floor f "  \
    "SET txid = s.txid, seq = s.seq FROM purge_saved s WHERE s.name = ''; DROP TABLE "             \
    "purge_saved; END IF; END $$"

#define OLD (QL_CHANGES_PURGE_BATCH * 2 + 100)

/*
 * More old changes than two batches hold, below a mark a month old that both consumers have
 * passed.  A run whose deadline passed at once deletes one batch and stops: the purge works
 * in batches, each committed on its own.  The next run deletes the rest, and newer changes
 * stay.  The consumers' positions and the floor are put back after, for the other tests.
 */
static void test_the_purge_deletes_the_old_log_in_batches(void)
{
    struct uc_world u;
    uc_world_open(&u, url, 9);
    ASSERT_NOT_NULL(itest_sql(url, "DELETE FROM changes WHERE team_id = "
                                   "'00000000-0000-4000-8000-00000000c0de'")); /* a failed run's */
    ASSERT_NOT_NULL(itest_sql(url, RESTORE)); /* after a run that failed half-way */
    ASSERT_NOT_NULL(itest_sql(url, "CREATE TABLE purge_saved AS SELECT name, txid, seq FROM "
                                   "change_consumers UNION ALL SELECT '', txid, seq FROM "
                                   "change_floor"));
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO changes (team_id, kind, event, entity_id) SELECT "
             "'00000000-0000-4000-8000-00000000c0de', 1, 1, gen_random_uuid() FROM "
             "generate_series(1, %d)",
             OLD);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    /* the mark right after them (not at the horizon: other databases' transactions hold it
     * back), a month old; the consumers passed it */
    ASSERT_NOT_NULL(itest_sql(url, "INSERT INTO change_marks (at, txid, seq) SELECT now() - "
                                   "interval '30 days', max(txid::text::int8 + 1)::text::xid8, 0 "
                                   "FROM changes WHERE team_id = "
                                   "'00000000-0000-4000-8000-00000000c0de'"));
    ASSERT_NOT_NULL(itest_sql(url, "UPDATE change_consumers SET txid = (SELECT max(txid) FROM "
                                   "change_marks), seq = 0"));
    ASSERT_NOT_NULL(itest_sql(url, "INSERT INTO changes (team_id, kind, event, entity_id) VALUES "
                                   "('00000000-0000-4000-8000-00000000c0de', 1, 1, "
                                   "gen_random_uuid())"));
    const char *mine = "SELECT count(*) FROM changes WHERE team_id = "
                       "'00000000-0000-4000-8000-00000000c0de'";
    ASSERT_INT_EQ(num(mine), OLD + 1);
    int64_t audits = num("SELECT count(*) FROM audit_log WHERE action = 'purge.changes'");
    /* due: what lies before the mark (other tests' changes too) */
    int64_t due = num("SELECT count(*) FROM changes WHERE txid < (SELECT txid FROM change_marks "
                      "WHERE at < now() - interval '7 days' ORDER BY at DESC LIMIT 1)");
    ASSERT_TRUE(due >= OLD);

    ASSERT_INT_EQ(run(&u, 1), QL_OK); /* past its deadline after the first batch */
    int64_t left = num("SELECT count(*) FROM changes WHERE txid < (SELECT txid FROM change_floor)");
    ASSERT_INT_EQ(left, due - QL_CHANGES_PURGE_BATCH);
    ASSERT_INT_EQ(num("SELECT count(*) FROM audit_log WHERE action = 'purge.changes'"), audits + 1);

    ASSERT_INT_EQ(run(&u, 0), QL_OK);
    ASSERT_INT_EQ(num("SELECT count(*) FROM changes WHERE txid < (SELECT txid FROM change_floor)"),
                  0);
    ASSERT_INT_EQ(num(mine), 1); /* the newer one stays */
    ASSERT_INT_EQ(num("SELECT count(*) FROM audit_log WHERE action = 'purge.changes'"), audits + 2);

    ASSERT_NOT_NULL(itest_sql(url, "DELETE FROM changes WHERE team_id = "
                                   "'00000000-0000-4000-8000-00000000c0de'"));
    ASSERT_NOT_NULL(itest_sql(url, RESTORE));
    uc_world_close(&u);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_the_purge_deletes_the_old_log_in_batches),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
