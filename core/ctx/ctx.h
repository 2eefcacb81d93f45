/*
 * ctx.h - the context of one request or job attempt.
 *
 * Use cases take a struct ql_ctx * first.  It carries the ports the call may use (the
 * store is the calling thread's own database session), the arena that holds everything
 * the call allocates, the deadline, the authenticated principal, the trace ids and the
 * error record.  A context is owned by whoever runs the request (the HTTP adapter or the
 * worker) and is never shared between threads while a call runs.
 */
#ifndef QL_CTX_H
#define QL_CTX_H

#include <stdint.h>

#include "err/err.h"

struct ql_arena;
struct ql_store;
struct ql_queue;
struct ql_clock;
struct ql_auth;
struct ql_logger;
struct ql_principal;
struct ql_config;
struct ql_tx_hooks;
struct ql_job;
struct ql_group;
struct ql_idp;
struct ql_outbound;
struct ql_mailer;
struct ql_tracer;

struct ql_ctx;

/*
 * The continuation of an asynchronous call: it runs exactly once, later (never inside the
 * call that started it), with the call's context and its result.  A call that returns an
 * error never runs its continuation.
 */
typedef void (*ql_done_fn)(struct ql_ctx *cx, int rc, void *arg);

/* A continuation waiting for its context's owner to run it (ql_ctx_defer). */
struct ql_deferred {
    struct ql_deferred *next;
    ql_done_fn fn;
    int rc;
    void *arg;
};

struct ql_ports {
    struct ql_store *store;
    struct ql_queue *queue;
    struct ql_clock *clock;
    struct ql_auth *auth;
    struct ql_logger *log;
    struct ql_group *group;       /* shared by the process's threads; NULL: no group commit */
    struct ql_idp *idp;           /* external identity provider; NULL: none */
    struct ql_outbound *outbound; /* HTTP to the outside (webhooks); NULL: none */
    struct ql_mailer *mailer;     /* SMTP (the mail.send job); NULL: mail stays in the outbox */
    struct ql_tracer *tracer;     /* spans (core/trace/trace.h); NULL: tracing off */
};

struct ql_ctx {
    struct ql_arena *arena;
    struct ql_ports ports;
    const struct ql_config *cfg; /* borrowed; the process configuration */
    int64_t deadline_ns;         /* monotonic; 0: none */
    const struct ql_principal *principal;
    struct ql_tx_hooks *tx;   /* borrowed; NULL: no hooks */
    const struct ql_job *job; /* the job this attempt runs (worker only) */
    const char *worker_id;    /* the worker running it (worker only) */
    char trace_id[33];        /* W3C trace id, 32 hex digits */
    char span_id[17];         /* this request's (or job's) span id, 16 hex digits */
    char parent_span_id[17];  /* the caller's span id; "": none (core/trace/trace.h) */
    uint8_t trace_flags;      /* W3C trace flags: QL_TRACE_SAMPLED, the spans are recorded */
    char request_id[40];
    struct ql_error err;
    struct ql_deferred *deferred; /* continuations to run once the current call returns */
};

/*
 * Queue fn(cx, rc, arg) to run when the owner of cx next calls ql_ctx_run_deferred: how a
 * port that answers at once still answers an asynchronous call later.  The record lives in
 * cx's arena.  QL_ENOMEM (and fn never runs) when it cannot be allocated.
 */
int ql_ctx_defer(struct ql_ctx *cx, ql_done_fn fn, int rc, void *arg);

/*
 * Run the queued continuations, oldest first, including any they queue themselves.
 * Returns how many ran.  Whoever runs calls on cx (a pool thread, a job runner, a test)
 * calls this after each call that may have deferred one.
 */
int ql_ctx_run_deferred(struct ql_ctx *cx);

/*
 * The blocking form of an asynchronous call f(..., done, arg) whose port answers at once:
 *
 *     int rc = QL_EWOULD_BLOCK;   (stays so only if the port answers later, which it must not)
 *     return ql_ctx_wait(cx, f(..., ql_ctx_wait_done, &rc), &rc);
 *
 * ql_ctx_wait returns started when the call failed to start, else runs the deferred
 * continuations and returns what done was given.
 */
void ql_ctx_wait_done(struct ql_ctx *cx, int rc, void *arg);
int ql_ctx_wait(struct ql_ctx *cx, int started, const int *rc);

#endif
