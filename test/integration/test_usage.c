/*
 * Integration tests of metering against PostgreSQL under concurrency: many sessions
 * reserving (and giving back) units of one quota at once never get more than the quota
 * between them, and get exactly it once nobody gives any back; flushes of the request log
 * from several sessions, over the same teams in different orders, count every billed row
 * exactly, never deadlock, and raise the 90 % alert once; and an operator's lower quota
 * raises it too, once.
 */
#include "arena/arena.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "itest.h"
#include "model/model.h"
#include "sodium/sodium_auth.h"
#include "store/store.h"
#include "store/store_usage.h"
#include "sysclock/sysclock.h"
#include "test.h"
#include "usage/usage.h"
#include "uuid/uuid.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8

static const char *url;
static struct ql_config cfg = {.free_quota = 10};

/* One session with a context over it, as a pool thread has. */
struct worker {
    struct ql_db_session *session;
    struct ql_arena arena;
    struct ql_ctx cx;
};

static void worker_open(struct worker *w)
{
    memset(w, 0, sizeof(*w));
    w->session = itest_session(url, QL_DB_BLOCKING);
    ql_arena_init(&w->arena, 0, 0);
    w->cx.arena = &w->arena;
    w->cx.cfg = &cfg;
    w->cx.ports.store = ql_db_store(w->session);
    w->cx.ports.clock = ql_sysclock();
}

static void worker_close(struct worker *w)
{
    ql_db_session_destroy(w->session);
    ql_arena_cleanup(&w->arena);
}

/* A team with a plan of quota units, owned by a new user. */
static struct ql_uuid team_with_quota(struct worker *w, int64_t quota)
{
    int64_t now = ql_clock_now_ms(ql_sysclock());
    char email[96];
    struct ql_uuid uid = itest_fresh_id(1);
    char s[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&uid, s);
    snprintf(email, sizeof(email), "%s@usage.test", s);
    struct ql_user u = {
        .id = uid, .email = email, .display_name = "U", .created_ms = now, .updated_ms = now};
    struct ql_team t = {
        .id = itest_fresh_id(2), .name = "Metered", .created_ms = now, .updated_ms = now};
    ASSERT_INT_EQ(ql_store_users_insert(w->cx.ports.store, &w->cx, &u, NULL, NULL), QL_OK);
    ASSERT_INT_EQ(ql_store_teams_insert(w->cx.ports.store, &w->cx, &t, &u.id), QL_OK);
    ASSERT_INT_EQ(ql_store_usage_subscribe(w->cx.ports.store, &w->cx, &t.id, "pro", quota, now),
                  QL_OK);
    return t.id;
}

struct race {
    struct ql_uuid team;
    int64_t period, quota;
    pthread_barrier_t phase;
    atomic_llong held;   /* granted minus given back, over every thread */
    atomic_int over;     /* a reservation saw more reserved than the quota */
    atomic_int failures; /* calls that failed */
};

static void *reserver(void *arg)
{
    struct race *r = arg;
    struct worker w;
    worker_open(&w);
    unsigned seed = (unsigned)(uintptr_t)&w;
    int64_t mine = 0;
    /* Phase 1: reserve and give back at random, all at once. */
    for (int i = 0; i < 150; i++) {
        struct ql_usage_grant g;
        int64_t want = 1 + rand_r(&seed) % 64;
        if (ql_usage_reserve(&w.cx, &r->team, r->period, want, &g) != QL_OK) {
            atomic_fetch_add(&r->failures, 1);
            continue;
        }
        if (g.reserved > r->quota)
            atomic_fetch_add(&r->over, 1);
        mine += g.granted;
        if (mine > 0 && rand_r(&seed) % 4 == 0) {
            struct ql_usage_return back = {r->team, r->period, 1 + rand_r(&seed) % mine};
            if (ql_usage_release(&w.cx, NULL, &back, 1) != QL_OK)
                atomic_fetch_add(&r->failures, 1);
            else
                mine -= back.n;
        }
        ql_arena_reset(&w.arena);
    }
    pthread_barrier_wait(&r->phase);
    /* Phase 2: nobody gives anything back; reserve until nothing is left. */
    for (;;) {
        struct ql_usage_grant g;
        if (ql_usage_reserve(&w.cx, &r->team, r->period, 1 + rand_r(&seed) % 64, &g) != QL_OK) {
            atomic_fetch_add(&r->failures, 1);
            break;
        }
        if (g.reserved > r->quota)
            atomic_fetch_add(&r->over, 1);
        if (g.granted == 0)
            break;
        mine += g.granted;
    }
    atomic_fetch_add(&r->held, mine);
    worker_close(&w);
    return NULL;
}

static void test_concurrent_reservations_never_pass_the_quota(void)
{
    struct worker w;
    worker_open(&w);
    static struct race r;
    memset(&r, 0, sizeof(r));
    r.quota = 3000;
    r.team = team_with_quota(&w, r.quota);
    int64_t end;
    ql_usage_period(ql_clock_now_ms(ql_sysclock()), &r.period, &end);
    pthread_barrier_init(&r.phase, NULL, THREADS);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, reserver, &r);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&r.phase);
    ASSERT_INT_EQ(atomic_load(&r.failures), 0);
    ASSERT_INT_EQ(atomic_load(&r.over), 0);
    ASSERT_INT_EQ(atomic_load(&r.held), r.quota); /* exactly the quota, between them all */
    char q[256], id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&r.team, id);
    snprintf(q, sizeof(q), "SELECT reserved FROM usage_periods WHERE team_id = '%s'", id);
    ASSERT_STR_EQ(itest_sql(url, q), "3000");
    worker_close(&w);
}

struct flush {
    struct ql_uuid teams[2];
    int64_t period;
    atomic_int failures;
    atomic_int next; /* which thread this is */
};

#define BATCHES 10
#define ROWS 25 /* per team and batch */

static void *flusher(void *arg)
{
    struct flush *f = arg;
    int me = atomic_fetch_add(&f->next, 1);
    struct worker w;
    worker_open(&w);
    struct ql_uuid key = itest_fresh_id(3);
    int64_t now = ql_clock_now_ms(ql_sysclock());
    struct ql_request_row rows[2 * ROWS + 1];
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < 2 * ROWS; i++) /* half the threads write team 1's rows first */
            rows[i] = (struct ql_request_row){f->teams[(i / ROWS + me) % 2], key, now + i, "GET",
                                              "/v1/teams/{teamId}",          200, 100,     1};
        rows[2 * ROWS] = rows[0];
        rows[2 * ROWS].billed = 0; /* a refused request: logged, not counted */
        rows[2 * ROWS].status = 429;
        if (ql_usage_record(&w.cx, NULL, rows, 2 * ROWS + 1) != QL_OK) {
            printf("# flush failed: %s\n", w.cx.err.msg);
            atomic_fetch_add(&f->failures, 1);
        }
        ql_arena_reset(&w.arena);
    }
    worker_close(&w);
    return NULL;
}

static void test_concurrent_flushes_count_exactly_and_alert_once(void)
{
    struct worker w;
    worker_open(&w);
    static struct flush f;
    memset(&f, 0, sizeof(f));
    int64_t quota = 4 * BATCHES * ROWS; /* the threads' billed rows of one team: 100 % */
    int64_t end;
    ql_usage_period(ql_clock_now_ms(ql_sysclock()), &f.period, &end);
    for (int i = 0; i < 2; i++) {
        f.teams[i] = team_with_quota(&w, quota);
        struct ql_usage_grant g; /* opens the period's row, as the first request would */
        ASSERT_INT_EQ(ql_usage_reserve(&w.cx, &f.teams[i], f.period, 1, &g), QL_OK);
    }
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, flusher, &f);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ASSERT_INT_EQ(atomic_load(&f.failures), 0);
    for (int i = 0; i < 2; i++) {
        char q[256], id[QL_UUID_STR_LEN + 1];
        ql_uuid_format(&f.teams[i], id);
        snprintf(q, sizeof(q), "SELECT used FROM usage_periods WHERE team_id = '%s'", id);
        ASSERT_STR_EQ(itest_sql(url, q), "1000");
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM changes WHERE team_id = '%s' AND event = 9 AND entity_id "
                 "= team_id",
                 id);
        ASSERT_STR_EQ(itest_sql(url, q), "1");
        snprintf(q, sizeof(q),
                 "SELECT count(*) FILTER (WHERE billed) || ' ' || count(*) FROM request_log WHERE "
                 "team_id = '%s'",
                 id);
        ASSERT_STR_EQ(itest_sql(url, q), "1000 1020");
    }
    worker_close(&w);
}

/*
 * An operator lowering the quota below what the period has used raises the period's alert
 * in the change's transaction, once: not again for another change, nor for a flush after.
 */
static void test_a_quota_lowered_below_the_used_count_raises_the_alert_once(void)
{
    struct worker w;
    worker_open(&w);
    uint8_t secret[32];
    memset(secret, 9, sizeof(secret));
    struct ql_auth *auth;
    ASSERT_INT_EQ(ql_sodium_auth_create(secret, sizeof(secret), 1, 8192, 0, &auth), QL_OK);
    w.cx.ports.auth = auth; /* audit ids */
    struct ql_uuid team = team_with_quota(&w, 1000);
    int64_t period, end, now = ql_clock_now_ms(ql_sysclock());
    ql_usage_period(now, &period, &end);
    struct ql_usage_grant g;
    ASSERT_INT_EQ(ql_usage_reserve(&w.cx, &team, period, 60, &g), QL_OK);
    struct ql_uuid key = itest_fresh_id(3);
    struct ql_request_row rows[50];
    for (int i = 0; i < 50; i++)
        rows[i] = (struct ql_request_row){team, key, now, "GET", "/v1/teams/{teamId}", 200, 1, 1};
    ASSERT_INT_EQ(ql_usage_record(&w.cx, NULL, rows, 50), QL_OK);
    char q[256], id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&team, id);
    snprintf(q, sizeof(q),
             "SELECT count(*) || ' ' || (SELECT alerted FROM usage_periods WHERE team_id = '%s') "
             "FROM changes WHERE team_id = '%s' AND event = 9 AND entity_id = team_id",
             id, id);
    ASSERT_STR_EQ(itest_sql(url, q), "0 false");
    struct ql_principal op = {.kind = QL_PRINCIPAL_OPERATOR};
    struct ql_subscription sub;
    const int64_t quotas[] = {40, 30, 1000};
    for (int i = 0; i < 3; i++) {
        ql_error_clear(&w.cx.err);
        w.cx.principal = &op;
        ASSERT_INT_EQ(ql_subscription_set(&w.cx, &team, "small", 5, quotas[i], &sub), QL_OK);
        ASSERT_INT_EQ(sub.used, 50);
        ASSERT_STR_EQ(itest_sql(url, q), "1 true");
    }
    w.cx.principal = NULL;
    ASSERT_INT_EQ(ql_usage_record(&w.cx, NULL, rows, 10), QL_OK);
    ASSERT_STR_EQ(itest_sql(url, q), "1 true");
    ql_sodium_auth_destroy(auth);
    worker_close(&w);
}

static const struct ql_test tests[] = {
    TEST(test_concurrent_reservations_never_pass_the_quota),
    TEST(test_concurrent_flushes_count_exactly_and_alert_once),
    TEST(test_a_quota_lowered_below_the_used_count_raises_the_alert_once),
};

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
