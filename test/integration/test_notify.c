/*
 * test_notify.c - the notification port over LISTEN/NOTIFY (adapters/postgres/notify.c),
 * against the real PostgreSQL: what waits to be sent while its thread is busy.
 */
#include "err/err.h"
#include "integration/itest.h"
#include "notify/notify.h"
#include "test.h"

#include <pthread.h>
#include <unistd.h>

static const char *url;

/* A subscriber whose callback holds the port's thread until released. */
struct holder {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int inside, released;
};

static void hold(void *ud, enum ql_notify_event ev, const char *payload)
{
    (void)payload;
    struct holder *h = ud;
    if (ev != QL_NOTIFY_MESSAGE)
        return;
    pthread_mutex_lock(&h->lock);
    h->inside = 1;
    pthread_cond_broadcast(&h->cond);
    while (!h->released)
        pthread_cond_wait(&h->cond, &h->lock);
    pthread_mutex_unlock(&h->lock);
}

/*
 * More different posts than the port keeps wait while its thread is busy: one channel's
 * posts become one that stands for anything on it, and no channel loses its wake-up
 * (a job's wake-up once gave way to a team's change: workers then waited for their poll).
 */
static void test_a_full_set_of_posts_keeps_every_channel(void)
{
    PGconn *l = PQconnectdb(url);
    ASSERT_INT_EQ(PQstatus(l), CONNECTION_OK);
    PQclear(PQexec(l, "LISTEN t_changes; LISTEN t_jobs"));
    struct ql_pg_notify *pn;
    ASSERT_INT_EQ(ql_pg_notify_create(url, NULL, &pn), QL_OK);
    struct ql_notify *n = ql_pg_notify_port(pn);
    struct holder h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int sub;
    ASSERT_INT_EQ(ql_notify_subscribe(n, "t_hold", hold, &h, &sub), QL_OK);
    usleep(300000); /* the thread listens */
    ASSERT_NOT_NULL(itest_sql(url, "NOTIFY t_hold, 'x'"));
    pthread_mutex_lock(&h.lock);
    for (int i = 0; i < 500 && !h.inside; i++) {
        pthread_mutex_unlock(&h.lock);
        usleep(10000);
        pthread_mutex_lock(&h.lock);
    }
    ASSERT_INT_EQ(h.inside, 1); /* the thread is held: posts wait */
    pthread_mutex_unlock(&h.lock);

    char payload[32];
    for (int i = 0; i < 63; i++) {
        snprintf(payload, sizeof(payload), "team-%d", i);
        ASSERT_INT_EQ(ql_notify_post(n, "t_changes", payload), QL_OK);
    }
    ASSERT_INT_EQ(ql_notify_post(n, "t_jobs", "mail"), QL_OK); /* the 64th: the last slot */
    ASSERT_INT_EQ(ql_notify_post(n, "t_changes", "team-63"), QL_OK);
    ASSERT_INT_EQ(ql_notify_post(n, "t_jobs", "events"), QL_OK);

    pthread_mutex_lock(&h.lock);
    h.released = 1;
    pthread_cond_broadcast(&h.cond);
    pthread_mutex_unlock(&h.lock);
    char got[16384];
    itest_heard(l, 1000, 1, got, sizeof(got));
    ASSERT_TRUE(strstr(got, "t_jobs:mail,") != NULL);
    ASSERT_TRUE(strstr(got, "t_jobs:events,") != NULL);
    ASSERT_TRUE(strstr(got, "t_changes:*,") != NULL); /* the changes stand for every team */
    ql_notify_unsubscribe(n, sub);
    ql_pg_notify_destroy(pn);
    PQfinish(l);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_a_full_set_of_posts_keeps_every_channel),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
