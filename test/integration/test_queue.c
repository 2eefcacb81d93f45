/*
 * Integration tests of the queue port over PostgreSQL: transactional enqueue, unique keys,
 * batch claims with SKIP LOCKED across sessions, completions that refuse stale attempts,
 * failures, heartbeats and the rescuer, shutdown release, retention, leadership, and the
 * operator's retry and cancel.
 */
#include "arena/arena.h"
#include "clock/clock.h"
#include "sysclock/sysclock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "itest.h"
#include "jobs/jobs.h"
#include "postgres/pg.h"
#include "queue/queue.h"
#include "store/store.h"
#include "test.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

static const char *url;

struct session {
    struct ql_db_session *pg;
    struct ql_arena arena;
    struct ql_ctx cx;
};

/* A session of db (NULL: the test's factory, which wakes nobody). */
static void open_session_of(struct session *s, struct ql_pg_db *db)
{
    if (db)
        ASSERT_INT_EQ(ql_db_open(ql_pg_db_port(db), QL_DB_BLOCKING, 0, &s->pg), QL_OK);
    else
        s->pg = itest_session(url, QL_DB_BLOCKING);
    ql_arena_init(&s->arena, 0, 0);
    memset(&s->cx, 0, sizeof(s->cx));
    s->cx.arena = &s->arena;
    s->cx.ports.store = ql_db_store(s->pg);
    s->cx.ports.queue = ql_db_queue(s->pg);
    s->cx.ports.clock = ql_sysclock();
}

static void open_session(struct session *s)
{
    open_session_of(s, NULL);
}

static void close_session(struct session *s)
{
    ql_db_session_destroy(s->pg);
    ql_arena_cleanup(&s->arena);
}

static struct ql_queue *q(struct session *s)
{
    return ql_db_queue(s->pg);
}

static int64_t count(const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE %s", where);
    const char *v = itest_sql(url, sql);
    return v ? atoll(v) : -1;
}

static void clean(void)
{
    ASSERT_NOT_NULL(itest_sql(url, "DELETE FROM jobs"));
}

static void test_enqueue_follows_the_transaction(void)
{
    clean();
    struct session s;
    open_session(&s);
    struct ql_job_spec spec = {.kind = "noop", .payload_json = "{\"n\":1}"};
    int64_t id;
    ASSERT_INT_EQ(ql_store_begin(s.cx.ports.store, &s.cx), QL_OK);
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &spec, &id), QL_OK);
    ASSERT_TRUE(id > 0);
    ql_store_rollback(s.cx.ports.store, &s.cx);
    ASSERT_INT_EQ(count("true"), 0);
    ASSERT_INT_EQ(ql_store_begin(s.cx.ports.store, &s.cx), QL_OK);
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &spec, &id), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(s.cx.ports.store, &s.cx), QL_OK);
    ASSERT_INT_EQ(count("kind = 'noop' AND state = 'available'"), 1);
    close_session(&s);
}

static void test_enqueues_wake_workers_after_commit_only(void)
{
    clean();
    PGconn *l = PQconnectdb(url);
    ASSERT_INT_EQ(PQstatus(l), CONNECTION_OK);
    PQclear(PQexec(l, "LISTEN quill_jobs"));
    struct ql_pg_notify *notify;
    ASSERT_INT_EQ(ql_pg_notify_create(url, NULL, &notify), QL_OK);
    const struct ql_pg_db_config c = {
        .conninfo = url, .clock = ql_sysclock(), .notify = ql_pg_notify_port(notify)};
    struct ql_pg_db *db;
    ASSERT_INT_EQ(ql_pg_db_create(&c, &db), QL_OK);
    struct session s;
    open_session_of(&s, db);
    char got[256];
    int64_t id;
    /* outside a transaction: at once */
    struct ql_job_spec now = {.kind = "noop", .queue = "mail"};
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &now, &id), QL_OK);
    itest_heard(l, 200, 0, got, sizeof(got));
    ASSERT_STR_EQ(got, "mail,");
    /* inside one: nothing until the commit, nothing after a rollback */
    ASSERT_INT_EQ(ql_store_begin(s.cx.ports.store, &s.cx), QL_OK);
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &now, &id), QL_OK);
    ql_store_rollback(s.cx.ports.store, &s.cx);
    itest_heard(l, 200, 0, got, sizeof(got));
    ASSERT_STR_EQ(got, "");
    ASSERT_INT_EQ(ql_store_begin(s.cx.ports.store, &s.cx), QL_OK);
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &now, &id), QL_OK);
    struct ql_job_spec other = {.kind = "noop", .queue = "events"};
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &other, &id), QL_OK);
    itest_heard(l, 100, 0, got, sizeof(got));
    ASSERT_STR_EQ(got, "");
    ASSERT_INT_EQ(ql_store_commit(s.cx.ports.store, &s.cx), QL_OK);
    itest_heard(l, 200, 0, got, sizeof(got));
    ASSERT_TRUE(strstr(got, "mail,") != NULL && strstr(got, "events,") != NULL);
    /* a job due later wakes nobody; the next statement sends no stale wake-up */
    struct ql_job_spec later = {.kind = "noop",
                                .run_at_ms = ql_clock_now_ms(ql_sysclock()) + 60000};
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &later, &id), QL_OK);
    ASSERT_INT_EQ(count("true"), 4);
    itest_heard(l, 200, 0, got, sizeof(got));
    ASSERT_STR_EQ(got, "");
    close_session(&s);
    ql_pg_db_destroy(db);
    ql_pg_notify_destroy(notify);
    /* a session of a factory without notifications wakes nobody */
    open_session(&s);
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &now, &id), QL_OK);
    itest_heard(l, 200, 0, got, sizeof(got));
    ASSERT_STR_EQ(got, "");
    close_session(&s);
    PQfinish(l);
}

static void test_unique_keys_and_batches(void)
{
    clean();
    struct session s;
    open_session(&s);
    struct ql_job_spec spec = {.kind = "noop", .unique_key = "only-once"};
    int64_t a, b;
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &spec, &a), QL_OK);
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &spec, &b), QL_OK);
    ASSERT_INT_EQ(a, b);
    struct ql_job_spec many[300];
    for (int i = 0; i < 300; i++)
        many[i] = (struct ql_job_spec){.kind = "noop",
                                       .queue = i % 2 ? "odd" : "even",
                                       .payload_json = "{\"q\":\"a \\\"quoted\\\" \\\\ value\"}",
                                       .priority = i % 3};
    many[7].unique_key = "only-once"; /* a duplicate inside a batch is skipped */
    int64_t ids[300];
    ASSERT_INT_EQ(ql_queue_enqueue_batch(q(&s), &s.cx, many, 300, ids), QL_OK);
    ASSERT_INT_EQ(count("true"), 300);
    ASSERT_STR_EQ(itest_sql(url, "SELECT payload->>'q' FROM jobs WHERE queue = 'odd' LIMIT 1"),
                  "a \"quoted\" \\ value");
    close_session(&s);
}

struct claimer {
    struct session s;
    int64_t ids[2000];
    int n;
    char worker[16];
};

static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    for (;;) {
        struct ql_job *jobs;
        int n = 0;
        if (ql_queue_claim(q(&c->s), &c->s.cx, c->worker, NULL, 5, 20, &jobs, &n) != QL_OK ||
            n == 0)
            break;
        for (int i = 0; i < n && c->n < 2000; i++)
            c->ids[c->n++] = jobs[i].id;
        ql_arena_reset(&c->s.arena);
    }
    return NULL;
}

static void test_concurrent_claims_never_overlap(void)
{
    clean();
    ASSERT_NOT_NULL(
        itest_sql(url, "INSERT INTO jobs (kind) SELECT 'noop' FROM generate_series(1, 1000)"));
    struct claimer c[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        open_session(&c[i].s);
        snprintf(c[i].worker, sizeof(c[i].worker), "w%d", i);
        pthread_create(&t[i], NULL, claim_all, &c[i]);
    }
    int total = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        total += c[i].n;
    }
    ASSERT_INT_EQ(total, 1000);
    ASSERT_INT_EQ(count("state = 'running' AND attempts = 1"), 1000);
    ASSERT_STR_EQ(itest_sql(url, "SELECT count(DISTINCT job_id) FROM jobs WHERE state = 'running'"),
                  "1000");
    for (int i = 0; i < 3; i++)
        close_session(&c[i].s);
}

static struct ql_job claim_one(struct session *s, const char *worker)
{
    struct ql_job *jobs;
    int n = 0;
    int rc = ql_queue_claim(q(s), &s->cx, worker, NULL, 1, 0, &jobs, &n);
    struct ql_job none = {0};
    if (rc != QL_OK || n != 1)
        return none;
    return jobs[0];
}

static void test_completion_names_worker_and_attempt(void)
{
    clean();
    struct session s;
    open_session(&s);
    ASSERT_NOT_NULL(
        itest_sql(url, "INSERT INTO jobs (kind, priority) VALUES ('noop', 5), ('noop', 1)"));
    struct ql_job j = claim_one(&s, "w1");
    ASSERT_TRUE(j.id > 0);
    ASSERT_STR_EQ(itest_sql(url, "SELECT priority FROM jobs WHERE state = 'running'"), "1");
    int stale = j.attempts + 1;
    ASSERT_INT_EQ(ql_queue_complete(q(&s), &s.cx, "w1", &j.id, &stale, 1), QL_OK);
    ASSERT_INT_EQ(ql_queue_complete(q(&s), &s.cx, "w2", &j.id, &j.attempts, 1), QL_OK);
    ASSERT_INT_EQ(count("state = 'running'"), 1); /* neither counted */
    ASSERT_INT_EQ(ql_queue_complete(q(&s), &s.cx, "w1", &j.id, &j.attempts, 1), QL_OK);
    ASSERT_INT_EQ(count("state = 'succeeded' AND finished_at IS NOT NULL"), 1);
    close_session(&s);
}

static void test_failures_retry_then_discard(void)
{
    clean();
    struct session s;
    open_session(&s);
    ASSERT_NOT_NULL(itest_sql(url, "INSERT INTO jobs (kind, max_attempts) VALUES ('noop', 2)"));
    struct ql_job j = claim_one(&s, "w1");
    ASSERT_INT_EQ(ql_queue_fail(q(&s), &s.cx, "w1", j.id, j.attempts, "boom 1", 60000, 0), QL_OK);
    ASSERT_INT_EQ(count("state = 'failed' AND run_at > now() + interval '50 seconds'"), 1);
    ASSERT_INT_EQ(claim_one(&s, "w1").id, 0); /* not before run_at */
    ASSERT_NOT_NULL(itest_sql(url, "UPDATE jobs SET run_at = now()"));
    j = claim_one(&s, "w1");
    ASSERT_INT_EQ(j.attempts, 2);
    ASSERT_INT_EQ(ql_queue_fail(q(&s), &s.cx, "w1", j.id, j.attempts, "boom 2", 0, 1), QL_OK);
    ASSERT_INT_EQ(count("state = 'discarded' AND finished_at IS NOT NULL"), 1);
    ASSERT_STR_EQ(itest_sql(url, "SELECT string_agg(e->>'error', ',') FROM jobs, "
                                 "jsonb_array_elements(errors) e"),
                  "boom 1,boom 2");
    /* the operator retries it: one more attempt is allowed */
    ASSERT_INT_EQ(ql_queue_retry(q(&s), &s.cx, j.id), QL_OK);
    ASSERT_INT_EQ(count("state = 'available' AND max_attempts = 3"), 1);
    ASSERT_INT_EQ(ql_queue_cancel(q(&s), &s.cx, j.id), QL_OK);
    ASSERT_INT_EQ(ql_queue_cancel(q(&s), &s.cx, j.id), QL_ECONFLICT);
    ASSERT_INT_EQ(ql_queue_retry(q(&s), &s.cx, 987654321), QL_ENOT_FOUND);
    close_session(&s);
}

static void test_rescue_release_and_purge(void)
{
    clean();
    struct session s;
    open_session(&s);
    ASSERT_NOT_NULL(itest_sql(url, "INSERT INTO jobs (kind, max_attempts) VALUES ('noop', 5), "
                                   "('noop', 1), ('noop', 5)"));
    struct ql_job a = claim_one(&s, "lost"), b = claim_one(&s, "lost"), c = claim_one(&s, "alive");
    ASSERT_TRUE(a.id && b.id && c.id);
    ASSERT_INT_EQ(ql_queue_heartbeat(q(&s), &s.cx, "alive", &c.id, 1), QL_OK);
    ASSERT_NOT_NULL(itest_sql(url, "UPDATE jobs SET heartbeat_at = now() - interval '1 hour' "
                                   "WHERE locked_by = 'lost'"));
    int n = 0;
    ASSERT_INT_EQ(ql_queue_rescue(q(&s), &s.cx, 30000, &n), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(count("state = 'failed' AND errors::text LIKE '%stopped sending heartbeats%'"),
                  1);
    ASSERT_INT_EQ(count("state = 'discarded'"), 1); /* its one attempt was spent */
    ASSERT_INT_EQ(count("state = 'running' AND locked_by = 'alive'"), 1);
    /* a stale worker cannot finish a rescued job */
    ASSERT_INT_EQ(ql_queue_complete(q(&s), &s.cx, "lost", &a.id, &a.attempts, 1), QL_OK);
    ASSERT_INT_EQ(count("state = 'succeeded'"), 0);
    /* shutdown: the running job goes back, its attempt not counted */
    ASSERT_INT_EQ(ql_queue_release(q(&s), &s.cx, "alive", &c.id, &c.attempts, 1), QL_OK);
    ASSERT_INT_EQ(count("state = 'available' AND attempts = 0"), 1);
    ASSERT_NOT_NULL(itest_sql(url, "UPDATE jobs SET finished_at = now() - interval '10 days' "
                                   "WHERE state = 'discarded'"));
    ASSERT_INT_EQ(ql_queue_purge(q(&s), &s.cx, ql_clock_now_ms(ql_sysclock()) - 86400000, &n),
                  QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(count("true"), 2);
    close_session(&s);
}

/*
 * Jobs claimed ahead of a worker's runners may never have started when the worker dies: the
 * rescuer gives them their attempt back (one more is allowed), where a job claimed for a
 * runner spends it.  A job rescued so is not claimed ahead again: should it be the one that
 * kills its workers, its attempts still run out.
 */
static void test_a_job_claimed_ahead_gets_its_attempt_back_once(void)
{
    clean();
    struct session s;
    open_session(&s);
    ASSERT_NOT_NULL(itest_sql(url, "INSERT INTO jobs (kind, priority, max_attempts) VALUES "
                                   "('noop', 1, 1), ('noop', 2, 1), ('noop', 3, 1), "
                                   "('noop', 4, 1)"));
    struct ql_job *jobs;
    int n = 0;
    ASSERT_INT_EQ(ql_queue_claim(q(&s), &s.cx, "lost", NULL, 1, 2, &jobs, &n), QL_OK);
    ASSERT_INT_EQ(n, 3);
    for (int i = 0; i < n; i++) {
        ASSERT_INT_EQ(jobs[i].attempts, 1);
        ASSERT_INT_EQ(jobs[i].claimed_ahead, jobs[i].priority != 1); /* the first for a runner */
    }
    ASSERT_NOT_NULL(itest_sql(url, "UPDATE jobs SET heartbeat_at = now() - interval '1 hour'"));
    ASSERT_INT_EQ(ql_queue_rescue(q(&s), &s.cx, 30000, &n), QL_OK);
    ASSERT_INT_EQ(n, 3);
    ASSERT_INT_EQ(count("priority = 1 AND state = 'discarded' AND attempts = 1"), 1);
    ASSERT_INT_EQ(count("priority IN (2, 3) AND state = 'failed' AND attempts = 1 AND "
                        "max_attempts = 2 AND jsonb_array_length(errors) = 1 AND errors::text "
                        "LIKE '%one more attempt is allowed%' AND NOT claimed_ahead"),
                  2);
    /* ahead of the runners only a job without errors: the fourth */
    ASSERT_INT_EQ(ql_queue_claim(q(&s), &s.cx, "w", NULL, 0, 5, &jobs, &n), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(jobs[0].priority, 4);
    ASSERT_INT_EQ(jobs[0].claimed_ahead, 1);
    /* for runners, any: and then an attempt spent on it counts */
    ASSERT_INT_EQ(ql_queue_claim(q(&s), &s.cx, "w", NULL, 2, 0, &jobs, &n), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(jobs[0].claimed_ahead + jobs[1].claimed_ahead, 0);
    ASSERT_INT_EQ(count("priority IN (2, 3) AND state = 'running' AND attempts = 2 AND NOT "
                        "claimed_ahead"),
                  2);
    ASSERT_NOT_NULL(itest_sql(url, "UPDATE jobs SET heartbeat_at = now() - interval '1 hour'"));
    ASSERT_INT_EQ(ql_queue_rescue(q(&s), &s.cx, 30000, &n), QL_OK);
    ASSERT_INT_EQ(n, 3);
    ASSERT_INT_EQ(count("priority IN (1, 2, 3) AND state = 'discarded'"), 3);
    ASSERT_INT_EQ(count("priority = 4 AND state = 'failed' AND attempts = 1 AND max_attempts = 2"),
                  1);
    close_session(&s);
}

static void test_one_leader_at_a_time(void)
{
    struct session a, b;
    open_session(&a);
    open_session(&b);
    int la = 0, lb = 0;
    ASSERT_INT_EQ(ql_queue_lead(q(&a), &a.cx, &la), QL_OK);
    ASSERT_INT_EQ(ql_queue_lead(q(&b), &b.cx, &lb), QL_OK);
    ASSERT_INT_EQ(la, 1);
    ASSERT_INT_EQ(lb, 0);
    ASSERT_INT_EQ(ql_queue_lead(q(&a), &a.cx, &la), QL_OK); /* still the leader */
    ASSERT_INT_EQ(la, 1);
    close_session(&a); /* the leader goes away: its lock goes with its session */
    /* the server releases it when that backend exits, a moment after the client closed */
    for (int i = 0; i < 200 && lb == 0; i++) {
        ASSERT_INT_EQ(ql_queue_lead(q(&b), &b.cx, &lb), QL_OK);
        if (lb == 0)
            nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    }
    ASSERT_INT_EQ(lb, 1);
    close_session(&b);
}

static void test_stats_and_listing(void)
{
    clean();
    struct session s;
    open_session(&s);
    ASSERT_NOT_NULL(
        itest_sql(url, "INSERT INTO jobs (kind, queue, run_at) SELECT 'noop', 'q' || "
                       "(g % 2), now() - interval '5 seconds' FROM generate_series(1, 7) g"));
    struct ql_queue_stat *st;
    int n;
    ASSERT_INT_EQ(ql_queue_stats(q(&s), &s.cx, &st, &n), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(st[0].counts[0] + st[1].counts[0], 7);
    ASSERT_TRUE(st[0].oldest_available_ms > 0);
    struct ql_job_filter f = {.queue = "q1", .limit = 2};
    struct ql_job *jobs;
    int more;
    ASSERT_INT_EQ(ql_queue_list(q(&s), &s.cx, &f, &jobs, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 1);
    ASSERT_TRUE(jobs[0].id > jobs[1].id);
    f.before_id = jobs[1].id;
    ASSERT_INT_EQ(ql_queue_list(q(&s), &s.cx, &f, &jobs, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 0);
    close_session(&s);
}

/*
 * A page of jobs ends where their JSON (payload, errors, progress) passes
 * QL_PAGE_CONTENT_MAX, as pages of entries do: jobs with 300 KB of error history each come
 * a few to a page, with a cursor to the rest, and no job is lost or repeated.
 */
static void test_a_listing_page_is_bounded_by_bytes(void)
{
    clean();
    struct session s;
    open_session(&s);
    ASSERT_NOT_NULL(itest_sql(url, "INSERT INTO jobs (kind, queue, errors) SELECT 'noop', 'big', "
                                   "jsonb_build_array(jsonb_build_object('error', repeat('e', "
                                   "300000))) FROM generate_series(1, 10) g"));
    struct ql_job_filter f = {.queue = "big", .limit = 50};
    struct ql_job *jobs;
    int n, more = 1, seen = 0, pages = 0;
    int64_t last = INT64_MAX;
    while (more) {
        ASSERT_INT_EQ(ql_queue_list(q(&s), &s.cx, &f, &jobs, &n, &more), QL_OK);
        ASSERT_TRUE(n >= 1);
        size_t bytes = 0;
        for (int i = 0; i < n; i++) {
            ASSERT_TRUE(jobs[i].id < last);
            last = jobs[i].id;
            ASSERT_TRUE(strlen(jobs[i].errors) > 300000);
            if (i < n - 1)
                bytes += strlen(jobs[i].errors) + strlen(jobs[i].payload);
        }
        ASSERT_TRUE(bytes < QL_PAGE_CONTENT_MAX); /* what came before the page's last job */
        seen += n;
        pages++;
        f.before_id = jobs[n - 1].id;
        ql_arena_reset(s.cx.arena);
    }
    ASSERT_INT_EQ(seen, 10);
    ASSERT_INT_EQ(pages, 3); /* 4, 4 and 2: a job starts a page's fourth MiB at most */
    close_session(&s);
}

/* A job keeps the trace context it was enqueued with (and its trace id for log searches). */
static void test_a_job_carries_its_trace_context_to_the_worker(void)
{
    clean();
    struct session s;
    open_session(&s);
    static const char tp[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    struct ql_job_spec one = {.kind = "noop", .traceparent = tp};
    int64_t id;
    ASSERT_INT_EQ(ql_queue_enqueue(q(&s), &s.cx, &one, &id), QL_OK);
    struct ql_job_spec many[2] = {{.kind = "noop", .priority = 1, .traceparent = tp},
                                  {.kind = "noop", .priority = 2}};
    ASSERT_INT_EQ(ql_queue_enqueue_batch(q(&s), &s.cx, many, 2, NULL), QL_OK);
    ASSERT_INT_EQ(count("trace_id = '4bf92f3577b34da6a3ce929d0e0e4736'"), 2);
    for (int i = 0; i < 3; i++) {
        struct ql_job j = claim_one(&s, "w1");
        ASSERT_TRUE(j.id > 0);
        if (j.priority == 2) {
            ASSERT_NULL(j.traceparent);
        } else {
            ASSERT_STR_EQ(j.traceparent, tp);
        }
    }
    close_session(&s);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_enqueue_follows_the_transaction),
        TEST(test_enqueues_wake_workers_after_commit_only),
        TEST(test_unique_keys_and_batches),
        TEST(test_concurrent_claims_never_overlap),
        TEST(test_completion_names_worker_and_attempt),
        TEST(test_failures_retry_then_discard),
        TEST(test_rescue_release_and_purge),
        TEST(test_a_job_claimed_ahead_gets_its_attempt_back_once),
        TEST(test_one_leader_at_a_time),
        TEST(test_stats_and_listing),
        TEST(test_a_listing_page_is_bounded_by_bytes),
        TEST(test_a_job_carries_its_trace_context_to_the_worker),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
