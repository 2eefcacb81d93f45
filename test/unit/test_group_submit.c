/*
 * Unit tests of submits to the group-commit queue (adapters/groupq), the way an event loop
 * writes: the caller never sleeps, the queue asks its host for threads to lead, and each
 * item comes back once, through the host, to run its continuation on the caller's thread.
 * The host here is the test's: lead() starts a thread that calls ql_group_lead, notify()
 * puts the item on a list the main thread drains, as a loop drains its completions.
 */
#include "groupq/group_queue.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define NITEMS 200
#define NKEYS 5
#define MAX_LEADS 256

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the host ------------------------------------------------------------------------------ */

struct host {
    struct ql_group_queue *q;
    int refuse;                 /* lead() answers -1 */
    pthread_t leads[MAX_LEADS]; /* threads started by lead() */
    _Atomic int nleads, afters; /* lead() calls that started one; after() calls */
    pthread_mutex_t lock;       /* the done list */
    struct ql_group_item *done[NITEMS + 8];
    int ndone;
    _Atomic int notified_elsewhere; /* notify() on the main thread: must not happen */
    pthread_t main;
};

static struct host host;

static void after_batch(struct ql_ctx *cx)
{
    (void)cx;
    atomic_fetch_add(&host.afters, 1);
}

static void *lead_thread(void *arg)
{
    (void)arg;
    ql_group_lead(ql_group_queue_port(host.q), NULL, after_batch);
    return NULL;
}

/* Called with the queue's lock held: start a thread, nothing more. */
static int host_lead(void *ud)
{
    (void)ud;
    int i = atomic_load(&host.nleads);
    if (host.refuse || i >= MAX_LEADS ||
        pthread_create(&host.leads[i], NULL, lead_thread, NULL) != 0)
        return -1;
    atomic_store(&host.nleads, i + 1);
    return 0;
}

static void host_notify(void *ud, struct ql_group_item *item)
{
    (void)ud;
    if (pthread_equal(pthread_self(), host.main))
        atomic_fetch_add(&host.notified_elsewhere, 1);
    pthread_mutex_lock(&host.lock);
    host.done[host.ndone++] = item;
    pthread_mutex_unlock(&host.lock);
}

static void host_start(int writers, int batch, int refuse)
{
    memset(&host, 0, sizeof(host));
    host.main = pthread_self();
    host.refuse = refuse;
    pthread_mutex_init(&host.lock, NULL);
    ql_group_queue_create(writers, batch, &host.q);
    ql_group_queue_async(host.q, &(struct ql_group_async){host_lead, host_notify, NULL});
}

/* Run the continuations of the items notified so far, on this (the caller's) thread. */
static int host_drain(void)
{
    pthread_mutex_lock(&host.lock);
    int n = host.ndone;
    struct ql_group_item *items[NITEMS + 8];
    memcpy(items, host.done, (size_t)n * sizeof(*items));
    host.ndone = 0;
    pthread_mutex_unlock(&host.lock);
    for (int i = 0; i < n; i++)
        items[i]->then(items[i]->cx, items[i]->rc, items[i]->then_arg);
    return n;
}

static void host_stop(void)
{
    for (int i = 0; i < atomic_load(&host.nleads); i++)
        pthread_join(host.leads[i], NULL);
    ql_group_queue_destroy(host.q);
    pthread_mutex_destroy(&host.lock);
}

/* ---- what the writes record ---------------------------------------------------------------- */

struct rec {
    pthread_mutex_t lock;
    int flying[NKEYS];
    _Atomic int overlaps, written, batches, largest;
    _Atomic int written_of[NITEMS];
    _Atomic int then_of[NITEMS];
    _Atomic int then_rc_wrong;
    _Atomic int hold; /* writes wait while set */
};

static struct rec rec;

static int want_rc(int id)
{
    return id % 3 ? QL_OK : QL_ERETRY;
}

static void write_rec(struct ql_ctx *leader, struct ql_group_item **items, int n)
{
    (void)leader;
    int held[NKEYS] = {0};
    pthread_mutex_lock(&rec.lock);
    for (int i = 0; i < n; i++) {
        int k = (int)items[i]->key;
        if (!held[k] && rec.flying[k])
            atomic_fetch_add(&rec.overlaps, 1);
        if (!held[k])
            rec.flying[k]++;
        held[k] = 1;
    }
    pthread_mutex_unlock(&rec.lock);
    while (atomic_load(&rec.hold))
        pause_ms(1);
    if (n > atomic_load(&rec.largest))
        atomic_store(&rec.largest, n);
    atomic_fetch_add(&rec.batches, 1);
    pthread_mutex_lock(&rec.lock);
    for (int k = 0; k < NKEYS; k++)
        rec.flying[k] -= held[k];
    pthread_mutex_unlock(&rec.lock);
    for (int i = 0; i < n; i++) {
        int id = *(int *)items[i]->arg;
        atomic_fetch_add(&rec.written_of[id], 1);
        items[i]->rc = want_rc(id);
    }
    atomic_fetch_add(&rec.written, n);
}

static void then_rec(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    int id = *(int *)arg;
    atomic_fetch_add(&rec.then_of[id], 1);
    if (rc != want_rc(id))
        atomic_fetch_add(&rec.then_rc_wrong, 1);
}

/* Is a batch holding key 0 in flight? */
static int key0_flying(void)
{
    pthread_mutex_lock(&rec.lock);
    int f = rec.flying[0];
    pthread_mutex_unlock(&rec.lock);
    return f;
}

static void rec_start(void)
{
    memset(&rec, 0, sizeof(rec));
    pthread_mutex_init(&rec.lock, NULL);
}

/* Drain continuations until want have run, or about 10 s have passed. */
static int drain_until(int want)
{
    int got = 0;
    for (int i = 0; i < 10000 && got < want; i++) {
        got += host_drain();
        if (got < want)
            pause_ms(1);
    }
    return got;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_without_a_host_submit_joins_and_defers(void)
{
    rec_start();
    struct ql_group_queue *q;
    ASSERT_INT_EQ(ql_group_queue_create(2, 8, &q), QL_OK);
    struct ql_arena a;
    ql_arena_init(&a, 4096, 0);
    struct ql_ctx cx = {.arena = &a};
    static int id = 4; /* written QL_OK */
    struct ql_group_item it = {.arg = &id, .key = 1};
    ASSERT_INT_EQ(ql_group_submit(ql_group_queue_port(q), &cx, &it, write_rec, then_rec, &id),
                  QL_OK);
    ASSERT_INT_EQ(atomic_load(&rec.written_of[4]), 1);
    ASSERT_INT_EQ(atomic_load(&rec.then_of[4]), 0); /* never inside the call */
    ASSERT_INT_EQ(ql_ctx_run_deferred(&cx), 1);
    ASSERT_INT_EQ(atomic_load(&rec.then_of[4]), 1);
    ASSERT_INT_EQ(atomic_load(&rec.then_rc_wrong), 0);
    ql_arena_cleanup(&a);
    ql_group_queue_destroy(q);
}

static void test_each_submitted_item_comes_back_once(void)
{
    rec_start();
    host_start(2, 8, 0);
    static int ids[NITEMS];
    static struct ql_group_item items[NITEMS];
    for (int i = 0; i < NITEMS; i++) {
        ids[i] = i;
        items[i] = (struct ql_group_item){.arg = &ids[i], .key = (uint64_t)(i % NKEYS)};
        ASSERT_INT_EQ(ql_group_submit(ql_group_queue_port(host.q), NULL, &items[i], write_rec,
                                      then_rec, &ids[i]),
                      QL_OK);
    }
    ASSERT_INT_EQ(drain_until(NITEMS), NITEMS);
    host_stop();
    for (int i = 0; i < NITEMS; i++) {
        ASSERT_INT_EQ(atomic_load(&rec.written_of[i]), 1);
        ASSERT_INT_EQ(atomic_load(&rec.then_of[i]), 1);
    }
    ASSERT_INT_EQ(atomic_load(&rec.then_rc_wrong), 0);
    ASSERT_INT_EQ(atomic_load(&rec.overlaps), 0);
    ASSERT_INT_EQ(atomic_load(&host.notified_elsewhere), 0);
    ASSERT_TRUE(atomic_load(&rec.largest) <= 8);
    /* A thread leads while items wait: fewer leaders than batches, and at least one. */
    ASSERT_TRUE(atomic_load(&host.nleads) >= 1);
    ASSERT_TRUE(atomic_load(&host.nleads) <= atomic_load(&rec.batches));
    ASSERT_INT_EQ(atomic_load(&host.afters), atomic_load(&rec.batches));
}

static void test_items_submitted_during_a_batch_share_the_next(void)
{
    rec_start();
    host_start(1, 64, 0);
    static int ids[NITEMS];
    static struct ql_group_item items[NITEMS];
    atomic_store(&rec.hold, 1);
    for (int i = 0; i < 33; i++) {
        ids[i] = i;
        items[i] = (struct ql_group_item){.arg = &ids[i], .key = (uint64_t)(i % NKEYS)};
        ASSERT_INT_EQ(ql_group_submit(ql_group_queue_port(host.q), NULL, &items[i], write_rec,
                                      then_rec, &ids[i]),
                      QL_OK);
        if (i == 0)
            while (!key0_flying()) /* the first is in flight alone */
                pause_ms(1);
    }
    atomic_store(&rec.hold, 0);
    ASSERT_INT_EQ(drain_until(33), 33);
    host_stop();
    /* One writer: the first alone, the 32 that came while it was written in one batch. */
    ASSERT_INT_EQ(atomic_load(&rec.batches), 2);
    ASSERT_INT_EQ(atomic_load(&rec.largest), 32);
    ASSERT_INT_EQ(atomic_load(&host.nleads), 1);
}

static void test_without_a_leader_a_submit_is_refused_and_not_queued(void)
{
    rec_start();
    host_start(1, 8, 1);
    static int id = 1;
    struct ql_arena a;
    ql_arena_init(&a, 4096, 0);
    struct ql_ctx cx = {.arena = &a};
    struct ql_group_item it = {.arg = &id, .key = 1};
    ASSERT_INT_EQ(ql_group_submit(ql_group_queue_port(host.q), &cx, &it, write_rec, then_rec, &id),
                  QL_EUNAVAILABLE);
    struct ql_group_stats st;
    ql_group_stats(ql_group_queue_port(host.q), &st);
    ASSERT_INT_EQ(st.waiting, 0);
    ASSERT_INT_EQ(atomic_load(&rec.written), 0);
    ASSERT_INT_EQ(host_drain(), 0);
    host_stop();
    ql_arena_cleanup(&a);
}

/* A joined item's thread writes; a submitted item that comes meanwhile, with no thread to
 * be had for it, is written by that thread before it leaves. */
static int joined_id = 2;

static void *join_thread(void *arg)
{
    (void)arg;
    struct ql_group_item it = {.arg = &joined_id, .key = 0};
    ql_group_join(ql_group_queue_port(host.q), NULL, &it, write_rec);
    return NULL;
}

static void test_a_leaving_leader_writes_what_nobody_else_can(void)
{
    rec_start();
    host_start(1, 8, 1);
    atomic_store(&rec.hold, 1);
    pthread_t t;
    ASSERT_INT_EQ(pthread_create(&t, NULL, join_thread, NULL), 0);
    while (!key0_flying())
        pause_ms(1);
    static int id = 4;
    struct ql_group_item it = {.arg = &id, .key = 1};
    /* In flight already: queued, though no thread can be had now. */
    ASSERT_INT_EQ(ql_group_submit(ql_group_queue_port(host.q), NULL, &it, write_rec, then_rec, &id),
                  QL_OK);
    atomic_store(&rec.hold, 0);
    pthread_join(t, NULL);
    ASSERT_INT_EQ(drain_until(1), 1);
    ASSERT_INT_EQ(atomic_load(&rec.written_of[4]), 1);
    ASSERT_INT_EQ(atomic_load(&rec.then_of[4]), 1);
    ASSERT_INT_EQ(atomic_load(&rec.written_of[2]), 1);
    host_stop();
}

/* Joined threads and submits from the main thread, on three writers and a few keys. */
#define NJOINERS 8
#define JOIN_ROUNDS 30

static int join_ids[NJOINERS * JOIN_ROUNDS];

static void *joiner(void *arg)
{
    int t = *(int *)arg;
    for (int r = 0; r < JOIN_ROUNDS; r++) {
        int *id = &join_ids[t * JOIN_ROUNDS + r];
        struct ql_group_item it = {.arg = id, .key = (uint64_t)((t + r) % NKEYS)};
        ql_group_join(ql_group_queue_port(host.q), NULL, &it, write_rec);
    }
    return NULL;
}

static void test_joined_and_submitted_items_mix(void)
{
    rec_start();
    host_start(3, 16, 0);
    /* Joined items take ids 0..99 (several each: counted by the total only), submitted
     * ones 100..199 (each counted). */
    for (int i = 0; i < NJOINERS * JOIN_ROUNDS; i++)
        join_ids[i] = i % 100;
    static int targs[NJOINERS];
    pthread_t t[NJOINERS];
    for (int i = 0; i < NJOINERS; i++) {
        targs[i] = i;
        ASSERT_INT_EQ(pthread_create(&t[i], NULL, joiner, &targs[i]), 0);
    }
    static int ids[100];
    static struct ql_group_item items[100];
    for (int i = 0; i < 100; i++) {
        ids[i] = 100 + i;
        items[i] = (struct ql_group_item){.arg = &ids[i], .key = (uint64_t)(i % NKEYS)};
        ASSERT_INT_EQ(ql_group_submit(ql_group_queue_port(host.q), NULL, &items[i], write_rec,
                                      then_rec, &ids[i]),
                      QL_OK);
    }
    for (int i = 0; i < NJOINERS; i++)
        pthread_join(t[i], NULL);
    ASSERT_INT_EQ(drain_until(100), 100);
    host_stop();
    ASSERT_INT_EQ(atomic_load(&rec.written), NJOINERS * JOIN_ROUNDS + 100);
    for (int i = 100; i < 200; i++) {
        ASSERT_INT_EQ(atomic_load(&rec.written_of[i]), 1);
        ASSERT_INT_EQ(atomic_load(&rec.then_of[i]), 1);
    }
    ASSERT_INT_EQ(atomic_load(&rec.overlaps), 0);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_without_a_host_submit_joins_and_defers),
        TEST(test_each_submitted_item_comes_back_once),
        TEST(test_items_submitted_during_a_batch_share_the_next),
        TEST(test_without_a_leader_a_submit_is_refused_and_not_queued),
        TEST(test_a_leaving_leader_writes_what_nobody_else_can),
        TEST(test_joined_and_submitted_items_mix),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
