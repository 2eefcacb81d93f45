/*
 * engine_world.h - quill-worker's job engine (adapters/engine) on fake ports, for
 * test_engine.c: an in-memory queue with the claim/complete/fail semantics of the
 * PostgreSQL one, a database port whose sessions share it, a notification port the test
 * drives, and a clock the test moves.  The engine's own threads and loop are real.  The
 * test program includes it once.
 */
#ifndef QL_TEST_ENGINE_WORLD_H
#define QL_TEST_ENGINE_WORLD_H

#include "arena/arena.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "db/db.h"
#include "engine/engine.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "queue/queue.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* ---- a clock threads may read while the test moves it ------------------------------------- */

struct tclock {
    struct ql_clock base;
    _Atomic int64_t now_ms, mono_ns;
};

static int64_t tc_now(struct ql_clock *self)
{
    return atomic_load(&((struct tclock *)self)->now_ms);
}

static int64_t tc_mono(struct ql_clock *self)
{
    return atomic_load(&((struct tclock *)self)->mono_ns);
}

static const struct ql_clock_ops tclock_ops = {tc_now, tc_mono};

static void advance(struct tclock *c, int64_t ms)
{
    atomic_fetch_add(&c->now_ms, ms);
    atomic_fetch_add(&c->mono_ns, ms * 1000000);
}

/* ---- the queue ---------------------------------------------------------------------------- */

#define MAXJOBS 64

struct tjob {
    int64_t id;
    char kind[32];
    char payload[64];
    char state[16]; /* available, running, failed, succeeded, discarded */
    int attempts, max_attempts, completions, fails;
    int errors;           /* entries in its errors: failures and rescues */
    int claimed_ahead;    /* its running attempt was claimed ahead of the runners */
    int claims_ahead;     /* how often it was */
    int progressed;       /* its handler reported progress: a runner is running it */
    int heartbeats;       /* heartbeats of its running attempt's worker */
    int64_t heartbeat_at; /* on the database's clock, as PostgreSQL stamps it */
    int64_t run_at_ms;
    char worker[128];
    char last_error[200];
};

struct tqueue {
    struct ql_queue base;
    pthread_mutex_t lock;
    struct tclock *clock;
    struct tjob jobs[MAXJOBS];
    int n;
    int releases;
    int leader;          /* this worker holds the leader lock */
    int ticks;           /* cron ticks enqueued (counted, not stored) */
    int64_t oldest_tick; /* the earliest tick's time among them */
    int64_t newest_tick;
    int64_t db_skew_ms; /* the database's clock: the worker's plus this */
    int rescues;        /* the leader's rescue passes */
    int purges;         /* the leader's retention passes */
    int64_t purged_to;  /* the latest finishing time they deleted up to */
    /* while set, a handler reporting progress waits here: a handler stuck in a call that does
     * not look at its deadline (a statement, a request) */
    int hold_progress;
    int held; /* handlers waiting */
    pthread_cond_t held_cond;
};

/* Now on the database's clock (under the queue's lock). */
static int64_t db_now(struct tqueue *q)
{
    return tc_now(&q->clock->base) + q->db_skew_ms;
}

static struct tqueue *tq(struct ql_queue *q)
{
    return (struct tqueue *)q;
}

static int q_enqueue(struct ql_queue *self, struct ql_ctx *cx, const struct ql_job_spec *s,
                     int64_t *id)
{
    (void)cx;
    struct tqueue *q = tq(self);
    pthread_mutex_lock(&q->lock);
    if (s->unique_key && strncmp(s->unique_key, "cron:", 5) == 0) {
        if (q->ticks == 0 || s->run_at_ms < q->oldest_tick)
            q->oldest_tick = s->run_at_ms;
        if (q->ticks == 0 || s->run_at_ms > q->newest_tick)
            q->newest_tick = s->run_at_ms;
        q->ticks++;
        pthread_mutex_unlock(&q->lock);
        return QL_OK;
    }
    struct tjob *j = &q->jobs[q->n];
    memset(j, 0, sizeof(*j));
    j->id = ++q->n;
    snprintf(j->kind, sizeof(j->kind), "%s", s->kind);
    snprintf(j->payload, sizeof(j->payload), "%s", s->payload_json ? s->payload_json : "{}");
    snprintf(j->state, sizeof(j->state), "available");
    j->max_attempts = s->max_attempts ? s->max_attempts : 25;
    j->run_at_ms = s->run_at_ms ? s->run_at_ms : db_now(q);
    if (id)
        *id = j->id;
    pthread_mutex_unlock(&q->lock);
    return QL_OK;
}

/* As PostgreSQL's: first up to `now` runnable jobs, then up to `ahead` without errors. */
static int q_claim(struct ql_queue *self, struct ql_ctx *cx, const char *worker,
                   const char *const *queues, int now, int ahead, struct ql_job **out, int *n)
{
    (void)queues;
    struct tqueue *q = tq(self);
    *out = ql_arena_calloc(cx->arena, (size_t)(now + ahead + 1), sizeof(struct ql_job));
    *n = 0;
    pthread_mutex_lock(&q->lock);
    int64_t t = db_now(q); /* run_at <= now() */
    for (int pass = 0; pass < 2; pass++) {
        int want = pass ? ahead : now;
        for (int i = 0, got = 0; i < q->n && got < want; i++) {
            struct tjob *j = &q->jobs[i];
            if ((strcmp(j->state, "available") && strcmp(j->state, "failed")) || j->run_at_ms > t ||
                (pass && j->errors))
                continue;
            snprintf(j->state, sizeof(j->state), "running");
            snprintf(j->worker, sizeof(j->worker), "%s", worker);
            j->attempts++;
            j->claimed_ahead = pass;
            j->claims_ahead += pass;
            j->heartbeat_at = db_now(q);
            struct ql_job *o = &(*out)[(*n)++];
            got++;
            o->id = j->id;
            o->queue = "default";
            o->kind = ql_arena_strdup(cx->arena, j->kind);
            o->payload = ql_arena_strdup(cx->arena, j->payload);
            o->attempts = j->attempts;
            o->max_attempts = j->max_attempts;
            o->claimed_ahead = pass;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return QL_OK;
}

/* The job of id at attempt, run by worker, or NULL (a stale update: refused). */
static struct tjob *mine(struct tqueue *q, const char *worker, int64_t id, int attempt)
{
    for (int i = 0; i < q->n; i++) {
        struct tjob *j = &q->jobs[i];
        if (j->id == id && j->attempts == attempt && !strcmp(j->worker, worker) &&
            !strcmp(j->state, "running"))
            return j;
    }
    return NULL;
}

static int q_complete(struct ql_queue *self, struct ql_ctx *cx, const char *worker,
                      const int64_t *ids, const int *attempts, int n)
{
    (void)cx;
    struct tqueue *q = tq(self);
    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < n; i++) {
        struct tjob *j = mine(q, worker, ids[i], attempts[i]);
        if (j) {
            snprintf(j->state, sizeof(j->state), "succeeded");
            j->completions++;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return QL_OK;
}

static int q_fail(struct ql_queue *self, struct ql_ctx *cx, const char *worker, int64_t id,
                  int attempt, const char *error, int64_t retry_in_ms, int discard)
{
    (void)cx;
    struct tqueue *q = tq(self);
    pthread_mutex_lock(&q->lock);
    struct tjob *j = mine(q, worker, id, attempt);
    if (j) {
        snprintf(j->state, sizeof(j->state), "%s", discard ? "discarded" : "failed");
        snprintf(j->last_error, sizeof(j->last_error), "%s", error);
        j->run_at_ms = db_now(q) + retry_in_ms;
        j->fails++;
        j->errors++;
    }
    pthread_mutex_unlock(&q->lock);
    return QL_OK;
}

static int q_release(struct ql_queue *self, struct ql_ctx *cx, const char *worker,
                     const int64_t *ids, const int *attempts, int n)
{
    (void)cx;
    struct tqueue *q = tq(self);
    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < n; i++) {
        struct tjob *j = mine(q, worker, ids[i], attempts[i]);
        if (j) {
            snprintf(j->state, sizeof(j->state), "available");
            j->attempts--; /* not attempted */
            q->releases++;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return QL_OK;
}

/* Unless a test makes it lead, another worker leads: no cron, rescue or retention here. */
static int q_lead(struct ql_queue *self, struct ql_ctx *cx, int *leader)
{
    (void)cx;
    struct tqueue *q = tq(self);
    pthread_mutex_lock(&q->lock);
    *leader = q->leader;
    pthread_mutex_unlock(&q->lock);
    return QL_OK;
}

/* As PostgreSQL's: running jobs whose heartbeat is older than stale_ms on its own clock. */
static int q_rescue(struct ql_queue *self, struct ql_ctx *cx, int64_t stale_ms, int *n)
{
    (void)cx;
    struct tqueue *q = tq(self);
    pthread_mutex_lock(&q->lock);
    *n = 0;
    for (int i = 0; i < q->n; i++) {
        struct tjob *j = &q->jobs[i];
        if (strcmp(j->state, "running") || j->heartbeat_at >= db_now(q) - stale_ms)
            continue;
        j->max_attempts += j->claimed_ahead; /* it may never have started */
        snprintf(j->state, sizeof(j->state), "%s",
                 j->attempts >= j->max_attempts ? "discarded" : "failed");
        j->claimed_ahead = 0;
        j->errors++;
        snprintf(j->last_error, sizeof(j->last_error), "stopped sending heartbeats");
        j->worker[0] = '\0';
        (*n)++;
    }
    q->rescues++;
    pthread_mutex_unlock(&q->lock);
    return QL_OK;
}

static int q_purge(struct ql_queue *self, struct ql_ctx *cx, int64_t before_ms, int *n)
{
    (void)cx;
    struct tqueue *q = tq(self);
    pthread_mutex_lock(&q->lock);
    if (q->purges++ == 0 || before_ms > q->purged_to)
        q->purged_to = before_ms;
    pthread_mutex_unlock(&q->lock);
    *n = 0;
    return QL_OK;
}

static int q_heartbeat(struct ql_queue *self, struct ql_ctx *cx, const char *worker,
                       const int64_t *ids, int n)
{
    (void)cx;
    struct tqueue *q = tq(self);
    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < q->n; k++)
            if (q->jobs[k].id == ids[i] && !strcmp(q->jobs[k].worker, worker) &&
                !strcmp(q->jobs[k].state, "running")) {
                q->jobs[k].heartbeats++;
                q->jobs[k].heartbeat_at = db_now(q);
            }
    pthread_mutex_unlock(&q->lock);
    return QL_OK;
}

static int q_progress(struct ql_queue *self, struct ql_ctx *cx, const char *worker, int64_t id,
                      const char *json)
{
    (void)cx, (void)worker, (void)json;
    struct tqueue *q = tq(self);
    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < q->n; i++)
        if (q->jobs[i].id == id)
            q->jobs[i].progressed = 1;
    q->held += q->hold_progress;
    while (q->hold_progress)
        pthread_cond_wait(&q->held_cond, &q->lock);
    pthread_mutex_unlock(&q->lock);
    return QL_OK;
}

static const struct ql_queue_ops tqueue_ops = {
    .enqueue = q_enqueue,
    .claim = q_claim,
    .complete = q_complete,
    .fail = q_fail,
    .heartbeat = q_heartbeat,
    .release = q_release,
    .progress = q_progress,
    .lead = q_lead,
    .rescue = q_rescue,
    .purge = q_purge,
};

/* ---- sessions and notifications ---------------------------------------------------------- */

struct tsession {
    struct ql_db_session base;
    struct ql_queue *queue;
    struct fake_store store;
};

static struct ql_store *ts_store(struct ql_db_session *s)
{
    return &((struct tsession *)s)->store.base;
}

static struct ql_queue *ts_queue(struct ql_db_session *s)
{
    return ((struct tsession *)s)->queue;
}

static int ts_connect(struct ql_db_session *s, struct ql_error *err)
{
    (void)s, (void)err;
    return QL_OK;
}

static void ts_destroy(struct ql_db_session *s)
{
    fake_store_cleanup(&((struct tsession *)s)->store);
    free(s);
}

static const struct ql_db_session_ops tsession_ops = {
    .store = ts_store, .queue = ts_queue, .connect = ts_connect, .destroy = ts_destroy};

struct tdb {
    struct ql_db base;
    struct ql_queue *queue;
};

static int tdb_open(struct ql_db *self, enum ql_db_kind kind, unsigned hints,
                    struct ql_db_session **out)
{
    (void)kind, (void)hints;
    struct tsession *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return QL_ENOMEM;
    s->base.ops = &tsession_ops;
    s->queue = ((struct tdb *)self)->queue;
    fake_store_init(&s->store);
    *out = &s->base;
    return QL_OK;
}

static void tdb_stats(struct ql_db *self, struct ql_db_stats *out)
{
    (void)self;
    (void)out;
}

static const struct ql_db_ops tdb_ops = {tdb_open, tdb_stats};

struct tnotify {
    struct ql_notify base;
    ql_notify_fn fn;
    void *ud;
};

static int tn_subscribe(struct ql_notify *self, const char *ch, ql_notify_fn fn, void *ud, int *id)
{
    (void)ch;
    struct tnotify *n = (struct tnotify *)self;
    n->fn = fn;
    n->ud = ud;
    *id = 1;
    return QL_OK;
}

static void tn_unsubscribe(struct ql_notify *self, int id)
{
    (void)id;
    ((struct tnotify *)self)->fn = NULL;
}

static int tn_post(struct ql_notify *self, const char *ch, const char *payload)
{
    (void)self, (void)ch, (void)payload;
    return QL_OK;
}

static const struct ql_notify_ops tnotify_ops = {tn_subscribe, tn_unsubscribe, tn_post};

/* ---- a running engine ---------------------------------------------------------------------- */

struct world {
    struct tclock clock;
    struct tqueue queue;
    struct tdb db;
    struct tnotify notify;
    struct fake_auth auth;
    struct ql_engine_config cfg;
    struct ql_config core;
    struct ql_engine *engine;
    pthread_t thread;
    int rc;
};

static void *run_engine(void *arg)
{
    struct world *w = arg;
    w->rc = ql_engine_run(w->engine);
    return NULL;
}

static void start(struct world *w, int concurrency)
{
    memset(w, 0, sizeof(*w));
    w->clock.base.ops = &tclock_ops;
    atomic_init(&w->clock.now_ms, 1767225600000LL);
    atomic_init(&w->clock.mono_ns, 1000000000LL);
    w->queue.base.ops = &tqueue_ops;
    w->queue.clock = &w->clock;
    pthread_mutex_init(&w->queue.lock, NULL);
    pthread_cond_init(&w->queue.held_cond, NULL);
    w->db.base.ops = &tdb_ops;
    w->db.queue = &w->queue.base;
    w->notify.base.ops = &tnotify_ops;
    fake_auth_init(&w->auth);
    w->cfg = (struct ql_engine_config){.worker_concurrency = concurrency,
                                       .job_batch = 10,
                                       .job_poll_ms = 20,
                                       .job_heartbeat_ms = 100,
                                       .job_rescue_after_ms = 1000,
                                       .job_retention_ms = 3600000,
                                       .job_backoff_base_ms = 1000,
                                       .worker_debug_jobs = 1,
                                       .shutdown_timeout_ms = 5000};
    const struct ql_engine_ports ports = {&w->db.base, &w->notify.base, &w->clock.base,
                                          &w->auth.base, NULL};
    ASSERT_INT_EQ(ql_engine_create(&w->cfg, &w->core, &ports, &w->engine), QL_OK);
    ASSERT_INT_EQ(pthread_create(&w->thread, NULL, run_engine, w), 0);
}

static void stop(struct world *w)
{
    ql_engine_stop(w->engine);
    pthread_join(w->thread, NULL);
    ASSERT_INT_EQ(w->rc, QL_OK);
    ql_engine_destroy(w->engine);
    pthread_mutex_destroy(&w->queue.lock);
    pthread_cond_destroy(&w->queue.held_cond);
}

/* Hold (1) the handlers that report progress from now on, or let them go (0). */
static void hold_progress(struct world *w, int on)
{
    pthread_mutex_lock(&w->queue.lock);
    w->queue.hold_progress = on;
    pthread_cond_broadcast(&w->queue.held_cond);
    pthread_mutex_unlock(&w->queue.lock);
}

static int held(struct world *w)
{
    pthread_mutex_lock(&w->queue.lock);
    int n = w->queue.held;
    pthread_mutex_unlock(&w->queue.lock);
    return n;
}

static void enqueue(struct world *w, const char *kind, const char *payload, int max_attempts)
{
    struct ql_job_spec s = {.kind = kind, .payload_json = payload, .max_attempts = max_attempts};
    ASSERT_INT_EQ(q_enqueue(&w->queue.base, NULL, &s, NULL), QL_OK);
}

/* Jobs of the queue in state (under its lock). */
static int count(struct world *w, const char *state)
{
    pthread_mutex_lock(&w->queue.lock);
    int n = 0;
    for (int i = 0; i < w->queue.n; i++)
        n += !strcmp(w->queue.jobs[i].state, state);
    pthread_mutex_unlock(&w->queue.lock);
    return n;
}

static struct tjob job(struct world *w, int index)
{
    pthread_mutex_lock(&w->queue.lock);
    struct tjob j = w->queue.jobs[index];
    pthread_mutex_unlock(&w->queue.lock);
    return j;
}

/* Wait (at most 20 s) until cond holds; the test fails if it never does. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        int ql__ok = 0;                                                                            \
        for (int ql__i = 0; ql__i < 2000 && !(ql__ok = (cond)); ql__i++) {                         \
            struct timespec ql__ts = {0, 10 * 1000000};                                            \
            nanosleep(&ql__ts, NULL);                                                              \
        }                                                                                          \
        if (!ql__ok)                                                                               \
            ql__test_fail(__FILE__, __LINE__, "never came true: " #cond);                          \
    } while (0)

#endif
