/*
 * runs.c - the life of a run (one attempt of one job): claimed in a batch by the main
 * thread, taken by a runner thread, written by the recorder when it succeeded, collected by
 * the main thread, which records failures and frees it.  Deadlines and heartbeats too.
 */
#include "internal.h"

#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"
#include "db/db.h"
#include "queue/queue.h"
#include "trace/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- runners ---------------------------------------------------------------------------- */

/*
 * The job's trace: it continues the context stored with it (the request or change that
 * caused it), or starts one; with a tracer its attempt is a consumer span, a child of that
 * context, and the spans of its work are the span's children.
 */
static void job_trace(struct ql_engine *e, struct run *r, struct ql_ctx *cx)
{
    struct ql_traceparent tp;
    const char *s = r->job.traceparent;
    int has = s && ql_traceparent_parse(s, strlen(s), &tp) == QL_OK;
    if (!has && r->job.trace_id && strlen(r->job.trace_id) == 32)
        memcpy(cx->trace_id, r->job.trace_id, 33); /* logs still name the trace */
    ql_trace_begin(cx, e->tracer, has ? &tp : NULL);
}

static void span_begin(struct ql_ctx *cx, struct run *r, struct ql_trace_span *sp)
{
    sp->on = 0;
    if (!ql_trace_on(cx) || !ql_tracer_admit(cx->ports.tracer))
        return;
    char name[96];
    int n = snprintf(name, sizeof(name), "process %s", r->job.kind);
    ql_span_init(sp, cx->trace_id, cx->span_id, cx->parent_span_id, QL_SPAN_CONSUMER, name,
                 n < 0                       ? 0
                 : (size_t)n >= sizeof(name) ? sizeof(name) - 1
                                             : (size_t)n,
                 ql_clock_mono_ns(cx->ports.clock));
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)r->job.id);
    ql_span_cstr(sp, "messaging.system", "quill");
    ql_span_cstr(sp, "messaging.operation.type", "process");
    ql_span_cstr(sp, "messaging.destination.name", r->job.queue);
    ql_span_cstr(sp, "messaging.message.id", id);
    ql_span_cstr(sp, "quill.job.kind", r->job.kind);
    ql_span_int(sp, "quill.job.attempt", r->job.attempts);
}

static void run_one(struct runner *rn, struct run *r)
{
    struct ql_engine *e = rn->e;
    struct ql_ctx cx;
    memset(&cx, 0, sizeof(cx));
    cx.arena = &r->arena;
    cx.cfg = e->core;
    cx.ports.store = ql_db_store(rn->db);
    cx.ports.queue = ql_db_queue(rn->db);
    cx.ports.clock = e->clock;
    cx.ports.auth = e->auth;
    cx.ports.log = e->log;
    cx.ports.outbound = e->outbound;
    cx.ports.mailer = e->mailer;
    cx.deadline_ns = r->deadline_ns;
    cx.job = &r->job;
    cx.worker_id = e->worker_id;
    job_trace(e, r, &cx);
    snprintf(cx.request_id, sizeof(cx.request_id), "job-%lld", (long long)r->job.id);
    if (r->kind == NULL) {
        r->rc = QL_EINTERNAL;
        snprintf(r->error, sizeof(r->error), "no handler for kind %s on this worker", r->job.kind);
        return;
    }
    struct ql_trace_span sp;
    span_begin(&cx, r, &sp);
    r->rc = r->kind->fn(&cx, &r->job);
    ql_ctx_run_deferred(&cx);
    if (r->rc) {
        ql_span_cstr(&sp, "error.type", ql_err_name(r->rc));
        ql_span_error(&sp, ql_err_name(r->rc));
    }
    ql_span_end(&cx, &sp);
    r->retry_after_ms = r->rc ? cx.err.retry_after_ms : 0;
    if (r->rc)
        snprintf(r->error, sizeof(r->error), "%s: %s", ql_err_name(r->rc),
                 cx.err.msg[0] ? cx.err.msg : ql_strerror(r->rc));
}

void *ql__eng_runner_main(void *arg)
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
        r->started_ns = ql__eng_mono_ns(e);
        r->deadline_ns = r->started_ns + (int64_t)(r->kind ? r->kind->timeout_ms : 1000) * 1000000;
        pthread_mutex_unlock(&e->lock);
        run_one(rn, r);
        int64_t t = ql__eng_mono_ns(e);
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

void ql__eng_unlink_run(struct ql_engine *e, struct run *r)
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
    int64_t delay =
        r->retry_after_ms > 0
            ? r->retry_after_ms
            : ql_job_backoff_ms(r->job.attempts, e->cfg->job_backoff_base_ms, ql__eng_rand(e));
    int rc = ql_queue_fail(cx->ports.queue, cx, e->worker_id, r->job.id, r->job.attempts, why,
                           delay, discard);
    ql__eng_db_state(e, rc, cx);
    ql__eng_observe(e, r, discard ? "discarded" : "failed", end_ns);
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
void *ql__eng_recorder_main(void *arg)
{
    struct ql_engine *e = arg;
    struct ql_arena a;
    ql_arena_init(&a, 16384, 0);
    struct ql_ctx cx;
    memset(&cx, 0, sizeof(cx));
    cx.arena = &a;
    cx.cfg = e->core;
    cx.ports.queue = ql_db_queue(e->rec_db);
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
void ql__eng_collect(struct ql_engine *e)
{
    pthread_mutex_lock(&e->lock);
    struct run *done = e->recorded_head;
    e->recorded_head = NULL;
    pthread_mutex_unlock(&e->lock);
    if (done == NULL)
        return;
    struct ql_ctx cx;
    ql__eng_main_ctx(e, &cx);
    for (struct run *r = done, *next; r; r = next) {
        next = r->next_done;
        e->in_flight--;
        /* an abandoned run was recorded as timed out already */
        if (!r->abandoned && r->rc != QL_OK)
            record_failure(e, &cx, r, r->error, r->finished_ns);
        else if (!r->abandoned && !r->unrecorded)
            ql__eng_observe(e, r, "succeeded", r->finished_ns);
        ql__eng_unlink_run(e, r);
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
 *
 * Attempts: every claim counts one, in the claim statement, which costs nothing more; a
 * statement when a runner starts the job would cost a round trip a job.  The claim marks the
 * jobs it takes beyond the idle runners (nrunners - in_flight: every run in flight holds a
 * runner or waits in todo, so at least that many runners are idle) as claimed ahead, and
 * the rescuer allows a job so marked one more attempt when this worker dies before finishing
 * it: it may never have started.  A job rescued so is never claimed ahead again (see
 * ql_queue_ops.claim), so one that kills its worker still runs out of attempts.
 */
void ql__eng_claim(struct ql_engine *e)
{
    while (!e->stopping && !e->dry) {
        int ahead = e->avg_run_ms < PREFETCH_BELOW_MS && !e->dry_ahead ? e->cfg->job_batch : 0;
        int room = e->nrunners + ahead - e->in_flight;
        /* with every runner still fed, wait until half a batch fits */
        if (room <= 0 || (e->in_flight >= e->nrunners && room < ahead / 2))
            return;
        int max = room < e->cfg->job_batch ? room : e->cfg->job_batch;
        int now = e->nrunners - e->in_flight;
        now = now < 0 ? 0 : now > max ? max : now;
        struct ql_ctx cx;
        ql__eng_main_ctx(e, &cx);
        struct ql_job *jobs;
        int n = 0, n_now = 0;
        int rc = ql_queue_claim(cx.ports.queue, &cx, e->worker_id, e->queues[0] ? e->queues : NULL,
                                now, max - now, &jobs, &n);
        ql__eng_db_state(e, rc, &cx);
        for (int i = 0; rc == QL_OK && i < n; i++)
            n_now += !jobs[i].claimed_ahead;
        if (rc || n_now < now)
            e->dry = 1; /* nothing runnable left */
        else if (n < max)
            e->dry_ahead = 1; /* only jobs that may not be claimed ahead, or none */
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
            r->job.traceparent = copy(&r->arena, jobs[i].traceparent);
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
void ql__eng_claim_fresh(struct ql_engine *e)
{
    e->dry = e->dry_ahead = 0;
    ql__eng_claim(e);
}

/* ---- deadlines and heartbeats ---------------------------------------------------------- */

void ql__eng_check_deadlines(struct ql_engine *e)
{
    int64_t t = ql__eng_mono_ns(e);
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
    ql__eng_main_ctx(e, &cx);
    for (struct run *r = e->runs; r; r = r->next) {
        if (!r->expired)
            continue;
        r->expired = 0;
        char why[128];
        snprintf(why, sizeof(why), "timed out after %d ms", r->kind ? r->kind->timeout_ms : 1000);
        record_failure(e, &cx, r, why, t);
    }
}

void ql__eng_heartbeat(struct ql_engine *e)
{
    struct ql_ctx cx;
    ql__eng_main_ctx(e, &cx);
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
    ql__eng_db_state(e, rc, &cx);
}
