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
 * A fourth kind of thread runs the change log's consumers (consumers.c).
 *
 * Wake-ups: the notification port's "quill_jobs" channel (jobs committed anywhere), every
 * completed job, and a polling timer as the fallback when notifications are lost.
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
#include "internal.h"

#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"
#include "db/db.h"
#include "queue/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

uint64_t ql__eng_rand(struct ql_engine *e)
{
    uint64_t x = e->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return e->rng = x;
}

/* A context for the main thread's own calls: its arena is reset by every tick. */
void ql__eng_main_ctx(struct ql_engine *e, struct ql_ctx *cx)
{
    memset(cx, 0, sizeof(*cx));
    cx->arena = &e->arena;
    cx->cfg = e->core;
    cx->ports.store = ql_db_store(e->db);
    cx->ports.queue = ql_db_queue(e->db);
    cx->ports.clock = e->clock;
    cx->ports.auth = e->auth;
    cx->ports.log = e->log;
}

/* Log transitions of database reachability, not every failed call. */
void ql__eng_db_state(struct ql_engine *e, int rc, const struct ql_ctx *cx)
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

/* ---- the loop ------------------------------------------------------------------------------ */

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
    ql__eng_main_ctx(e, &cx);
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
        ql__eng_unlink_run(e, r);
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
    e->stop_deadline_ms = ql__eng_now_ms(e) + e->cfg->shutdown_timeout_ms;
    char n[16];
    snprintf(n, sizeof(n), "%d", e->in_flight);
    ql_log(e->log, QL_LOG_INFO, "quill-worker stopping", "running", n, NULL);
    release(e, 0); /* claimed ahead: nobody started them */
}

static void close_all(struct ql_engine *e)
{
    ql__eng_listen_stop(e); /* before the wake handle it sends to closes */
    uv_close((uv_handle_t *)&e->tick, NULL);
    uv_close((uv_handle_t *)&e->poll, NULL);
    uv_close((uv_handle_t *)&e->wake, NULL);
    uv_close((uv_handle_t *)&e->sigterm, NULL);
    uv_close((uv_handle_t *)&e->sigint, NULL);
    if (e->metrics_open)
        uv_close((uv_handle_t *)&e->metrics, NULL);
}

/* Heartbeats of the runs in flight, when one is due; while stopping too, so the jobs still
 * running then are not rescued (and run again elsewhere) before they finish. */
static void heartbeat_due(struct ql_engine *e)
{
    int64_t now = ql__eng_now_ms(e);
    if (now - e->last_heartbeat_ms >= e->cfg->job_heartbeat_ms) {
        ql__eng_heartbeat(e);
        e->last_heartbeat_ms = now;
    }
}

static void on_tick(uv_timer_t *t)
{
    struct ql_engine *e = t->data;
    ql__eng_collect(e);
    if (e->stopping) {
        if (e->in_flight == 0) {
            close_all(e);
        } else if (ql__eng_now_ms(e) >= e->stop_deadline_ms) {
            release(e, 1);
            close_all(e);
        } else {
            /* a run past its deadline times out as while running: recorded as a failed
             * attempt, not handed back at the shutdown timeout as never attempted */
            ql__eng_check_deadlines(e);
            heartbeat_due(e);
            ql__eng_leader_duties(e); /* a leader keeps the lock until it exits */
        }
        ql_arena_reset(&e->arena);
        return;
    }
    ql__eng_check_deadlines(e);
    heartbeat_due(e);
    ql__eng_leader_duties(e);
    ql_arena_reset(&e->arena);
}

static void on_poll(uv_timer_t *t)
{
    ql__eng_claim_fresh(t->data);
}

static void on_wake(uv_async_t *a)
{
    struct ql_engine *e = a->data;
    if (atomic_load(&e->stop_requested))
        begin_stop(e);
    ql__eng_collect(e);
    if (atomic_exchange(&e->notified, 0))
        ql__eng_claim_fresh(e);
    else
        ql__eng_claim(e);
    if (e->stopping && e->in_flight == 0)
        on_tick(&e->tick);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    begin_stop(h->data);
}

void ql_engine_stop(struct ql_engine *e)
{
    atomic_store(&e->stop_requested, 1);
    uv_async_send(&e->wake);
}

int ql_engine_run(struct ql_engine *e)
{
    uv_signal_init(&e->loop, &e->sigterm);
    uv_signal_init(&e->loop, &e->sigint);
    e->sigterm.data = e->sigint.data = e;
    uv_signal_start(&e->sigterm, on_signal, SIGTERM);
    uv_signal_start(&e->sigint, on_signal, SIGINT);
    uv_timer_init(&e->loop, &e->tick);
    uv_timer_init(&e->loop, &e->poll);
    e->tick.data = e->poll.data = e;
    char addr[300] = "";
    if (ql__eng_metrics_open(e, addr, sizeof(addr)) != QL_OK) {
        ql_log(e->log, QL_LOG_ERROR, "QUILL_WORKER_LISTEN: cannot listen", NULL);
        return QL_EIO;
    }
    if (ql__eng_listen_start(e) != QL_OK)
        ql_log(e->log, QL_LOG_WARN, "quill-worker cannot subscribe to wake-ups; it polls", NULL);
    for (int i = 0; i < e->nrunners; i++)
        pthread_create(&e->runners[i].thread, NULL, ql__eng_runner_main, &e->runners[i]);
    pthread_create(&e->recorder, NULL, ql__eng_recorder_main, e);
    ql__eng_consumers_start(e);
    ql_log(e->log, QL_LOG_INFO, "quill-worker starting", "worker", e->worker_id, "metrics",
           addr[0] ? addr : NULL, NULL);
    uv_timer_start(&e->tick, on_tick, 0, TICK_MS);
    uv_timer_start(&e->poll, on_poll, 0, (uint64_t)e->cfg->job_poll_ms);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    ql__eng_consumers_stop(e); /* it finishes its transaction first */
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
    ql_log(e->log, QL_LOG_INFO, "quill-worker stopped", NULL);
    return QL_OK;
}

int ql_engine_create(const struct ql_engine_config *cfg, const struct ql_config *core,
                     const struct ql_engine_ports *ports, struct ql_engine **out)
{
    *out = NULL;
    struct ql_engine *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return QL_ENOMEM;
    e->cfg = cfg;
    e->core = core;
    e->log = ports->log;
    e->clock = ports->clock;
    e->auth = ports->auth;
    e->dbs = ports->db;
    e->notify = ports->notify;
    e->outbound = ports->outbound;
    e->mailer = ports->mailer;
    e->tracer = ports->tracer;
    /* The loop and its wake-up exist from here, so ql_engine_stop works before run too. */
    if (uv_loop_init(&e->loop) != 0) {
        free(e);
        return QL_ENOMEM;
    }
    uv_async_init(&e->loop, &e->wake, on_wake);
    e->wake.data = e;
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
    /* The main session claims: see QL_DB_INDEX_SCANS. */
    int rc = ql_db_open(e->dbs, QL_DB_BLOCKING, QL_DB_INDEX_SCANS, &e->db);
    if (rc == QL_OK)
        rc = ql_db_open(e->dbs, QL_DB_BLOCKING, 0, &e->rec_db);
    if (rc == QL_OK)
        rc = ql_db_open(e->dbs, QL_DB_BLOCKING, 0, &e->cons_db);
    e->nrunners = cfg->worker_concurrency > MAX_RUNNERS ? MAX_RUNNERS : cfg->worker_concurrency;
    for (int i = 0; rc == QL_OK && i < e->nrunners; i++) {
        e->runners[i].e = e;
        e->runners[i].index = i;
        rc = ql_db_open(e->dbs, QL_DB_BLOCKING, 0, &e->runners[i].db);
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
        ql_db_session_destroy(e->runners[i].db);
    ql_db_session_destroy(e->db);
    ql_db_session_destroy(e->rec_db);
    ql_db_session_destroy(e->cons_db);
    ql__eng_listen_stop(e);
    if (!uv_is_closing((uv_handle_t *)&e->wake))
        uv_close((uv_handle_t *)&e->wake, NULL); /* run never ran */
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_loop_close(&e->loop);
    ql_arena_cleanup(&e->arena);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    pthread_cond_destroy(&e->rec_cond);
    free(e);
}
