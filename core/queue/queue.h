/*
 * queue.h - the queue port: background jobs and domain events.
 *
 * enqueue() and emit() run inside the caller's open store transaction (the adapter shares
 * the store's database session), so a job exists if and only if the write that caused it
 * commits.  The claim/complete side of the port is used by quill-worker only.
 */
#ifndef QL_QUEUE_H
#define QL_QUEUE_H

#include <stdint.h>

struct ql_ctx;
struct ql_queue;

/* What to enqueue.  Strings are borrowed for the call.  Zero fields take defaults. */
struct ql_job_spec {
    const char *kind;         /* handler name, required */
    const char *queue;        /* NULL: "default" */
    const char *payload_json; /* NULL: "{}" */
    int priority;             /* lower runs first; default 0 */
    int64_t run_at_ms;        /* 0: now */
    int max_attempts;         /* 0: 25 */
    const char *unique_key;   /* NULL: none; a live job with the same key is returned instead */
};

struct ql_queue_ops {
    /* Insert one job in the caller's transaction; *id_out gets its id (or the live twin's). */
    int (*enqueue)(struct ql_queue *self, struct ql_ctx *cx, const struct ql_job_spec *spec,
                   int64_t *id_out);
    /* Fan an event out to one job per subscribed handler, in the caller's transaction. */
    int (*emit)(struct ql_queue *self, struct ql_ctx *cx, const char *event,
                const char *payload_json);
};

struct ql_queue {
    const struct ql_queue_ops *ops;
};

static inline int ql_queue_enqueue(struct ql_queue *q, struct ql_ctx *cx,
                                   const struct ql_job_spec *spec, int64_t *id_out)
{
    return q->ops->enqueue(q, cx, spec, id_out);
}

static inline int ql_queue_emit(struct ql_queue *q, struct ql_ctx *cx, const char *event,
                                const char *payload_json)
{
    return q->ops->emit(q, cx, event, payload_json);
}

#endif
