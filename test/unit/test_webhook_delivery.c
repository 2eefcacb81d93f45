/*
 * test_webhook_delivery.c - the attempts of webhook deliveries over the fake ports
 * (webhook_world.h): the retry schedule, disabling an endpoint after failures in a row,
 * and redelivery.
 */
#include "webhook_world.h"

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_failures_retry_on_the_schedule_then_disable_the_endpoint(void)
{
    struct world w;
    setup(&w);
    w.f.cfg.webhook_disable_after = 3;
    w.f.cfg.webhook_nretries = 2;
    w.f.cfg.webhook_retry_ms[0] = 5000;
    w.f.cfg.webhook_retry_ms[1] = 300000;
    struct ql_webhook h;
    one_delivery(&w, &h, "one");
    w.out.status = 500;
    int attempts;
    ASSERT_INT_EQ(deliver_next(&w, &attempts), QL_EUNAVAILABLE);
    int64_t d1 = w.f.cx.err.retry_after_ms;
    ASSERT_TRUE(d1 >= 4500 && d1 <= 5500); /* 5 s +/- 10 % */
    w.out.status = 0;                      /* no answer at all */
    ASSERT_INT_EQ(deliver_next(&w, &attempts), QL_EUNAVAILABLE);
    int64_t d2 = w.f.cx.err.retry_after_ms;
    ASSERT_TRUE(d2 >= 270000 && d2 <= 330000);
    ASSERT_INT_EQ(w.f.store.nattempts, 2);
    ASSERT_STR_EQ(w.f.store.attempts[0].error, "HTTP 500");
    ASSERT_STR_EQ(w.f.store.attempts[1].error, "connection refused");
    ASSERT_INT_EQ(w.f.store.attempts[1].response_status, 0);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "pending");
    /* the last attempt fails too: the delivery has failed; a third failure in a row
     * disables the endpoint, with an audit row */
    int audits = w.f.store.naudit;
    ASSERT_INT_EQ(deliver_next(&w, &attempts), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(attempts, 3);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "failed");
    ASSERT_TRUE(w.f.store.webhooks[0].w.disabled_ms != 0);
    ASSERT_INT_EQ(w.f.store.naudit, audits + 1);
    ASSERT_STR_EQ(w.f.store.audit[audits].e.action, "webhook.disable");
    ASSERT_INT_EQ(deliver_next(&w, NULL), -1000); /* nothing left to try */
    /* a disabled endpoint gets no more deliveries */
    write_entry(&w, "two");
    fan_out(&w);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 1);
    fixture_cleanup(&w.f);
}

static void test_two_failures_at_once_disable_the_endpoint_once(void)
{
    struct world w;
    setup(&w);
    w.f.cfg.webhook_disable_after = 1;
    struct ql_webhook h;
    one_delivery(&w, &h, "one");
    w.out.status = 500;
    w.out.race = &w.f.store.webhooks[0].w.disabled_ms;
    int audits = w.f.store.naudit;
    ASSERT_INT_EQ(deliver_next(&w, NULL), QL_EUNAVAILABLE);
    ASSERT_TRUE(w.f.store.webhooks[0].w.disabled_ms != 0);
    ASSERT_INT_EQ(w.f.store.naudit, audits); /* the other delivery wrote the audit row */
    fixture_cleanup(&w.f);
}

static void test_a_redelivery_sends_the_same_message_again(void)
{
    struct world w;
    setup(&w);
    struct ql_webhook h;
    one_delivery(&w, &h, "again");
    ASSERT_INT_EQ(deliver_next(&w, NULL), QL_OK);
    char first_id[80], first_body[4096];
    snprintf(first_id, sizeof(first_id), "%s", header(&w.out, "webhook-id"));
    snprintf(first_body, sizeof(first_body), "%s", w.out.body);
    struct ql_uuid did = w.f.store.deliveries[0].d.id;
    as(&w, &w.pm); /* members may not */
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_EFORBIDDEN);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_OK);
    w.f.clock.now_ms += 60000;
    ASSERT_INT_EQ(deliver_next(&w, NULL), QL_OK);
    ASSERT_STR_EQ(header(&w.out, "webhook-id"), first_id);
    ASSERT_STR_EQ(w.out.body, first_body);
    ASSERT_INT_EQ(w.f.store.nattempts, 2);
    ASSERT_INT_EQ(w.f.store.attempts[1].attempt, 2);
    /* the deliveries list shows both attempts, newest first */
    struct ql_delivery_attempt *a;
    int n;
    const char *next;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_attempts(&w.f.cx, &w.team.id, &h.id, NULL, 0, 10, &a, &n, &next),
                  QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(a[0].attempt, 2);
    ASSERT_STR_EQ(a[0].event, "journal_entry.created");
    fixture_cleanup(&w.f);
}

/*
 * A redelivery asked for while the first attempts are still retrying: once one of the two
 * jobs has delivered the message, the other sends nothing more, and the delivery stays
 * succeeded.  The same holds for a job run again after its worker died between a
 * delivered attempt and recording the job done.
 */
static void test_a_delivered_message_is_not_sent_again_by_an_older_job(void)
{
    struct world w;
    setup(&w);
    struct ql_webhook h;
    one_delivery(&w, &h, "once");
    int first = w.f.queue.n - 1;
    w.out.status = 500;
    ASSERT_INT_EQ(deliver_job(&w, first, NULL), QL_EUNAVAILABLE); /* retried in 5 s */
    struct ql_uuid did = w.f.store.deliveries[0].d.id;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_OK);
    int again = w.f.queue.n - 1;
    ASSERT_TRUE(again != first);
    w.out.status = 200;
    ASSERT_INT_EQ(deliver_job(&w, again, NULL), QL_OK);
    ASSERT_INT_EQ(w.out.calls, 2);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "succeeded");
    /* the first job's retry comes due: delivered already, nothing is sent */
    w.out.status = 500;
    ASSERT_INT_EQ(deliver_job(&w, first, NULL), QL_OK);
    ASSERT_INT_EQ(w.out.calls, 2);
    ASSERT_INT_EQ(w.f.store.nattempts, 2);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "succeeded");
    ASSERT_INT_EQ(w.f.store.webhooks[0].w.failures, 0);
    /* a redelivery of a delivered message is sent, though */
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_OK);
    w.out.status = 200;
    ASSERT_INT_EQ(deliver_job(&w, w.f.queue.n - 1, NULL), QL_OK);
    ASSERT_INT_EQ(w.out.calls, 3);
    fixture_cleanup(&w.f);
}

/* While one job posts, the job the test named runs whole and is answered 200; the first
 * is answered 500. */
static int overlapping_job;
static void run_overlapping(void *ud)
{
    struct world *w = ud;
    ASSERT_INT_EQ(deliver_job(w, overlapping_job, NULL), QL_OK);
    w->out.status = 500;
}

/*
 * Two jobs of one delivery that post at the same time (two redeliveries asked for at
 * once): each post is an attempt of its own in the list, numbered in turn, and the
 * failure recorded after the success does not undo it.
 */
static void test_attempts_made_at_once_are_each_recorded(void)
{
    struct world w;
    setup(&w);
    struct ql_webhook h;
    one_delivery(&w, &h, "twice at once");
    ASSERT_INT_EQ(deliver_next(&w, NULL), QL_OK);
    struct ql_uuid did = w.f.store.deliveries[0].d.id;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_OK);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_OK);
    overlapping_job = w.f.queue.n - 1;
    w.out.during = run_overlapping;
    w.out.during_ud = &w;
    ASSERT_INT_EQ(deliver_job(&w, w.f.queue.n - 2, NULL), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(w.out.calls, 3);
    ASSERT_INT_EQ(w.f.store.nattempts, 3);
    ASSERT_INT_EQ(w.f.store.attempts[1].attempt, 2); /* the job that ran whole */
    ASSERT_INT_EQ(w.f.store.attempts[1].ok, 1);
    ASSERT_INT_EQ(w.f.store.attempts[2].attempt, 3);
    ASSERT_STR_EQ(w.f.store.attempts[2].error, "HTTP 500");
    ASSERT_INT_EQ(w.f.store.deliveries[0].d.attempts, 3);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "succeeded");
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_failures_retry_on_the_schedule_then_disable_the_endpoint),
        TEST(test_two_failures_at_once_disable_the_endpoint_once),
        TEST(test_a_redelivery_sends_the_same_message_again),
        TEST(test_a_delivered_message_is_not_sent_again_by_an_older_job),
        TEST(test_attempts_made_at_once_are_each_recorded),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
