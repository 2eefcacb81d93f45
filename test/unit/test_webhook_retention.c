/*
 * test_webhook_retention.c - what becomes of finished webhook deliveries over the fake
 * ports (webhook_world.h): the job "purge.webhooks" deletes them with their attempts after
 * QUILL_WEBHOOK_RETENTION_HOURS, and keeps pending ones.
 */
#include "webhook_world.h"

#include "uuid/uuid.h"

#define HOUR_MS 3600000LL

/* A world keeping finished deliveries a day, of two attempts each, and its endpoint. */
static void retention_setup(struct world *w, struct ql_webhook *h)
{
    setup(w);
    w->f.cfg.webhook_nretries = 1; /* two attempts */
    w->f.cfg.webhook_retention_ms = 24 * HOUR_MS;
    endpoint(w, h);
}

static int same(const struct ql_uuid *a, const struct ql_uuid *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* The index in the fake queue of the newest job that delivers d. */
static int job_of(struct world *w, const struct ql_uuid *d)
{
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(d, id);
    for (int i = w->f.queue.n - 1; i >= 0; i--)
        if (strstr(w->f.queue.jobs[i].payload, id))
            return i;
    ASSERT_TRUE(0);
    return -1;
}

/* Run the job "purge.webhooks" as the worker would. */
static int purge(struct world *w)
{
    const struct ql_job_kind *k = ql_job_kind_find("purge.webhooks", 0);
    ASSERT_NOT_NULL(k);
    struct ql_job job = {.id = 77, .kind = "purge.webhooks", .attempts = 1, .max_attempts = 5};
    fixture_next(&w->f);
    return k->fn(&w->f.cx, &job);
}

/* The attempts the endpoint's deliveries list shows. */
static int listed(struct world *w, const struct ql_uuid *hook, struct ql_delivery_attempt **a)
{
    int n;
    const char *next;
    as(w, &w->po);
    ASSERT_INT_EQ(ql_webhook_attempts(&w->f.cx, &w->team.id, hook, NULL, 0, 50, a, &n, &next),
                  QL_OK);
    return n;
}

/*
 * A delivery that succeeded and one that failed for good go, with their attempts, once
 * they are older than the retention; a newer one, one still retrying and an old one that
 * was redelivered lately stay.  The deliveries list then shows only what is kept.
 */
static void test_finished_deliveries_go_after_the_retention(void)
{
    struct world w;
    struct ql_webhook h;
    retention_setup(&w, &h);
    write_entry(&w, "delivered");
    write_entry(&w, "failed for good");
    write_entry(&w, "delivered, then redelivered");
    write_entry(&w, "still retrying");
    fan_out(&w);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 4);
    struct ql_uuid ok = w.f.store.deliveries[0].d.id, failed = w.f.store.deliveries[1].d.id,
                   again = w.f.store.deliveries[2].d.id, retrying = w.f.store.deliveries[3].d.id;
    ASSERT_INT_EQ(deliver_job(&w, job_of(&w, &ok), NULL), QL_OK);
    w.out.status = 500;
    ASSERT_INT_EQ(deliver_job(&w, job_of(&w, &failed), NULL), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(deliver_job(&w, job_of(&w, &failed), NULL), QL_EUNAVAILABLE); /* the last */
    w.out.status = 200;
    ASSERT_INT_EQ(deliver_job(&w, job_of(&w, &again), NULL), QL_OK);
    w.out.status = 500;
    ASSERT_INT_EQ(deliver_job(&w, job_of(&w, &retrying), NULL), QL_EUNAVAILABLE); /* one left */
    ASSERT_STR_EQ(w.f.store.deliveries[1].state, "failed");
    ASSERT_STR_EQ(w.f.store.deliveries[3].state, "pending");
    /* within the retention, nothing goes */
    w.f.clock.now_ms += 23 * HOUR_MS;
    ASSERT_INT_EQ(purge(&w), QL_OK);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 4);
    /* the third is redelivered an hour before the others age out */
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &again), QL_OK);
    w.out.status = 200;
    ASSERT_INT_EQ(deliver_job(&w, job_of(&w, &again), NULL), QL_OK);
    write_entry(&w, "newer");
    fan_out(&w);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 5);
    ASSERT_INT_EQ(deliver_job(&w, job_of(&w, &w.f.store.deliveries[4].d.id), NULL), QL_OK);
    w.f.clock.now_ms += 2 * HOUR_MS;
    int audits = w.f.store.naudit;
    ASSERT_INT_EQ(purge(&w), QL_OK);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 3);
    for (int i = 0; i < w.f.store.ndeliveries; i++) {
        ASSERT_TRUE(!same(&w.f.store.deliveries[i].d.id, &ok));
        ASSERT_TRUE(!same(&w.f.store.deliveries[i].d.id, &failed));
    }
    for (int i = 0; i < w.f.store.nattempts; i++) {
        ASSERT_TRUE(!same(&w.f.store.attempts[i].delivery_id, &ok));
        ASSERT_TRUE(!same(&w.f.store.attempts[i].delivery_id, &failed));
    }
    ASSERT_INT_EQ(w.f.store.naudit, audits + 1);
    ASSERT_STR_EQ(w.f.store.audit[audits].e.action, "purge.webhooks");
    ASSERT_STR_EQ(w.f.store.audit[audits].e.actor, "Job:purge.webhooks");
    /* the list shows what is kept: two attempts of the redelivered one, one of the one still
     * retrying, and the newer one's */
    struct ql_delivery_attempt *a;
    ASSERT_INT_EQ(listed(&w, &h.id, &a), 4);
    int seen_again = 0, seen_retrying = 0;
    for (int i = 0; i < 4; i++) {
        seen_again += same(&a[i].delivery_id, &again);
        seen_retrying += same(&a[i].delivery_id, &retrying);
    }
    ASSERT_INT_EQ(seen_again, 2);
    ASSERT_INT_EQ(seen_retrying, 1);
    /* a pending delivery is kept however old it is */
    w.f.clock.now_ms += 1000 * HOUR_MS;
    ASSERT_INT_EQ(purge(&w), QL_OK);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 1);
    ASSERT_TRUE(same(&w.f.store.deliveries[0].d.id, &retrying));
    ASSERT_INT_EQ(listed(&w, &h.id, &a), 1);
    fixture_cleanup(&w.f);
}

/*
 * The worker running the last attempt of a delivery dies: the rescuer discards the job (its
 * attempts are spent) and no attempt is recorded.  The next purge.webhooks ends the
 * delivery failed, with an attempt that says the worker stopped, in the deliveries list
 * and the operators' failures; a delivery whose job will still run stays pending.  Once
 * failed, the delivery ages out like any other.
 */
static void test_a_delivery_whose_job_was_discarded_ends_failed(void)
{
    struct world w;
    struct ql_webhook h;
    retention_setup(&w, &h);
    write_entry(&w, "lost with its worker");
    write_entry(&w, "still retrying");
    fan_out(&w);
    struct ql_uuid lost = w.f.store.deliveries[0].d.id, live = w.f.store.deliveries[1].d.id;
    w.out.status = 500;
    ASSERT_INT_EQ(deliver_job(&w, job_of(&w, &lost), NULL), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(deliver_job(&w, job_of(&w, &live), NULL), QL_EUNAVAILABLE);
    /* the last attempt's worker dies mid-post; the rescuer discards the job */
    struct fake_job *j = &w.f.queue.jobs[job_of(&w, &lost)];
    j->attempts = j->max_attempts;
    j->done = 1;
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "pending");
    w.f.clock.now_ms += HOUR_MS;
    ASSERT_INT_EQ(purge(&w), QL_OK);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "failed");
    ASSERT_STR_EQ(w.f.store.deliveries[1].state, "pending"); /* its job runs again */
    ASSERT_INT_EQ(w.f.store.deliveries[0].d.attempts, 2);
    ASSERT_INT_EQ(w.f.store.deliveries[1].d.attempts, 1);
    ASSERT_INT_EQ(w.f.store.webhooks[0].w.failures, 2); /* not the endpoint's failure */
    struct ql_delivery_attempt *a;
    ASSERT_INT_EQ(listed(&w, &h.id, &a), 3);
    ASSERT_TRUE(same(&a[0].delivery_id, &lost));
    ASSERT_INT_EQ(a[0].attempt, 2);
    ASSERT_INT_EQ(a[0].ok, 0);
    ASSERT_INT_EQ(a[0].response_status, 0);
    ASSERT_INT_EQ(a[0].at_ms, w.f.clock.now_ms);
    ASSERT_NOT_NULL(a[0].error);
    ASSERT_NOT_NULL(strstr(a[0].error, "worker stopped"));
    /* a second run finds nothing more to end */
    ASSERT_INT_EQ(purge(&w), QL_OK);
    ASSERT_INT_EQ(listed(&w, &h.id, &a), 3);
    /* the operator sees it among the failures, and may redeliver it */
    struct ql_principal op = {.kind = QL_PRINCIPAL_OPERATOR};
    int n;
    as(&w, &op);
    ASSERT_INT_EQ(ql_webhook_failures(&w.f.cx, 10, &a, &n), QL_OK);
    ASSERT_TRUE(n >= 1);
    ASSERT_TRUE(same(&a[0].delivery_id, &lost));
    /* failed now, it ages out like any finished delivery */
    w.f.clock.now_ms += 25 * HOUR_MS;
    ASSERT_INT_EQ(purge(&w), QL_OK);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 1);
    ASSERT_TRUE(same(&w.f.store.deliveries[0].d.id, &live));
    fixture_cleanup(&w.f);
}

/* The job is on the hourly cron table, and the retention is read from the environment. */
static void test_the_purge_runs_every_hour(void)
{
    int n, found = 0;
    const struct ql_schedule *s = ql_schedules(0, &n);
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].kind, "purge.webhooks") == 0) {
            struct ql_cron c;
            struct ql_error e;
            ASSERT_INT_EQ(ql_cron_parse(s[i].expr, &c, &e), QL_OK);
            ASSERT_INT_EQ(c.hours, 0xffffff);
            found++;
        }
    ASSERT_INT_EQ(found, 1);
    struct fixture f;
    fixture_init(&f);
    ASSERT_INT_EQ(f.cfg.webhook_retention_ms, 720 * HOUR_MS); /* the default: 30 days */
    fixture_cleanup(&f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_finished_deliveries_go_after_the_retention),
        TEST(test_a_delivery_whose_job_was_discarded_ends_failed),
        TEST(test_the_purge_runs_every_hour),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
