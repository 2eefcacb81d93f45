/*
 * queue.c - the queue port over PostgreSQL, on the same session as the store, so jobs
 * enqueued inside a use case's transaction commit or vanish with it.
 *
 * Claims take a batch of runnable jobs with FOR UPDATE SKIP LOCKED (workers never wait for
 * each other) and completions are written for a whole batch in one statement.  Every
 * worker-side update names the worker and the attempt, so a stale worker cannot finish a
 * job that was rescued or timed out.  Enqueues wake the workers of their queue with NOTIFY
 * quill_jobs right after the commit (ql__pg_wake); jobs due later are found by polling.
 */
#include "internal.h"
#include "pg.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "uuid/uuid.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static struct ql_pg *pg_of(struct ql_queue *q)
{
    return (struct ql_pg *)((char *)q - offsetof(struct ql_pg, queue));
}

/* ---- enqueue ---------------------------------------------------------------------------- */

/* Jobs due now wake their queue's workers once they commit. */
static void wake_for(struct ql_pg *pg, const struct ql_job_spec *s)
{
    if (s->run_at_ms == 0 || s->run_at_ms <= ql_clock_now_ms(pg->clock))
        ql__pg_wake(pg, s->queue ? s->queue : "default");
}

static int q_enqueue(struct ql_queue *self, struct ql_ctx *cx, const struct ql_job_spec *s,
                     int64_t *id_out)
{
    wake_for(pg_of(self), s);
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, s->queue ? s->queue : "default");
    ql__pg_p_text(&p, s->kind);
    ql__pg_p_text(&p, s->payload_json ? s->payload_json : "{}");
    ql__pg_p_int(&p, s->priority);
    ql__pg_p_ts_or_null(&p, s->run_at_ms);
    ql__pg_p_int(&p, s->max_attempts > 0 ? s->max_attempts : 25);
    ql__pg_p_text(&p, s->unique_key);
    ql__pg_p_text(&p, s->traceparent);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_JOB_INSERT, &p, &r);
    if (rc == QL_OK && id_out)
        *id_out = PQntuples(r) ? ql__pg_int8(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}

/* One INSERT ... SELECT FROM unnest(...) for n jobs. */
static int insert_many(struct ql_pg *pg, struct ql_ctx *cx, const struct ql_job_spec *specs, int n,
                       int64_t *ids)
{
    struct ql_buf cols[8];
    ql__pg_arr_begin(cx, cols, 8);
    for (int i = 0; i < n; i++) {
        const struct ql_job_spec *s = &specs[i];
        int first = i == 0;
        wake_for(pg, s);
        ql__pg_arr_str(&cols[0], s->queue ? s->queue : "default", first);
        ql__pg_arr_str(&cols[1], s->kind, first);
        ql__pg_arr_str(&cols[2], s->payload_json ? s->payload_json : "{}", first);
        ql__pg_arr_int(&cols[3], s->priority, first);
        ql__pg_arr_time(&cols[4], s->run_at_ms, first);
        ql__pg_arr_int(&cols[5], s->max_attempts > 0 ? s->max_attempts : 25, first);
        ql__pg_arr_str(&cols[6], s->unique_key, first);
        ql__pg_arr_str(&cols[7], s->traceparent, first);
    }
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, cols, 8, &p);
    if (rc)
        return rc;
    PGresult *r;
    rc = ql__pg_exec(pg, cx, QL__ST_JOB_INSERT_MANY, &p, &r);
    if (rc == QL_OK && r && ids)
        for (int i = 0; i < n; i++)
            ids[i] = i < PQntuples(r) ? ql__pg_int8(r, i, 0) : 0;
    PQclear(r);
    return rc;
}

static int q_enqueue_batch(struct ql_queue *self, struct ql_ctx *cx,
                           const struct ql_job_spec *specs, int n, int64_t *ids)
{
    if (n <= 0)
        return QL_OK;
    return insert_many(pg_of(self), cx, specs, n, ids);
}

/* ---- the engine's side -------------------------------------------------------------------- */

static int q_claim(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id,
                   const char *const *queues, int now, int ahead, struct ql_job **out, int *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, worker_id);
    if (queues) {
        struct ql_buf b;
        ql__pg_arr_begin(cx, &b, 1);
        for (int i = 0; queues[i]; i++)
            ql__pg_arr_str(&b, queues[i], i == 0);
        if (ql__pg_arr_params(cx, &b, 1, &p))
            return cx->err.code;
    } else {
        ql__pg_p_text(&p, NULL);
    }
    ql__pg_p_int(&p, now > 0 ? now : 0);
    ql__pg_p_int(&p, ahead > 0 ? ahead : 0);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_JOB_CLAIM, &p, &r);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    *n = 0;
    *out = ql_arena_calloc(cx->arena, (size_t)(rows ? rows : 1), sizeof(**out));
    if (*out == NULL)
        rc = ql_error_nomem(&cx->err);
    for (int i = 0; rc == QL_OK && i < rows; i++, (*n)++) {
        struct ql_job *j = &(*out)[i];
        j->id = ql__pg_int8(r, i, 0);
        j->queue = ql__pg_text(cx, r, i, 1);
        j->kind = ql__pg_text(cx, r, i, 2);
        j->payload = ql__pg_text(cx, r, i, 3);
        j->state = "running";
        j->priority = ql__pg_int4(r, i, 4);
        j->attempts = ql__pg_int4(r, i, 5);
        j->max_attempts = ql__pg_int4(r, i, 6);
        j->trace_id = ql__pg_text(cx, r, i, 7);
        j->created_ms = ql__pg_ts_ms(r, i, 8);
        j->run_at_ms = ql__pg_ts_ms(r, i, 9);
        j->locked_ms = ql__pg_ts_ms(r, i, 10);
        j->traceparent = ql__pg_text(cx, r, i, 11);
        j->claimed_ahead = ql__pg_bool(r, i, 12);
        if (!j->queue || !j->kind || !j->payload)
            rc = ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    PQclear(r);
    return rc;
}

/* ids and attempts as two array literals. */
static int id_arrays(struct ql_ctx *cx, const int64_t *ids, const int *attempts, int n,
                     struct ql__pg_params *p)
{
    struct ql_buf cols[2];
    int ncols = attempts ? 2 : 1;
    ql__pg_arr_begin(cx, cols, ncols);
    for (int i = 0; i < n; i++) {
        ql__pg_arr_int(&cols[0], ids[i], i == 0);
        if (attempts)
            ql__pg_arr_int(&cols[1], attempts[i], i == 0);
    }
    return ql__pg_arr_params(cx, cols, ncols, p);
}

static int q_complete(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id,
                      const int64_t *ids, const int *attempts, int n)
{
    if (n <= 0)
        return QL_OK;
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, worker_id);
    int rc = id_arrays(cx, ids, attempts, n, &p);
    return rc ? rc : ql__pg_run(pg_of(self), cx, QL__ST_JOB_COMPLETE, &p);
}

/* The retry's time on the database's clock, which claims compare run_at with. */
static int q_fail(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id, int64_t id,
                  int attempt, const char *error, int64_t retry_in_ms, int discard)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, worker_id);
    ql__pg_p_int(&p, id);
    ql__pg_p_int(&p, attempt);
    ql__pg_p_text(&p, error ? error : "failed");
    ql__pg_p_int(&p, discard ? 0 : retry_in_ms);
    ql__pg_p_text(&p, discard ? "true" : "false");
    return ql__pg_run(pg_of(self), cx, QL__ST_JOB_FAIL, &p);
}

static int q_heartbeat(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id,
                       const int64_t *ids, int n)
{
    if (n <= 0)
        return QL_OK;
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, worker_id);
    int rc = id_arrays(cx, ids, NULL, n, &p);
    return rc ? rc : ql__pg_run(pg_of(self), cx, QL__ST_JOB_HEARTBEAT, &p);
}

static int q_release(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id,
                     const int64_t *ids, const int *attempts, int n)
{
    if (n <= 0)
        return QL_OK;
    ql__pg_wake(pg_of(self), "*"); /* another worker may take them now */
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, worker_id);
    int rc = id_arrays(cx, ids, attempts, n, &p);
    return rc ? rc : ql__pg_run(pg_of(self), cx, QL__ST_JOB_RELEASE, &p);
}

static int affected(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                    const struct ql__pg_params *p, int *n)
{
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, st, p, &r);
    if (rc == QL_OK)
        *n = (int)ql__pg_affected(r);
    PQclear(r);
    return rc;
}

/* The heartbeat's age on the database's clock, which stamped it: a worker whose clock runs
 * ahead would otherwise take live jobs for lost. */
static int q_rescue(struct ql_queue *self, struct ql_ctx *cx, int64_t stale_ms, int *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_int(&p, stale_ms);
    return affected(pg_of(self), cx, QL__ST_JOB_RESCUE, &p, n);
}

static int q_purge(struct ql_queue *self, struct ql_ctx *cx, int64_t before_ms, int *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, before_ms);
    return affected(pg_of(self), cx, QL__ST_JOB_PURGE, &p, n);
}

static int q_progress(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id, int64_t id,
                      const char *json)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, worker_id);
    ql__pg_p_int(&p, id);
    ql__pg_p_text(&p, json);
    return ql__pg_run(pg_of(self), cx, QL__ST_JOB_PROGRESS, &p);
}

/* The leader lock is a session-level advisory lock: it goes when the session goes. */
static int q_lead(struct ql_queue *self, struct ql_ctx *cx, int *leader)
{
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_JOB_LEAD, NULL, &r);
    *leader = rc == QL_OK && ql__pg_bool(r, 0, 0);
    PQclear(r);
    return rc;
}

/* ---- operators ------------------------------------------------------------------------------- */

/* Columns of JOB_LIST / JOB_GET. */
static int read_job(struct ql_ctx *cx, const PGresult *r, int i, void *dst)
{
    struct ql_job *j = dst;
    memset(j, 0, sizeof(*j));
    j->id = ql__pg_int8(r, i, 0);
    j->queue = ql__pg_text(cx, r, i, 1);
    j->kind = ql__pg_text(cx, r, i, 2);
    j->payload = ql__pg_text(cx, r, i, 3);
    j->state = ql__pg_text(cx, r, i, 4);
    j->priority = ql__pg_int4(r, i, 5);
    j->attempts = ql__pg_int4(r, i, 6);
    j->max_attempts = ql__pg_int4(r, i, 7);
    j->unique_key = ql__pg_text(cx, r, i, 8);
    j->trace_id = ql__pg_text(cx, r, i, 9);
    j->errors = ql__pg_text(cx, r, i, 10);
    j->progress = ql__pg_text(cx, r, i, 11);
    j->locked_by = ql__pg_text(cx, r, i, 12);
    j->run_at_ms = ql__pg_ts_ms(r, i, 13);
    j->created_ms = ql__pg_ts_ms(r, i, 14);
    j->locked_ms = ql__pg_ts_ms_or_0(r, i, 15);
    j->finished_ms = ql__pg_ts_ms_or_0(r, i, 16);
    if (!j->queue || !j->kind || !j->payload || !j->state || !j->errors)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    return QL_OK;
}

/* A row of JOB_LIST: its job, or QL__PG_CUT where the page's bytes end (stmts.c). */
static int read_listed_job(struct ql_ctx *cx, const PGresult *r, int i, void *dst)
{
    return PQgetisnull(r, i, 10) ? QL__PG_CUT : read_job(cx, r, i, dst);
}

static int q_list(struct ql_queue *self, struct ql_ctx *cx, const struct ql_job_filter *f,
                  struct ql_job **out, int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, f->state);
    ql__pg_p_text(&p, f->queue);
    ql__pg_p_text(&p, f->kind);
    ql__pg_p_int(&p, f->before_id > 0 ? f->before_id : INT64_MAX);
    ql__pg_p_int(&p, f->limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_JOB_LIST, &p, f->limit, sizeof(**out),
                         read_listed_job, &rows, n, more);
    *out = rows;
    return rc;
}

static int q_get(struct ql_queue *self, struct ql_ctx *cx, int64_t id, struct ql_job *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_int(&p, id);
    return ql__pg_one(pg_of(self), cx, QL__ST_JOB_GET, &p, read_job, out);
}

static int q_stats(struct ql_queue *self, struct ql_ctx *cx, struct ql_queue_stat **out, int *n)
{
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_JOB_STATS, NULL, &r);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    *n = 0;
    *out = ql_arena_calloc(cx->arena, (size_t)(rows ? rows : 1), sizeof(**out));
    if (*out == NULL)
        rc = ql_error_nomem(&cx->err);
    for (int i = 0; rc == QL_OK && i < rows; i++) {
        const char *queue = PQgetvalue(r, i, 0);
        struct ql_queue_stat *st = *n ? &(*out)[*n - 1] : NULL;
        if (st == NULL || strcmp(st->queue, queue) != 0) {
            st = &(*out)[(*n)++];
            st->queue = ql__pg_text(cx, r, i, 0);
            if (st->queue == NULL)
                rc = ql_error_set(&cx->err, QL_ENOMEM, NULL);
        }
        const char *state = PQgetvalue(r, i, 1);
        for (int s = 0; s < QL_QUEUE_STATES; s++)
            if (strcmp(state, ql_job_states[s]) == 0)
                st->counts[s] = ql__pg_int8(r, i, 2);
        if (!PQgetisnull(r, i, 3))
            st->oldest_available_ms = ql__pg_ts_ms(r, i, 3);
    }
    PQclear(r);
    return rc;
}

/* An update of one job by id: QL_ENOT_FOUND when there is none, QL_ECONFLICT when its state
 * does not allow the change. */
static int by_id(struct ql_queue *self, struct ql_ctx *cx, enum ql__pg_stmt st, int64_t id)
{
    struct ql__pg_params p = {0};
    ql__pg_p_int(&p, id);
    int n = 0;
    int rc = affected(pg_of(self), cx, st, &p, &n);
    if (rc || n)
        return rc;
    struct ql_job j;
    rc = q_get(self, cx, id, &j);
    if (rc)
        return rc;
    return ql_error_set(&cx->err, QL_ECONFLICT, "Job %lld is %s.", (long long)id, j.state);
}

static int q_retry(struct ql_queue *self, struct ql_ctx *cx, int64_t id)
{
    ql__pg_wake(pg_of(self), "*");
    return by_id(self, cx, QL__ST_JOB_RETRY, id);
}

static int q_cancel(struct ql_queue *self, struct ql_ctx *cx, int64_t id)
{
    return by_id(self, cx, QL__ST_JOB_CANCEL, id);
}

static const struct ql_queue_ops ops = {
    .enqueue = q_enqueue,
    .enqueue_batch = q_enqueue_batch,
    .claim = q_claim,
    .complete = q_complete,
    .fail = q_fail,
    .heartbeat = q_heartbeat,
    .release = q_release,
    .rescue = q_rescue,
    .purge = q_purge,
    .progress = q_progress,
    .lead = q_lead,
    .list = q_list,
    .stats = q_stats,
    .retry = q_retry,
    .cancel = q_cancel,
};

void ql__pg_queue_init(struct ql_pg *pg)
{
    pg->queue.ops = &ops;
}
