/*
 * engine.c - the job engine of quill-worker.
 *
 * One libuv loop (the main thread) owns the engine's database session and does all the
 * bookkeeping: it claims jobs in batches (FOR UPDATE SKIP LOCKED), hands them to runner
 * threads, records failures, sends heartbeats, enforces per-attempt deadlines and, while it
 * holds the leader lock, enqueues cron ticks, rescues the jobs of workers that stopped
 * sending heartbeats and deletes old finished jobs.  Runner threads each own a database
 * session of their own and do nothing but run handlers.  A recorder thread writes the
 * successes in batches on its own session, so completions and claims run side by side on
 * two database backends.
 *
 * Wake-ups: NOTIFY quill_jobs on a dedicated LISTEN connection (watched with uv_poll),
 * every completed job, and a polling timer as the fallback when notifications are lost.
 *
 * A run (one attempt of one job) lives from its claim until the main thread has recorded
 * its outcome.  While recent jobs finish quickly the engine holds a batch of claimed runs
 * beyond its runners, so runners never wait for the next claim; its deadline starts when a
 * runner takes it, and runs nobody started go back to the queue at shutdown.  A run whose handler
 * overruns its deadline is recorded as failed at once and marked abandoned: when the handler
 * finally returns its result is dropped, and the database would refuse it anyway, since every
 * update names the worker and the attempt.
 */
#include "engine.h"

#include "arena/arena.h"
#include "clock/clock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "log/log.h"
#include "postgres/pg.h"
#include "queue/queue.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define TICK_MS 250
#define GRACE_MS 500 /* after a deadline, before a run is abandoned */
#define RESCUE_EVERY_MS 2000
#define PURGE_EVERY_MS 60000
#define CRON_LOOKBACK_MS (5 * 60000)
#define MAX_RUNNERS 256
#define MAX_KINDS 32
#define NBUCKETS 14
/* Claim ahead of the runners only while the average attempt takes less than this. */
#define PREFETCH_BELOW_MS 50.0

struct run {
    struct run *next_todo;   /* runner queue */
    struct run *next_done;   /* completion list */
    struct run *prev, *next; /* every run in flight (main thread) */
    struct ql_arena arena;
    struct ql_job job;
    const struct ql_job_kind *kind;
    int64_t started_ns;  /* when a runner took it; 0 before (under lock) */
    int64_t deadline_ns; /* set with started_ns */
    int64_t finished_ns; /* when the handler returned; 0 before (under lock) */
    int abandoned;       /* main thread: recorded as timed out */
    int unrecorded;      /* recorder: its success could not be written */
    int expired;         /* main thread: to be recorded as timed out */
    int rc;
    char error[320];
};

struct runner {
    struct ql_engine *e;
    pthread_t thread;
    struct ql_pg *pg;
    int index;
};

struct kind_stats {
    char kind[48];
    uint64_t succeeded, failed, discarded;
    uint64_t buckets[NBUCKETS];
    double sum_s;
    uint64_t count;
};

struct ql_engine {
    const struct ql_config *cfg;
    struct ql_logger *log;
    struct ql_clock *clock;
    struct ql_auth *auth;
    char worker_id[128];
    const char *queues[33]; /* NULL-terminated; queues[0] == NULL: every queue */
    char queue_names[512];

    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    uv_timer_t tick, poll;
    uv_async_t wake;
    uv_poll_t listen_poll;
    int listen_polling;
    PGconn *listen;
    int64_t listen_retry_ms;
    uv_tcp_t metrics;
    int metrics_open;

    struct ql_pg *pg; /* the main thread's session */
    struct ql_arena arena;

    pthread_mutex_t lock;
    pthread_cond_t cond;               /* runners wait here for todo */
    pthread_cond_t rec_cond;           /* the recorder waits here for done */
    struct run *todo_head, *todo_tail; /* claimed, waiting for a runner */
    struct run *done_head;             /* finished, waiting for the recorder */
    struct run *recorded_head;         /* recorded, waiting for the main thread */
    int runners_stop;
    pthread_t recorder;
    struct ql_pg *rec_pg; /* the recorder's session */
    struct ql_pg_waker *waker;

    struct run *runs; /* in flight (main thread only) */
    int in_flight;    /* runs not yet returned by a runner, abandoned ones included */

    int nrunners;
    struct runner runners[MAX_RUNNERS];

    int stopping;
    int64_t stop_deadline_ms;
    int leader;
    int ready;
    int db_ok;
    int64_t cron_checked_ms;
    int64_t last_heartbeat_ms, last_rescue_ms, last_purge_ms, last_lead_ms;
    uint64_t rng;
    double avg_run_ms; /* moving average of attempt durations */
    int dry;           /* the last claim found fewer jobs than it asked for */

    int nkinds;
    struct kind_stats kinds[MAX_KINDS];
    uint64_t claims, notifications;
};

static const double bounds[NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10,   30};

static int64_t now_ms(struct ql_engine *e)
{
    return ql_clock_now_ms(e->clock);
}

static int64_t mono_ns(struct ql_engine *e)
{
    return ql_clock_mono_ns(e->clock);
}

static uint64_t next_rand(struct ql_engine *e)
{
    uint64_t x = e->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return e->rng = x;
}

/* A context for the main thread's own calls: its arena is reset by every tick. */
static void main_ctx(struct ql_engine *e, struct ql_ctx *cx)
{
    memset(cx, 0, sizeof(*cx));
    cx->arena = &e->arena;
    cx->cfg = e->cfg;
    cx->ports.store = ql_pg_store(e->pg);
    cx->ports.queue = ql_pg_queue(e->pg);
    cx->ports.clock = e->clock;
    cx->ports.auth = e->auth;
    cx->ports.log = e->log;
}

/* Log transitions of database reachability, not every failed call. */
static void db_state(struct ql_engine *e, int rc, const struct ql_ctx *cx)
{
    int ok = rc != QL_EUNAVAILABLE;
    if (ok && !e->db_ok)
        ql_log(e->log, QL_LOG_INFO, "quill-worker connected to the database", NULL);
    else if (!ok && e->db_ok)
        ql_log(e->log, QL_LOG_WARN, "quill-worker lost the database", "error", cx->err.msg, NULL);
    e->db_ok = ok;
    if (ok && !e->ready) {
        e->ready = 1;
        char n[16];
        snprintf(n, sizeof(n), "%d", e->nrunners);
        ql_log(e->log, QL_LOG_INFO, "quill-worker ready", "worker", e->worker_id, "concurrency", n,
               NULL);
    }
}

static struct kind_stats *stats_for(struct ql_engine *e, const char *kind)
{
    for (int i = 0; i < e->nkinds; i++)
        if (strcmp(e->kinds[i].kind, kind) == 0)
            return &e->kinds[i];
    if (e->nkinds == MAX_KINDS)
        return &e->kinds[MAX_KINDS - 1]; /* overflow shares the last row */
    struct kind_stats *k = &e->kinds[e->nkinds++];
    snprintf(k->kind, sizeof(k->kind), "%s", kind);
    return k;
}

static void observe(struct ql_engine *e, const struct run *r, const char *outcome, int64_t end_ns)
{
    struct kind_stats *k = stats_for(e, r->job.kind);
    double s = (double)(end_ns - r->started_ns) / 1e9;
    e->avg_run_ms = e->avg_run_ms * 0.9 + s * 100.0; /* weight 0.1, in ms */
    k->count++;
    k->sum_s += s;
    for (int i = 0; i < NBUCKETS; i++) {
        if (s <= bounds[i]) {
            k->buckets[i]++;
            break;
        }
    }
    if (strcmp(outcome, "succeeded") == 0)
        k->succeeded++;
    else if (strcmp(outcome, "discarded") == 0)
        k->discarded++;
    else
        k->failed++;
}

/* ---- runners ---------------------------------------------------------------------------- */

static void run_one(struct runner *rn, struct run *r)
{
    struct ql_engine *e = rn->e;
    struct ql_ctx cx;
    memset(&cx, 0, sizeof(cx));
    cx.arena = &r->arena;
    cx.cfg = e->cfg;
    cx.ports.store = ql_pg_store(rn->pg);
    cx.ports.queue = ql_pg_queue(rn->pg);
    cx.ports.clock = e->clock;
    cx.ports.auth = e->auth;
    cx.ports.log = e->log;
    cx.deadline_ns = r->deadline_ns;
    cx.job = &r->job;
    cx.worker_id = e->worker_id;
    if (r->job.trace_id && strlen(r->job.trace_id) == 32)
        memcpy(cx.trace_id, r->job.trace_id, 33);
    snprintf(cx.request_id, sizeof(cx.request_id), "job-%lld", (long long)r->job.id);
    if (r->kind == NULL) {
        r->rc = QL_EINTERNAL;
        snprintf(r->error, sizeof(r->error), "no handler for kind %s on this worker", r->job.kind);
        return;
    }
    r->rc = r->kind->fn(&cx, &r->job);
    if (r->rc)
        snprintf(r->error, sizeof(r->error), "%s: %s", ql_err_name(r->rc),
                 cx.err.msg[0] ? cx.err.msg : ql_strerror(r->rc));
}

static void *runner_main(void *arg)
{
    struct runner *rn = arg;
    struct ql_engine *e = rn->e;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (e->todo_head == NULL && !e->runners_stop)
            pthread_cond_wait(&e->cond, &e->lock);
        if (e->todo_head == NULL)
            break;
        struct run *r = e->todo_head;
        e->todo_head = r->next_todo;
        if (e->todo_head == NULL)
            e->todo_tail = NULL;
        r->started_ns = mono_ns(e);
        r->deadline_ns = r->started_ns + (int64_t)(r->kind ? r->kind->timeout_ms : 1000) * 1000000;
        pthread_mutex_unlock(&e->lock);
        run_one(rn, r);
        int64_t t = mono_ns(e);
        pthread_mutex_lock(&e->lock);
        r->finished_ns = t;
        r->next_done = e->done_head;
        e->done_head = r;
        pthread_cond_signal(&e->rec_cond);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* ---- recording outcomes ---------------------------------------------------------------------- */

static void unlink_run(struct ql_engine *e, struct run *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        e->runs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    ql_arena_cleanup(&r->arena);
    free(r);
}

/* Record a failed attempt: retry with backoff, or discard when attempts are spent. */
static void record_failure(struct ql_engine *e, struct ql_ctx *cx, struct run *r, const char *why,
                           int64_t end_ns)
{
    int discard = r->job.attempts >= r->job.max_attempts;
    int64_t delay = ql_job_backoff_ms(r->job.attempts, e->cfg->job_backoff_base_ms, next_rand(e));
    int rc = ql_queue_fail(cx->ports.queue, cx, e->worker_id, r->job.id, r->job.attempts, why,
                           now_ms(e) + delay, discard);
    db_state(e, rc, cx);
    observe(e, r, discard ? "discarded" : "failed", end_ns);
    char id[24], attempt[16];
    snprintf(id, sizeof(id), "%lld", (long long)r->job.id);
    snprintf(attempt, sizeof(attempt), "%d", r->job.attempts);
    ql_log(e->log, discard ? QL_LOG_ERROR : QL_LOG_WARN,
           discard ? "job discarded" : "job attempt failed", "job_id", id, "kind", r->job.kind,
           "attempt", attempt, "error", why, NULL);
}

/*
 * The recorder: marks every finished success succeeded, a batch per statement, then hands
 * the runs to the main thread.  Runs the main thread already recorded as timed out are
 * left alone (the database would refuse them anyway).
 */
static void *recorder_main(void *arg)
{
    struct ql_engine *e = arg;
    struct ql_arena a;
    ql_arena_init(&a, 16384, 0);
    struct ql_ctx cx;
    memset(&cx, 0, sizeof(cx));
    cx.arena = &a;
    cx.cfg = e->cfg;
    cx.ports.queue = ql_pg_queue(e->rec_pg);
    cx.ports.clock = e->clock;
    cx.ports.log = e->log;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (e->done_head == NULL && !e->runners_stop)
            pthread_cond_wait(&e->rec_cond, &e->lock);
        struct run *done = e->done_head;
        e->done_head = NULL;
        if (done == NULL)
            break;
        int n = 0, k = 0;
        for (struct run *r = done; r; r = r->next_done)
            n++;
        int64_t *ids = ql_arena_alloc(&a, sizeof(int64_t) * (size_t)n);
        int *attempts = ql_arena_alloc(&a, sizeof(int) * (size_t)n);
        for (struct run *r = done; r && ids && attempts; r = r->next_done) {
            if (r->rc == QL_OK && !r->abandoned) {
                ids[k] = r->job.id;
                attempts[k++] = r->job.attempts;
            }
        }
        pthread_mutex_unlock(&e->lock);
        int rc = k ? ql_queue_complete(cx.ports.queue, &cx, e->worker_id, ids, attempts, k)
                   : (ids && attempts ? QL_OK : QL_ENOMEM);
        if (rc) /* they stay running; the rescuer gives them another attempt */
            ql_log(e->log, QL_LOG_WARN, "cannot record completed jobs", "error",
                   cx.err.msg[0] ? cx.err.msg : ql_strerror(rc), NULL);
        ql_error_clear(&cx.err);
        ql_arena_reset(&a);
        pthread_mutex_lock(&e->lock);
        for (struct run *r = done, *next; r; r = next) {
            next = r->next_done;
            r->unrecorded = rc != QL_OK;
            r->next_done = e->recorded_head;
            e->recorded_head = r;
        }
        uv_async_send(&e->wake);
    }
    pthread_mutex_unlock(&e->lock);
    ql_arena_cleanup(&a);
    return NULL;
}

/* The main thread's side: count what the recorder wrote, record failures, free the runs. */
static void collect(struct ql_engine *e)
{
    pthread_mutex_lock(&e->lock);
    struct run *done = e->recorded_head;
    e->recorded_head = NULL;
    pthread_mutex_unlock(&e->lock);
    if (done == NULL)
        return;
    struct ql_ctx cx;
    main_ctx(e, &cx);
    for (struct run *r = done, *next; r; r = next) {
        next = r->next_done;
        e->in_flight--;
        /* an abandoned run was recorded as timed out already */
        if (!r->abandoned && r->rc != QL_OK)
            record_failure(e, &cx, r, r->error, r->finished_ns);
        else if (!r->abandoned && !r->unrecorded)
            observe(e, r, "succeeded", r->finished_ns);
        unlink_run(e, r);
    }
    ql_arena_reset(&e->arena);
}

/* ---- claiming ------------------------------------------------------------------------------- */

static char *copy(struct ql_arena *a, const char *s)
{
    return s ? ql_arena_strdup(a, s) : NULL;
}

/*
 * Claim jobs for the idle runners and, while jobs are short, a batch ahead of them; a long
 * job is never held back from other workers behind a busy runner.  After a claim comes back
 * short the engine waits for a notification or the poll before it asks again.
 */
static void claim(struct ql_engine *e)
{
    while (!e->stopping && !e->dry) {
        int ahead = e->avg_run_ms < PREFETCH_BELOW_MS ? e->cfg->job_batch : 0;
        int room = e->nrunners + ahead - e->in_flight;
        /* with every runner still fed, wait until half a batch fits */
        if (room <= 0 || (e->in_flight >= e->nrunners && room < ahead / 2))
            return;
        int max = room < e->cfg->job_batch ? room : e->cfg->job_batch;
        struct ql_ctx cx;
        main_ctx(e, &cx);
        struct ql_job *jobs;
        int n = 0;
        int rc = ql_queue_claim(cx.ports.queue, &cx, e->worker_id, e->queues[0] ? e->queues : NULL,
                                max, &jobs, &n);
        db_state(e, rc, &cx);
        if (rc || n < max)
            e->dry = 1;
        if (rc || n == 0) {
            ql_arena_reset(&e->arena);
            return;
        }
        e->claims++;
        pthread_mutex_lock(&e->lock);
        for (int i = 0; i < n; i++) {
            struct run *r = calloc(1, sizeof(*r));
            if (r == NULL)
                break; /* the job stays running; the rescuer returns it */
            ql_arena_init(&r->arena, 4096, 0);
            r->job = jobs[i];
            r->job.queue = copy(&r->arena, jobs[i].queue);
            r->job.kind = copy(&r->arena, jobs[i].kind);
            r->job.payload = copy(&r->arena, jobs[i].payload);
            r->job.trace_id = copy(&r->arena, jobs[i].trace_id);
            r->kind = ql_job_kind_find(jobs[i].kind, e->cfg->worker_debug_jobs);
            r->next = e->runs;
            if (e->runs)
                e->runs->prev = r;
            e->runs = r;
            e->in_flight++;
            if (e->todo_tail)
                e->todo_tail->next_todo = r;
            else
                e->todo_head = r;
            e->todo_tail = r;
        }
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->lock);
        ql_arena_reset(&e->arena);
    }
}

/* New jobs may be there: a notification, the poll, a new LISTEN connection. */
static void claim_fresh(struct ql_engine *e)
{
    e->dry = 0;
    claim(e);
}

/* ---- timers: deadlines, heartbeats, leadership, cron, rescue, retention ------------------------
 */

static void check_deadlines(struct ql_engine *e)
{
    int64_t t = mono_ns(e);
    int n = 0;
    pthread_mutex_lock(&e->lock);
    for (struct run *r = e->runs; r; r = r->next) {
        if (r->started_ns && !r->finished_ns && !r->abandoned &&
            t >= r->deadline_ns + (int64_t)GRACE_MS * 1000000) {
            r->abandoned = r->expired = 1;
            n++;
        }
    }
    pthread_mutex_unlock(&e->lock);
    if (n == 0)
        return;
    struct ql_ctx cx;
    main_ctx(e, &cx);
    for (struct run *r = e->runs; r; r = r->next) {
        if (!r->expired)
            continue;
        r->expired = 0;
        char why[128];
        snprintf(why, sizeof(why), "timed out after %d ms", r->kind ? r->kind->timeout_ms : 1000);
        record_failure(e, &cx, r, why, t);
    }
}

static void heartbeat(struct ql_engine *e)
{
    struct ql_ctx cx;
    main_ctx(e, &cx);
    int n = 0;
    for (struct run *r = e->runs; r; r = r->next)
        n++;
    if (n == 0)
        return;
    int64_t *ids = ql_arena_alloc(&e->arena, sizeof(int64_t) * (size_t)n);
    if (ids == NULL)
        return;
    int k = 0;
    for (struct run *r = e->runs; r; r = r->next)
        if (!r->abandoned)
            ids[k++] = r->job.id;
    int rc = ql_queue_heartbeat(cx.ports.queue, &cx, e->worker_id, ids, k);
    db_state(e, rc, &cx);
}

/* Enqueue every cron tick since the last check (deduplicated by unique key). */
static void cron(struct ql_engine *e, int64_t now)
{
    int n;
    const struct ql_schedule *s = ql_schedules(e->cfg->worker_debug_jobs, &n);
    int64_t from = e->cron_checked_ms;
    struct ql_ctx cx;
    main_ctx(e, &cx);
    for (int i = 0; i < n; i++) {
        struct ql_cron c;
        if (ql_cron_parse(s[i].expr, &c, &cx.err) != QL_OK)
            continue;
        for (int64_t t = ql_cron_next(&c, from); t > 0 && t <= now; t = ql_cron_next(&c, t)) {
            char key[128];
            snprintf(key, sizeof(key), "cron:%s:%lld", s[i].name, (long long)t);
            const struct ql_job_kind *k = ql_job_kind_find(s[i].kind, 0);
            struct ql_job_spec spec = {.kind = s[i].kind,
                                       .queue = "cron",
                                       .run_at_ms = t,
                                       .unique_key = key,
                                       .max_attempts = k ? k->max_attempts : 5};
            int64_t id;
            int rc = ql_queue_enqueue(cx.ports.queue, &cx, &spec, &id);
            db_state(e, rc, &cx);
            if (rc)
                return; /* try the same ticks again next time */
        }
    }
    e->cron_checked_ms = now;
}

static void leader_duties(struct ql_engine *e)
{
    int64_t now = now_ms(e);
    struct ql_ctx cx;
    main_ctx(e, &cx);
    if (now - e->last_lead_ms >= 1000 || !e->leader) {
        int was = e->leader;
        int rc = ql_queue_lead(cx.ports.queue, &cx, &e->leader);
        db_state(e, rc, &cx);
        e->last_lead_ms = now;
        if (e->leader && !was) {
            ql_log(e->log, QL_LOG_INFO, "quill-worker is the leader", "worker", e->worker_id, NULL);
            e->cron_checked_ms = now - CRON_LOOKBACK_MS; /* ticks a previous leader missed */
        }
    }
    if (!e->leader || e->stopping)
        return;
    cron(e, now);
    if (now - e->last_rescue_ms >= RESCUE_EVERY_MS) {
        int n = 0;
        int rc = ql_queue_rescue(cx.ports.queue, &cx, now - e->cfg->job_rescue_after_ms, &n);
        db_state(e, rc, &cx);
        e->last_rescue_ms = now;
        if (n > 0) {
            char c[16];
            snprintf(c, sizeof(c), "%d", n);
            ql_log(e->log, QL_LOG_WARN, "rescued jobs of a lost worker", "count", c, NULL);
        }
    }
    if (now - e->last_purge_ms >= PURGE_EVERY_MS) {
        int n = 0;
        do {
            int rc = ql_queue_purge(cx.ports.queue, &cx, now - e->cfg->job_retention_ms, &n);
            db_state(e, rc, &cx);
            if (rc)
                break;
        } while (n >= 10000);
        e->last_purge_ms = now;
    }
}

/* ---- LISTEN ------------------------------------------------------------------------------- */

static void on_listen_readable(uv_poll_t *h, int status, int events);

static void listen_close(struct ql_engine *e)
{
    if (e->listen_polling) {
        uv_poll_stop(&e->listen_poll);
        uv_close((uv_handle_t *)&e->listen_poll, NULL);
        e->listen_polling = 0;
    }
    if (e->listen)
        PQfinish(e->listen);
    e->listen = NULL;
}

static void listen_open(struct ql_engine *e)
{
    int64_t now = now_ms(e);
    if (e->listen || now < e->listen_retry_ms || e->stopping)
        return;
    e->listen_retry_ms = now + 500;
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {e->cfg->database_url, "3", "quill-worker-listen", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return;
    }
    PGresult *r = PQexec(c, "LISTEN quill_jobs");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || PQsetnonblocking(c, 1) != 0 ||
        uv_poll_init(&e->loop, &e->listen_poll, PQsocket(c)) != 0) {
        PQfinish(c);
        return;
    }
    e->listen = c;
    e->listen_poll.data = e;
    e->listen_polling = 1;
    uv_poll_start(&e->listen_poll, UV_READABLE, on_listen_readable);
    claim_fresh(e); /* anything enqueued while nobody listened */
}

static void on_listen_readable(uv_poll_t *h, int status, int events)
{
    struct ql_engine *e = h->data;
    (void)events;
    if (status < 0 || PQconsumeInput(e->listen) == 0) {
        listen_close(e);
        return;
    }
    PGnotify *n;
    int any = 0;
    while ((n = PQnotifies(e->listen)) != NULL) {
        any = 1;
        e->notifications++;
        PQfreemem(n);
    }
    if (any)
        claim_fresh(e);
}

/* ---- metrics endpoint ---------------------------------------------------------------------- */

struct mconn {
    uv_tcp_t tcp;
    struct ql_engine *e;
    char buf[4096];
    size_t len;
    uv_write_t w;
    struct ql_buf out;
};

static void mconn_closed(uv_handle_t *h)
{
    struct mconn *m = h->data;
    ql_buf_cleanup(&m->out);
    free(m);
}

static void mconn_written(uv_write_t *w, int status)
{
    (void)status;
    struct mconn *m = w->data;
    uv_close((uv_handle_t *)&m->tcp, mconn_closed);
}

static void render_metrics(struct ql_engine *e, struct ql_buf *b)
{
    ql_buf_puts(b, "# HELP quill_jobs Jobs by queue and state.\n# TYPE quill_jobs gauge\n");
    struct ql_ctx cx;
    main_ctx(e, &cx);
    struct ql_queue_stat *st;
    int n = 0;
    if (ql_queue_stats(cx.ports.queue, &cx, &st, &n) == QL_OK) {
        for (int i = 0; i < n; i++)
            for (int s = 0; s < QL_QUEUE_STATES; s++)
                ql_buf_printf(b, "quill_jobs{queue=\"%s\",state=\"%s\"} %lld\n", st[i].queue,
                              ql_job_states[s], (long long)st[i].counts[s]);
        ql_buf_puts(b, "# HELP quill_jobs_oldest_available_age_seconds Age of the oldest runnable "
                       "job.\n# TYPE quill_jobs_oldest_available_age_seconds gauge\n");
        int64_t now = now_ms(e);
        for (int i = 0; i < n; i++)
            ql_buf_printf(
                b, "quill_jobs_oldest_available_age_seconds{queue=\"%s\"} %.3f\n", st[i].queue,
                st[i].oldest_available_ms ? (double)(now - st[i].oldest_available_ms) / 1e3 : 0.0);
    }
    ql_buf_puts(b, "# HELP quill_job_attempts_total Finished attempts by kind and outcome.\n"
                   "# TYPE quill_job_attempts_total counter\n");
    for (int i = 0; i < e->nkinds; i++) {
        const struct kind_stats *k = &e->kinds[i];
        ql_buf_printf(b,
                      "quill_job_attempts_total{kind=\"%s\",outcome=\"succeeded\"} %llu\n"
                      "quill_job_attempts_total{kind=\"%s\",outcome=\"failed\"} %llu\n"
                      "quill_job_attempts_total{kind=\"%s\",outcome=\"discarded\"} %llu\n",
                      k->kind, (unsigned long long)k->succeeded, k->kind,
                      (unsigned long long)k->failed, k->kind, (unsigned long long)k->discarded);
    }
    ql_buf_puts(b, "# HELP quill_job_attempt_duration_seconds Time a handler ran.\n"
                   "# TYPE quill_job_attempt_duration_seconds histogram\n");
    for (int i = 0; i < e->nkinds; i++) {
        const struct kind_stats *k = &e->kinds[i];
        uint64_t cum = 0;
        for (int j = 0; j < NBUCKETS; j++) {
            cum += k->buckets[j];
            ql_buf_printf(b,
                          "quill_job_attempt_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} %llu\n",
                          k->kind, bounds[j], (unsigned long long)cum);
        }
        ql_buf_printf(b,
                      "quill_job_attempt_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n"
                      "quill_job_attempt_duration_seconds_sum{kind=\"%s\"} %.6f\n"
                      "quill_job_attempt_duration_seconds_count{kind=\"%s\"} %llu\n",
                      k->kind, (unsigned long long)k->count, k->kind, k->sum_s, k->kind,
                      (unsigned long long)k->count);
    }
    ql_buf_printf(b,
                  "# HELP quill_worker_concurrency Runner threads.\n"
                  "# TYPE quill_worker_concurrency gauge\nquill_worker_concurrency %d\n"
                  "# HELP quill_worker_busy Runs in flight.\n"
                  "# TYPE quill_worker_busy gauge\nquill_worker_busy %d\n"
                  "# HELP quill_worker_leader 1 while this worker holds the leader lock.\n"
                  "# TYPE quill_worker_leader gauge\nquill_worker_leader %d\n",
                  e->nrunners, e->in_flight, e->leader);
    ql_arena_reset(&e->arena);
}

static void mconn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct mconn *m = s->data;
    (void)buf;
    if (nread < 0 || m->len >= sizeof(m->buf) - 1) {
        uv_close((uv_handle_t *)&m->tcp, mconn_closed);
        return;
    }
    m->len += (size_t)nread;
    m->buf[m->len] = '\0';
    if (strstr(m->buf, "\r\n\r\n") == NULL)
        return;
    uv_read_stop(s);
    struct ql_buf body;
    ql_buf_init(&body, NULL);
    const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";
    if (strncmp(m->buf, "GET /metrics ", 13) == 0) {
        render_metrics(m->e, &body);
    } else if (strncmp(m->buf, "GET /livez ", 11) == 0) {
        ql_buf_puts(&body, "{\"status\":\"ok\"}");
        ctype = "application/json";
    } else {
        status = "404 Not Found";
        ctype = "application/problem+json";
        ql_buf_puts(&body, "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,"
                           "\"detail\":\"No such resource.\",\"code\":\"not_found\"}");
    }
    ql_buf_init(&m->out, NULL);
    ql_buf_printf(&m->out,
                  "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
                  status, ctype, body.len);
    ql_buf_append(&m->out, body.data, body.len);
    ql_buf_cleanup(&body);
    uv_buf_t out = uv_buf_init(m->out.data, (unsigned)m->out.len);
    m->w.data = m;
    if (m->out.failed || uv_write(&m->w, s, &out, 1, mconn_written) != 0)
        uv_close((uv_handle_t *)&m->tcp, mconn_closed);
}

static void mconn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct mconn *m = h->data;
    (void)suggested;
    buf->base = m->buf + m->len;
    buf->len = sizeof(m->buf) - 1 - m->len;
}

static void on_metrics_conn(uv_stream_t *server, int status)
{
    struct ql_engine *e = server->data;
    if (status < 0)
        return;
    struct mconn *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return;
    m->e = e;
    uv_tcp_init(&e->loop, &m->tcp);
    m->tcp.data = m;
    if (uv_accept(server, (uv_stream_t *)&m->tcp) != 0) {
        uv_close((uv_handle_t *)&m->tcp, mconn_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&m->tcp, mconn_alloc, mconn_read);
}

static int metrics_open(struct ql_engine *e, char *addr, size_t cap)
{
    const struct ql_config *cfg = e->cfg;
    if (cfg->worker_listen_host[0] == '\0')
        return QL_OK;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(cfg->worker_listen_host, cfg->worker_listen_port, (struct sockaddr_in *)&ss) !=
            0 &&
        uv_ip6_addr(cfg->worker_listen_host, cfg->worker_listen_port, (struct sockaddr_in6 *)&ss) !=
            0)
        return QL_ECONFIG;
    uv_tcp_init(&e->loop, &e->metrics);
    e->metrics.data = e;
    if (uv_tcp_bind(&e->metrics, (struct sockaddr *)&ss, 0) != 0 ||
        uv_listen((uv_stream_t *)&e->metrics, 64, on_metrics_conn) != 0) {
        uv_close((uv_handle_t *)&e->metrics, NULL);
        return QL_EIO;
    }
    e->metrics_open = 1;
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_tcp_getsockname(&e->metrics, (struct sockaddr *)&got, &len);
    int port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                               : ((struct sockaddr_in *)&got)->sin_port);
    snprintf(addr, cap, "%s:%d", cfg->worker_listen_host, port);
    return QL_OK;
}

/* ---- the loop
 * ------------------------------------------------------------------------------------ */

/*
 * Hand runs back to the queue as not attempted: the ones no runner has taken and, with
 * started_too (after the shutdown deadline), the ones still running.
 */
static void release(struct ql_engine *e, int started_too)
{
    int n = 0;
    for (struct run *r = e->runs; r; r = r->next)
        n++;
    struct ql_ctx cx;
    main_ctx(e, &cx);
    int64_t *ids = ql_arena_alloc(&e->arena, sizeof(int64_t) * (size_t)(n ? n : 1));
    int *att = ql_arena_alloc(&e->arena, sizeof(int) * (size_t)(n ? n : 1));
    if (ids == NULL || att == NULL)
        return; /* the rescuer returns them later */
    int k = 0;
    pthread_mutex_lock(&e->lock);
    struct run *queued = e->todo_head; /* exactly the runs nobody started */
    e->todo_head = e->todo_tail = NULL;
    for (struct run *r = queued; r; r = r->next_todo) {
        ids[k] = r->job.id;
        att[k++] = r->job.attempts;
    }
    for (struct run *r = e->runs; started_too && r; r = r->next) {
        if (r->started_ns && !r->finished_ns && !r->abandoned) {
            ids[k] = r->job.id;
            att[k++] = r->job.attempts;
        }
    }
    pthread_mutex_unlock(&e->lock);
    for (struct run *r = queued, *next; r; r = next) {
        next = r->next_todo;
        e->in_flight--;
        unlink_run(e, r);
    }
    if (k == 0)
        return;
    ql_queue_release(cx.ports.queue, &cx, e->worker_id, ids, att, k);
    char c[16];
    snprintf(c, sizeof(c), "%d", k);
    ql_log(e->log, QL_LOG_INFO, "returned unfinished jobs to the queue", "count", c, NULL);
}

static void begin_stop(struct ql_engine *e)
{
    if (e->stopping)
        return;
    e->stopping = 1;
    e->stop_deadline_ms = now_ms(e) + e->cfg->shutdown_timeout_ms;
    char n[16];
    snprintf(n, sizeof(n), "%d", e->in_flight);
    ql_log(e->log, QL_LOG_INFO, "quill-worker stopping", "running", n, NULL);
    release(e, 0); /* claimed ahead: nobody started them */
}

static void close_all(struct ql_engine *e)
{
    listen_close(e);
    uv_close((uv_handle_t *)&e->tick, NULL);
    uv_close((uv_handle_t *)&e->poll, NULL);
    uv_close((uv_handle_t *)&e->wake, NULL);
    uv_close((uv_handle_t *)&e->sigterm, NULL);
    uv_close((uv_handle_t *)&e->sigint, NULL);
    if (e->metrics_open)
        uv_close((uv_handle_t *)&e->metrics, NULL);
}

static void on_tick(uv_timer_t *t)
{
    struct ql_engine *e = t->data;
    collect(e);
    if (e->stopping) {
        if (e->in_flight == 0) {
            close_all(e);
        } else if (now_ms(e) >= e->stop_deadline_ms) {
            release(e, 1);
            close_all(e);
        }
        return;
    }
    check_deadlines(e);
    int64_t now = now_ms(e);
    if (now - e->last_heartbeat_ms >= e->cfg->job_heartbeat_ms) {
        heartbeat(e);
        e->last_heartbeat_ms = now;
    }
    leader_duties(e);
    listen_open(e);
    ql_arena_reset(&e->arena);
}

static void on_poll(uv_timer_t *t)
{
    claim_fresh(t->data);
}

static void on_wake(uv_async_t *a)
{
    struct ql_engine *e = a->data;
    collect(e);
    claim(e);
    if (e->stopping && e->in_flight == 0)
        on_tick(&e->tick);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    begin_stop(h->data);
}

int ql_engine_run(struct ql_engine *e)
{
    uv_loop_init(&e->loop);
    uv_signal_init(&e->loop, &e->sigterm);
    uv_signal_init(&e->loop, &e->sigint);
    e->sigterm.data = e->sigint.data = e;
    uv_signal_start(&e->sigterm, on_signal, SIGTERM);
    uv_signal_start(&e->sigint, on_signal, SIGINT);
    uv_async_init(&e->loop, &e->wake, on_wake);
    e->wake.data = e;
    uv_timer_init(&e->loop, &e->tick);
    uv_timer_init(&e->loop, &e->poll);
    e->tick.data = e->poll.data = e;
    char addr[300] = "";
    if (metrics_open(e, addr, sizeof(addr)) != QL_OK) {
        ql_log(e->log, QL_LOG_ERROR, "QUILL_WORKER_LISTEN: cannot listen", NULL);
        return QL_EIO;
    }
    for (int i = 0; i < e->nrunners; i++)
        pthread_create(&e->runners[i].thread, NULL, runner_main, &e->runners[i]);
    pthread_create(&e->recorder, NULL, recorder_main, e);
    ql_log(e->log, QL_LOG_INFO, "quill-worker starting", "worker", e->worker_id, "metrics",
           addr[0] ? addr : NULL, NULL);
    uv_timer_start(&e->tick, on_tick, 0, TICK_MS);
    uv_timer_start(&e->poll, on_poll, 0, (uint64_t)e->cfg->job_poll_ms);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    /* Runners still inside a handler past the deadline are left to the process exit. */
    pthread_mutex_lock(&e->lock);
    e->runners_stop = 1;
    pthread_cond_broadcast(&e->cond);
    pthread_cond_signal(&e->rec_cond);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->recorder, NULL);
    int stuck = 0;
    pthread_mutex_lock(&e->lock);
    for (struct run *r = e->runs; r; r = r->next)
        stuck += r->started_ns && !r->finished_ns;
    pthread_mutex_unlock(&e->lock);
    if (!stuck)
        for (int i = 0; i < e->nrunners; i++)
            pthread_join(e->runners[i].thread, NULL);
    else
        e->nrunners = 0; /* do not free sessions a stuck runner may still use */
    uv_loop_close(&e->loop);
    ql_log(e->log, QL_LOG_INFO, "quill-worker stopped", NULL);
    return QL_OK;
}

int ql_engine_create(const struct ql_config *cfg, struct ql_logger *log, struct ql_clock *clock,
                     struct ql_auth *auth, struct ql_engine **out)
{
    *out = NULL;
    struct ql_engine *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return QL_ENOMEM;
    e->cfg = cfg;
    e->log = log;
    e->clock = clock;
    e->auth = auth;
    e->db_ok = 1;
    ql_arena_init(&e->arena, 16384, 0);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->cond, NULL);
    pthread_cond_init(&e->rec_cond, NULL);
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    uint64_t r;
    uv_random(NULL, NULL, &r, sizeof(r), 0, NULL);
    e->rng = r | 1;
    e->avg_run_ms = 1000; /* no prefetch until jobs prove short */
    snprintf(e->worker_id, sizeof(e->worker_id), "%s:%d:%04x", host, (int)getpid(),
             (unsigned)(r & 0xffff));
    snprintf(e->queue_names, sizeof(e->queue_names), "%s", cfg->job_queues);
    int nq = 0;
    for (char *s = strtok(e->queue_names, ", "); s && nq < 32; s = strtok(NULL, ", "))
        e->queues[nq++] = s;
    e->queues[nq] = NULL;
    int rc = ql_pg_waker_create(cfg->database_url, log, &e->waker);
    if (rc == QL_OK)
        rc = ql_pg_create(cfg->database_url, log, clock, NULL, &e->pg);
    /*
     * The engine's own statements are written for index scans.  Right after a burst of
     * enqueues the table's statistics are stale and the planner would rather sort the whole
     * backlog on every claim (a bitmap scan looks cheaper on a table it thinks is empty).
     */
    if (rc == QL_OK) {
        ql_pg_set_options(e->pg, "-c enable_bitmapscan=off -c enable_seqscan=off");
        ql_pg_set_waker(e->pg, e->waker); /* cron ticks, releases */
    }
    if (rc == QL_OK)
        rc = ql_pg_create(cfg->database_url, log, clock, NULL, &e->rec_pg);
    e->nrunners = cfg->worker_concurrency > MAX_RUNNERS ? MAX_RUNNERS : cfg->worker_concurrency;
    for (int i = 0; rc == QL_OK && i < e->nrunners; i++) {
        e->runners[i].e = e;
        e->runners[i].index = i;
        rc = ql_pg_create(cfg->database_url, log, clock, NULL, &e->runners[i].pg);
        if (rc == QL_OK)
            ql_pg_set_waker(e->runners[i].pg, e->waker); /* handlers may enqueue */
    }
    if (rc) {
        ql_engine_destroy(e);
        return rc;
    }
    *out = e;
    return QL_OK;
}

void ql_engine_destroy(struct ql_engine *e)
{
    if (e == NULL)
        return;
    for (struct run *r = e->runs, *next; r; r = next) {
        next = r->next;
        /* a stuck runner (nrunners == 0) may still use its run */
        if (e->nrunners || r->finished_ns || !r->started_ns) {
            ql_arena_cleanup(&r->arena);
            free(r);
        }
    }
    for (int i = 0; i < e->nrunners; i++)
        ql_pg_destroy(e->runners[i].pg);
    ql_pg_destroy(e->pg);
    ql_pg_destroy(e->rec_pg);
    ql_pg_waker_destroy(e->waker);
    listen_close(e);
    ql_arena_cleanup(&e->arena);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    pthread_cond_destroy(&e->rec_cond);
    free(e);
}
