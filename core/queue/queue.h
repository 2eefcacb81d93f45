/*
 * queue.h - the queue port: background jobs and domain events.
 *
 * enqueue() runs inside the caller's open store transaction (the adapter shares
 * the store's database session), so a job exists if and only if the write that caused it
 * commits; outside a transaction each is a transaction of its own.  The rest of the port
 * is the engine's side (claiming, finishing, heartbeats, rescue, retention) and the
 * operator's (listing, stats, retry, cancel).
 *
 * Worker-side calls name their worker (worker_id) and the attempt they finish, so a worker
 * that lost a job (rescued after a crash or a timeout) can never finish it a second time.
 */
#ifndef QL_QUEUE_H
#define QL_QUEUE_H

#include <stdint.h>

struct ql_ctx;
struct ql_queue;
struct ql_job;

/* What to enqueue.  Strings are borrowed for the call.  Zero fields take defaults. */
struct ql_job_spec {
    const char *kind;         /* handler name, required */
    const char *queue;        /* NULL: "default" */
    const char *payload_json; /* NULL: "{}" */
    int priority;             /* lower runs first; default 0 */
    int64_t run_at_ms;        /* 0: now */
    int max_attempts;         /* 0: 25 */
    const char *unique_key;   /* NULL: none; while a job with this key exists it is returned */
    const char *traceparent; /* the W3C trace context it continues (ql_trace_context); NULL: none */
};

/* Filter and position of an operator listing; NULL fields mean "any". */
struct ql_job_filter {
    const char *state;
    const char *queue;
    const char *kind;
    int64_t before_id; /* 0: from the newest */
    int limit;
};

#define QL_QUEUE_STATES 6
struct ql_queue_stat {
    const char *queue;
    int64_t
        counts[QL_QUEUE_STATES]; /* available, running, failed, succeeded, discarded, cancelled */
    int64_t oldest_available_ms; /* 0: none available */
};

/* The state names in the order of ql_queue_stat.counts. */
extern const char *const ql_job_states[QL_QUEUE_STATES];

struct ql_queue_ops {
    /* Insert one job; *id_out gets its id (or the id of the job holding its unique key). */
    int (*enqueue)(struct ql_queue *self, struct ql_ctx *cx, const struct ql_job_spec *spec,
                   int64_t *id_out);
    /* Insert n jobs in one statement (unique keys allowed); ids may be NULL. */
    int (*enqueue_batch)(struct ql_queue *self, struct ql_ctx *cx, const struct ql_job_spec *specs,
                         int n, int64_t *ids);
    /*
     * Claim runnable jobs of the queues (NULL: all) for worker_id: up to now of any kind, for
     * runners that start them at once, and up to ahead more claimed ahead of the runners
     * (job.claimed_ahead set).  Each claim counts an attempt; a job claimed ahead is allowed
     * one more if its worker dies before finishing it (rescue).  So that a job that kills its
     * worker still spends its attempts, only a job that never failed nor was rescued (no
     * errors) is claimed ahead: after one such rescue it is claimed only for a runner.
     */
    int (*claim)(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id,
                 const char *const *queues, int now, int ahead, struct ql_job **out, int *n);
    /* Mark attempts succeeded (ids[i] at attempts[i]); stale ones are skipped. */
    int (*complete)(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id,
                    const int64_t *ids, const int *attempts, int n);
    /* Record a failed attempt: retry retry_in_ms from now on the clock that claims read (not
     * the caller's), or discard when discard is set. */
    int (*fail)(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id, int64_t id,
                int attempt, const char *error, int64_t retry_in_ms, int discard);
    int (*heartbeat)(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id,
                     const int64_t *ids, int n);
    /* Put running jobs back (shutdown): they count as not attempted. */
    int (*release)(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id,
                   const int64_t *ids, const int *attempts, int n);
    /* Return jobs whose heartbeat is older than stale_ms to the queue (or discard them); a
     * job claimed ahead is allowed one more attempt.  The age is measured on the clock that
     * stamps heartbeats, not the caller's. */
    int (*rescue)(struct ql_queue *self, struct ql_ctx *cx, int64_t stale_ms, int *n);
    /* Delete finished jobs older than before_ms; *n gets how many. */
    int (*purge)(struct ql_queue *self, struct ql_ctx *cx, int64_t before_ms, int *n);
    int (*progress)(struct ql_queue *self, struct ql_ctx *cx, const char *worker_id, int64_t id,
                    const char *json);
    /* Hold (or take) the leader lock on this session; *leader says whether we have it. */
    int (*lead)(struct ql_queue *self, struct ql_ctx *cx, int *leader);

    int (*list)(struct ql_queue *self, struct ql_ctx *cx, const struct ql_job_filter *f,
                struct ql_job **out, int *n, int *more);
    int (*stats)(struct ql_queue *self, struct ql_ctx *cx, struct ql_queue_stat **out, int *n);
    /* A failed or discarded job runs again now (with one more attempt allowed). */
    int (*retry)(struct ql_queue *self, struct ql_ctx *cx, int64_t id);
    /* An unfinished job is cancelled; QL_ECONFLICT when it already finished. */
    int (*cancel)(struct ql_queue *self, struct ql_ctx *cx, int64_t id);
};

struct ql_queue {
    const struct ql_queue_ops *ops;
};

static inline int ql_queue_enqueue(struct ql_queue *q, struct ql_ctx *cx,
                                   const struct ql_job_spec *spec, int64_t *id_out)
{
    return q->ops->enqueue(q, cx, spec, id_out);
}

static inline int ql_queue_enqueue_batch(struct ql_queue *q, struct ql_ctx *cx,
                                         const struct ql_job_spec *specs, int n, int64_t *ids)
{
    return q->ops->enqueue_batch(q, cx, specs, n, ids);
}

static inline int ql_queue_claim(struct ql_queue *q, struct ql_ctx *cx, const char *worker_id,
                                 const char *const *queues, int now, int ahead, struct ql_job **out,
                                 int *n)
{
    return q->ops->claim(q, cx, worker_id, queues, now, ahead, out, n);
}

static inline int ql_queue_complete(struct ql_queue *q, struct ql_ctx *cx, const char *worker_id,
                                    const int64_t *ids, const int *attempts, int n)
{
    return q->ops->complete(q, cx, worker_id, ids, attempts, n);
}

static inline int ql_queue_fail(struct ql_queue *q, struct ql_ctx *cx, const char *worker_id,
                                int64_t id, int attempt, const char *error, int64_t retry_in_ms,
                                int discard)
{
    return q->ops->fail(q, cx, worker_id, id, attempt, error, retry_in_ms, discard);
}

static inline int ql_queue_heartbeat(struct ql_queue *q, struct ql_ctx *cx, const char *worker_id,
                                     const int64_t *ids, int n)
{
    return q->ops->heartbeat(q, cx, worker_id, ids, n);
}

static inline int ql_queue_release(struct ql_queue *q, struct ql_ctx *cx, const char *worker_id,
                                   const int64_t *ids, const int *attempts, int n)
{
    return q->ops->release(q, cx, worker_id, ids, attempts, n);
}

static inline int ql_queue_rescue(struct ql_queue *q, struct ql_ctx *cx, int64_t stale_ms, int *n)
{
    return q->ops->rescue(q, cx, stale_ms, n);
}

static inline int ql_queue_purge(struct ql_queue *q, struct ql_ctx *cx, int64_t before_ms, int *n)
{
    return q->ops->purge(q, cx, before_ms, n);
}

static inline int ql_queue_progress(struct ql_queue *q, struct ql_ctx *cx, const char *worker_id,
                                    int64_t id, const char *json)
{
    return q->ops->progress(q, cx, worker_id, id, json);
}

static inline int ql_queue_lead(struct ql_queue *q, struct ql_ctx *cx, int *leader)
{
    return q->ops->lead(q, cx, leader);
}

static inline int ql_queue_list(struct ql_queue *q, struct ql_ctx *cx,
                                const struct ql_job_filter *f, struct ql_job **out, int *n,
                                int *more)
{
    return q->ops->list(q, cx, f, out, n, more);
}

static inline int ql_queue_stats(struct ql_queue *q, struct ql_ctx *cx, struct ql_queue_stat **out,
                                 int *n)
{
    return q->ops->stats(q, cx, out, n);
}

static inline int ql_queue_retry(struct ql_queue *q, struct ql_ctx *cx, int64_t id)
{
    return q->ops->retry(q, cx, id);
}

static inline int ql_queue_cancel(struct ql_queue *q, struct ql_ctx *cx, int64_t id)
{
    return q->ops->cancel(q, cx, id);
}

#endif
