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

struct ql_ports {
    struct ql_store *store;
    struct ql_queue *queue;
    struct ql_clock *clock;
    struct ql_auth *auth;
    struct ql_logger *log;
    struct ql_group *group; /* shared by the process's threads; NULL: no group commit */
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
    char span_id[17];         /* this request's span id, 16 hex digits */
    char request_id[40];
    struct ql_error err;
};

#endif
