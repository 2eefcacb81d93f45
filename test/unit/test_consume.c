/*
 * test_consume.c - the change log's consumers over the fake store: compaction keeps what a
 * consumer has not read, the consumer loop applies each change once, a batch whose position
 * moved or that failed leaves the consumer where it was, and the activity consumer's counts.
 */
#include "changes_world.h"
#include "webhook/webhook.h"

static void test_compaction_keeps_what_a_consumer_has_not_read(void)
{
    struct world w;
    setup(&w);
    write_entry(&w, "unread");
    int before = w.f.store.nchanges;
    w.f.clock.now_ms += 8 * 24 * 3600 * 1000LL;
    int64_t gone;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_changes_compact(&w.f.cx, 7 * 24 * 3600 * 1000LL, 100, &gone), QL_OK);
    ASSERT_INT_EQ(gone, 0);
    ASSERT_INT_EQ(w.f.store.nchanges, before);
    fixture_cleanup(&w.f);
}

/*
 * Compaction deletes the expired log in batches, each its own transaction (one transaction
 * for all of it would hold back the horizon every reader waits for), and goes on until
 * everything due is gone; what is newer stays.
 */
static void test_compaction_deletes_in_batches_until_everything_due_is_gone(void)
{
    struct world w;
    setup(&w);
    for (int i = 0; i < 7; i++)
        write_entry(&w, "old");
    int n;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, ql_activity_consume, &n), QL_OK);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "webhooks", 100, ql_webhooks_consume, &n), QL_OK);
    int old = w.f.store.nchanges;
    ASSERT_TRUE(old >= 7);
    w.f.clock.now_ms += 8 * 24 * 3600 * 1000LL;
    write_entry(&w, "new");
    int newer = w.f.store.nchanges - old;
    int commits = w.f.store.commits;
    int64_t gone;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_changes_compact(&w.f.cx, 7 * 24 * 3600 * 1000LL, 2, &gone), QL_OK);
    ASSERT_INT_EQ(gone, old);
    ASSERT_INT_EQ(w.f.store.nchanges, newer);
    ASSERT_INT_EQ(w.f.store.compact_batches, (old + 2) / 2);       /* the last one finds less */
    ASSERT_INT_EQ(w.f.store.commits - commits, 1 + (old + 2) / 2); /* the floor, each batch */
    fixture_cleanup(&w.f);
}

static void test_a_consumer_applies_each_change_once_and_advances(void)
{
    struct world w;
    setup(&w);
    struct ql_entry a = write_entry(&w, "a");
    write_entry(&w, "b");
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_entry_delete(&w.f.cx, &w.team.id, &a.id, NULL, 0), QL_OK);
    int n;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 2, ql_activity_consume, &n), QL_OK);
    ASSERT_INT_EQ(n, 2); /* a batch of two: the owner added, the viewer added */
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, ql_activity_consume, &n), QL_OK);
    ASSERT_INT_EQ(n, 3);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, ql_activity_consume, &n), QL_OK);
    ASSERT_INT_EQ(n, 0); /* nothing new: nothing counted twice */
    struct ql_activity act;
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_team_activity(&w.f.cx, &w.team.id, &act), QL_OK);
    ASSERT_INT_EQ(act.entries_created, 2);
    ASSERT_INT_EQ(act.entries_deleted, 1);
    ASSERT_INT_EQ(act.entries_updated, 0);
    ASSERT_INT_EQ(act.members_added, 2);
    ASSERT_INT_EQ(act.members_removed, 0);
    ASSERT_TRUE(act.last_ms > 0);
    fixture_cleanup(&w.f);
}

/* Counts the batch, then moves the position the way a second run would have. */
static int consume_then_moved(struct ql_ctx *cx, const struct ql_change *changes, int n)
{
    int rc = ql_activity_consume(cx, changes, n);
    struct ql_change_pos elsewhere = {changes[n - 1].pos.txid + 1, 0};
    struct ql_change_pos at;
    if (rc == QL_OK)
        rc = ql_store_changes_consumer_lock(cx->ports.store, cx, "activity", &at);
    return rc ? rc
              : ql_store_changes_consumer_advance(cx->ports.store, cx, "activity", &at, &elsewhere);
}

/* A batch whose position moved while it ran (another run applied it) is not applied again. */
static void test_a_batch_whose_position_moved_rolls_back(void)
{
    struct world w;
    setup(&w);
    write_entry(&w, "a");
    struct ql_change_pos at = w.f.store.consumer;
    int n;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, consume_then_moved, &n), QL_ECONFLICT);
    ASSERT_INT_EQ(n, 0);
    ASSERT_INT_EQ(ql_change_pos_cmp(&w.f.store.consumer, &at), 0);
    ASSERT_INT_EQ(w.f.store.nactivity, 0);
    ASSERT_INT_EQ(w.f.store.in_tx, 0);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, ql_activity_consume, &n), QL_OK);
    ASSERT_INT_EQ(n, 3);
    struct ql_activity act;
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_team_activity(&w.f.cx, &w.team.id, &act), QL_OK);
    ASSERT_INT_EQ(act.entries_created, 1);
    fixture_cleanup(&w.f);
}

static void test_a_failed_batch_leaves_the_consumer_where_it_was(void)
{
    struct world w;
    setup(&w);
    write_entry(&w, "a");
    struct ql_change_pos at = w.f.store.consumer;
    int n;
    /* BEGIN, lock, read, then the counts fail */
    w.f.store.fail_call = 4;
    w.f.store.fail_code = QL_EUNAVAILABLE;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, ql_activity_consume, &n), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(w.f.store.fail_hits, 1);
    ASSERT_INT_EQ(n, 0);
    ASSERT_INT_EQ(ql_change_pos_cmp(&w.f.store.consumer, &at), 0);
    ASSERT_INT_EQ(w.f.store.nactivity, 0);
    ASSERT_INT_EQ(w.f.store.in_tx, 0);
    w.f.store.fail_call = 0;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, ql_activity_consume, &n), QL_OK);
    ASSERT_INT_EQ(n, 3);
    fixture_cleanup(&w.f);
}

static void test_a_consumer_another_worker_holds_is_skipped(void)
{
    struct world w;
    setup(&w);
    write_entry(&w, "a");
    w.f.store.consumer_busy = 1;
    int n = -1;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, ql_activity_consume, &n), QL_OK);
    ASSERT_INT_EQ(n, 0);
    ASSERT_INT_EQ(w.f.store.nactivity, 0);
    int k;
    const struct ql_consumer *all = ql_consumers(&k);
    ASSERT_INT_EQ(k, 2);
    ASSERT_STR_EQ(all[0].name, "activity");
    ASSERT_STR_EQ(all[1].name, "webhooks");
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_compaction_keeps_what_a_consumer_has_not_read),
        TEST(test_compaction_deletes_in_batches_until_everything_due_is_gone),
        TEST(test_a_consumer_applies_each_change_once_and_advances),
        TEST(test_a_batch_whose_position_moved_rolls_back),
        TEST(test_a_failed_batch_leaves_the_consumer_where_it_was),
        TEST(test_a_consumer_another_worker_holds_is_skipped),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
