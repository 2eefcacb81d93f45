/*
 * test_webhook_jobs.c - the webhook jobs against the real PostgreSQL: "purge.webhooks"
 * deletes finished deliveries past QUILL_WEBHOOK_RETENTION_HOURS, their attempts with them,
 * in batches, and keeps pending and newer ones; and it ends failed a pending delivery whose
 * job will not run again (the rescuer discarded it after its worker died, or it was
 * cancelled).  And the attempts list's cursor pages past attempt 1000.
 */
#include "arena/arena.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "integration/itest.h"
#include "integration/uc_world.h"
#include "jobs/jobs.h"
#include "queue/queue.h"
#include "sodium/sodium_auth.h"
#include "store/store.h"
#include "test.h"
#include "webhook/webhook.h"

static const char *url;

struct world {
    struct uc_world u;
    char team[40], hook[40];
};

/* A session, the default configuration, and a team with one endpoint (made in SQL). */
static void world_open(struct world *w)
{
    memset(w, 0, sizeof(*w));
    uc_world_open(&w->u, url, 9);
    const char *v =
        itest_sql(url, "INSERT INTO teams (team_id, name, created_at, updated_at) "
                       "VALUES (gen_random_uuid(), 'T', now(), now()) RETURNING team_id");
    ASSERT_NOT_NULL(v);
    snprintf(w->team, sizeof(w->team), "%s", v);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO webhooks (webhook_id, team_id, url, events, secret, created_at) VALUES "
             "(gen_random_uuid(), '%s', 'https://a.example.com/in', '{member.added}', '\\x00', "
             "now()) RETURNING webhook_id",
             w->team);
    v = itest_sql(url, sql);
    ASSERT_NOT_NULL(v);
    snprintf(w->hook, sizeof(w->hook), "%s", v);
}

static void world_close(struct world *w)
{
    uc_world_close(&w->u);
}

/*
 * n deliveries of the endpoint made `made` ago (an interval), in state, each with attempts
 * attempts, the last `last` ago; the id of the last one into id (may be NULL).
 */
static void deliveries(struct world *w, int n, const char *made, const char *state, int attempts,
                       const char *last, char id[40])
{
    char sql[1400];
    snprintf(sql, sizeof(sql),
             "WITH d AS (INSERT INTO webhook_deliveries (delivery_id, webhook_id, team_id, event, "
             "body, created_at, attempts, state) SELECT gen_random_uuid(), '%s', '%s', "
             "'member.added', '{}', now() - interval '%s', %d, '%s' FROM generate_series(1, %d) "
             "RETURNING delivery_id, team_id), a AS (INSERT INTO webhook_attempts (delivery_id, "
             "attempt, webhook_id, team_id, at, ok, response_status, error, duration_ms) SELECT "
             "d.delivery_id, k, '%s', d.team_id, CASE WHEN k = %d THEN now() - interval '%s' "
             "ELSE now() - interval '%s' END, '%s' = 'succeeded' AND k = %d, 500, NULL, 1 FROM d, "
             "generate_series(1, %d) k) SELECT max(delivery_id::text) FROM d",
             w->hook, w->team, made, attempts, state, n, w->hook, attempts, last, made, state,
             attempts, attempts);
    const char *v = itest_sql(url, sql);
    ASSERT_NOT_NULL(v);
    if (id)
        snprintf(id, 40, "%s", v);
}

static int64_t count(const char *sql_fmt, const char *arg)
{
    char sql[512];
    snprintf(sql, sizeof(sql), sql_fmt, arg);
    const char *v = itest_sql(url, sql);
    return v ? atoll(v) : -1;
}

static int run(struct world *w, const char *kind)
{
    const struct ql_job_kind *k = ql_job_kind_find(kind, 0);
    ASSERT_NOT_NULL(k);
    struct ql_job job = {.id = 1, .kind = kind, .payload = "{}", .attempts = 1, .max_attempts = 5};
    ql_error_clear(&w->u.cx.err);
    return k->fn(&w->u.cx, &job);
}

/* A webhook.deliver job for delivery id, in state (a running one on a worker that died). */
static void job_for(const char *id, const char *state, int attempts, int max_attempts)
{
    char sql[600];
    snprintf(sql, sizeof(sql),
             "INSERT INTO jobs (queue, kind, payload, state, attempts, max_attempts, locked_by, "
             "heartbeat_at) VALUES ('webhooks', 'webhook.deliver', jsonb_build_object("
             "'deliveryId', '%s'), '%s', %d, %d, CASE WHEN '%s' = 'running' THEN 'lost' END, "
             "CASE WHEN '%s' = 'running' THEN now() - interval '1 hour' END)",
             id, state, attempts, max_attempts, state, state);
    ASSERT_NOT_NULL(itest_sql(url, sql));
}

/*
 * More old finished deliveries than one batch holds all go, attempts with them, under one
 * audit row; pending ones, newer ones and one attempted within the retention stay.
 */
static void test_the_purge_deletes_old_finished_deliveries_in_batches(void)
{
    struct world w;
    world_open(&w);
    char ok[40], failed[40], pending[40], again[40], young[40];
    deliveries(&w, 1200, "40 days", "succeeded", 1, "40 days", ok);
    deliveries(&w, 1, "40 days", "failed", 3, "39 days", failed);
    deliveries(&w, 1, "40 days", "pending", 2, "39 days", pending);
    job_for(pending, "failed", 2, 8);                             /* due for its third attempt */
    deliveries(&w, 1, "40 days", "succeeded", 2, "1 day", again); /* redelivered yesterday */
    deliveries(&w, 1, "1 day", "succeeded", 1, "1 day", young);
    ASSERT_INT_EQ(count("SELECT count(*) FROM webhook_attempts WHERE webhook_id = '%s'", w.hook),
                  1200 + 3 + 2 + 2 + 1);
    int64_t audits = count("SELECT count(*) FROM audit_log WHERE action = '%s'", "purge.webhooks");
    ASSERT_INT_EQ(run(&w, "purge.webhooks"), QL_OK);
    ASSERT_INT_EQ(count("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '%s'", w.hook),
                  3);
    ASSERT_INT_EQ(
        count("SELECT count(*) FROM webhook_deliveries WHERE delivery_id IN ('%s')", pending), 1);
    ASSERT_INT_EQ(count("SELECT count(*) FROM webhook_deliveries WHERE delivery_id = '%s'", again),
                  1);
    ASSERT_INT_EQ(count("SELECT count(*) FROM webhook_deliveries WHERE delivery_id = '%s'", young),
                  1);
    /* the attempts went with their deliveries */
    ASSERT_INT_EQ(count("SELECT count(*) FROM webhook_attempts WHERE webhook_id = '%s'", w.hook),
                  2 + 2 + 1);
    ASSERT_INT_EQ(count("SELECT count(*) FROM webhook_attempts a WHERE NOT EXISTS (SELECT 1 FROM "
                        "webhook_deliveries d WHERE d.delivery_id = a.delivery_id) AND "
                        "a.webhook_id = '%s'",
                        w.hook),
                  0);
    ASSERT_INT_EQ(count("SELECT count(*) FROM audit_log WHERE action = '%s'", "purge.webhooks"),
                  audits + 1);
    ASSERT_NOT_NULL(itest_sql(url, "DELETE FROM jobs WHERE kind = 'webhook.deliver'"));
    world_close(&w);
}

/*
 * The worker of a delivery's last attempt dies: the rescuer discards its job, and the next
 * purge.webhooks ends the delivery failed with an attempt saying the worker stopped.  A
 * delivery whose job was cancelled ends the same way; one whose job is waiting, running or
 * due for a retry stays pending.
 */
static void test_a_delivery_whose_job_the_rescuer_discarded_ends_failed(void)
{
    struct world w;
    world_open(&w);
    char lost[40], cancelled[40], waiting[40], running[40], retrying[40];
    deliveries(&w, 1, "2 hours", "pending", 1, "1 hour", lost);
    deliveries(&w, 1, "2 hours", "pending", 0, "1 hour", cancelled);
    deliveries(&w, 1, "2 hours", "pending", 0, "1 hour", waiting);
    deliveries(&w, 1, "2 hours", "pending", 0, "1 hour", running);
    deliveries(&w, 1, "2 hours", "pending", 1, "1 hour", retrying);
    job_for(lost, "running", 2, 2); /* its last attempt, on a worker that died */
    job_for(cancelled, "cancelled", 0, 8);
    job_for(waiting, "available", 0, 8);
    job_for(retrying, "failed", 1, 8);
    /* running: a live worker's, beat just now */
    job_for(running, "available", 0, 8);
    char sql[600];
    snprintf(sql, sizeof(sql),
             "UPDATE jobs SET state = 'running', attempts = 1, locked_by = 'alive', heartbeat_at "
             "= now() WHERE payload->>'deliveryId' = '%s'",
             running);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    int n = 0;
    ASSERT_INT_EQ(ql_queue_rescue(w.u.cx.ports.queue, &w.u.cx, 30000, &n), QL_OK);
    ASSERT_TRUE(n >= 1);
    ASSERT_INT_EQ(count("SELECT count(*) FROM jobs WHERE state = 'discarded' AND "
                        "payload->>'deliveryId' = '%s'",
                        lost),
                  1);
    ASSERT_INT_EQ(run(&w, "purge.webhooks"), QL_OK);
    ASSERT_INT_EQ(count("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '%s' AND "
                        "state = 'failed'",
                        w.hook),
                  2);
    const char *v;
    snprintf(sql, sizeof(sql),
             "SELECT d.attempts || ' ' || a.attempt || ' ' || a.ok || ' ' || "
             "coalesce(a.response_status::text, 'null') || ' ' || a.error FROM "
             "webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.delivery_id AND "
             "a.attempt = d.attempts WHERE d.delivery_id = '%s' AND d.state = 'failed'",
             lost);
    v = itest_sql(url, sql);
    ASSERT_NOT_NULL(v);
    ASSERT_TRUE(strncmp(v, "2 2 false null ", 15) == 0);
    ASSERT_NOT_NULL(strstr(v, "worker stopped"));
    ASSERT_INT_EQ(
        count("SELECT count(*) FROM webhook_deliveries WHERE delivery_id = '%s' AND state = "
              "'failed' AND attempts = 1",
              cancelled),
        1);
    ASSERT_INT_EQ(count("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '%s' AND "
                        "state = 'pending'",
                        w.hook),
                  3);
    /* the endpoint's failures in a row are its own: an ended job is not one of them */
    ASSERT_INT_EQ(count("SELECT failures FROM webhooks WHERE webhook_id = '%s'", w.hook), 0);
    ASSERT_NOT_NULL(itest_sql(url, "DELETE FROM jobs WHERE kind = 'webhook.deliver'"));
    world_close(&w);
}

/*
 * The attempts list pages through a delivery redelivered past attempt 1000: every attempt
 * once, newest first, however the page boundaries fall (attempts 1 to 1004 made at the
 * same millisecond, the 1005th a minute later).
 */
static void test_the_attempts_list_pages_past_attempt_1000(void)
{
    struct world w;
    world_open(&w);
    char sql[1200];
    snprintf(sql, sizeof(sql),
             "WITH d AS (INSERT INTO webhook_deliveries (delivery_id, webhook_id, team_id, event, "
             "body, created_at, attempts, state) VALUES (gen_random_uuid(), '%s', '%s', "
             "'member.added', '{}', '2026-12-01T10:00:00Z', 1005, 'failed') RETURNING "
             "delivery_id, team_id) INSERT INTO webhook_attempts (delivery_id, attempt, "
             "webhook_id, team_id, at, ok, response_status, error, duration_ms) SELECT "
             "d.delivery_id, k, '%s', d.team_id, CASE WHEN k = 1005 THEN "
             "timestamptz '2026-12-01T10:01:00.007Z' ELSE timestamptz '2026-12-01T10:00:00.123Z' "
             "END, false, 500, 'HTTP 500', 1 FROM d, generate_series(1, 1005) k",
             w.hook, w.team, w.hook);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    struct ql_membership ms = {.role = QL_ROLE_ADMIN};
    struct ql_uuid hook;
    ASSERT_INT_EQ(ql_uuid_parse(w.team, strlen(w.team), &ms.team_id), QL_OK);
    ASSERT_INT_EQ(ql_uuid_parse(w.hook, strlen(w.hook), &hook), QL_OK);
    struct ql_principal admin = {.kind = QL_PRINCIPAL_USER, .nteams = 1, .teams = &ms};
    int seen = 0, expect = 1005, pages = 0;
    char cursor[128] = "";
    do { /* pages of 3: the first ends at attempt 1003, the next at 1000 */
        ql_error_clear(&w.u.cx.err);
        w.u.cx.principal = &admin;
        struct ql_delivery_attempt *a;
        int n;
        const char *next;
        ASSERT_INT_EQ(ql_webhook_attempts(&w.u.cx, &ms.team_id, &hook, cursor[0] ? cursor : NULL,
                                          strlen(cursor), 3, &a, &n, &next),
                      QL_OK);
        for (int i = 0; i < n; i++, expect--, seen++)
            ASSERT_INT_EQ(a[i].attempt, expect);
        snprintf(cursor, sizeof(cursor), "%s", next ? next : "");
        ql_arena_reset(&w.u.arena);
    } while (cursor[0] && ++pages < 400);
    ASSERT_INT_EQ(seen, 1005);
    /* its attempts go with it: the database the next tests share stays small */
    snprintf(sql, sizeof(sql), "DELETE FROM webhook_deliveries WHERE webhook_id = '%s'", w.hook);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    world_close(&w);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_the_purge_deletes_old_finished_deliveries_in_batches),
        TEST(test_a_delivery_whose_job_the_rescuer_discarded_ends_failed),
        TEST(test_the_attempts_list_pages_past_attempt_1000),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
