/*
 * internal.h - shared by the files of the OTLP adapter only (and its unit test):
 *   ring.c      the bounded queue of spans: many threads put, the exporter takes
 *   encode.c    a batch of spans as an ExportTraceServiceRequest in OTLP's JSON mapping
 *   export.c    the tracer: the port's methods, the exporter's thread, the counters
 *   send.c      the sender over libcurl: one POST per batch
 */
#ifndef QL_OTLP_INTERNAL_H
#define QL_OTLP_INTERNAL_H

#include "otlp.h"

#include "trace/trace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct ql_buf;
struct ql_clock;
struct ql_logger;

/* ---- the queue (ring.c) ------------------------------------------------------------------- */

/*
 * A bounded multi-producer, single-consumer queue (Dmitry Vyukov's bounded queue): each
 * slot has a sequence number saying whose turn it is.  A producer claims a slot with one
 * compare-and-swap and fills it; a full queue refuses at once.  Nothing ever waits on a
 * lock, and a producer preempted while filling its slot holds up only the consumer.
 */
struct ql__slot {
    _Atomic uint64_t seq;
    struct ql_trace_span span;
};

struct ql__ring {
    struct ql__slot *slots;
    uint64_t cap;
    _Atomic uint64_t head; /* the next position to fill */
    _Atomic uint64_t tail; /* the next position to take (written by the consumer only) */
};

/* A queue of cap spans (owned memory); QL_ENOMEM. */
int ql__ring_init(struct ql__ring *r, uint64_t cap);
void ql__ring_cleanup(struct ql__ring *r);
/* Copy sp in; 0, or -1 when the queue is full.  Any thread. */
int ql__ring_put(struct ql__ring *r, const struct ql_trace_span *sp);
/* Take the oldest span into out; 1, or 0 when none is ready.  The consumer only. */
int ql__ring_take(struct ql__ring *r, struct ql_trace_span *out);
/* Spans in the queue now (a moment's view). */
uint64_t ql__ring_len(struct ql__ring *r);

/* ---- encoding (encode.c) ------------------------------------------------------------------ */

/*
 * The body of one export into out: cfg's resource (service.name, service.version,
 * telemetry.sdk.*, OTEL_RESOURCE_ATTRIBUTES), Quill's instrumentation scope and n spans,
 * their monotonic times moved to Unix time by offset_ns.  Check out with ql_buf_ok.
 */
void ql__otlp_encode(const struct ql_trace_config *cfg, const struct ql_trace_span *spans, int n,
                     int64_t offset_ns, struct ql_buf *out);

/* ---- sending (send.c) --------------------------------------------------------------------- */

/*
 * Posts one encoded batch (n bytes, NUL-terminated).  0 when the collector accepted it (2xx), with
 * *rejected set to the spans its partial-success answer says it refused; -1 with why (cap bytes)
 * otherwise. Called from the exporter's thread only.
 */
struct ql__otlp_sender {
    int (*post)(void *ud, const char *body, size_t n, int64_t *rejected, char *why, size_t cap);
    void (*destroy)(void *ud);
    void *ud;
};

/* The libcurl sender for cfg (endpoint, headers, timeout; borrowed): QL_ENOMEM. */
int ql__otlp_curl_sender(const struct ql_trace_config *cfg, struct ql__otlp_sender *out);

/* ---- the tracer (export.c) ---------------------------------------------------------------- */

struct ql_otlp {
    struct ql_tracer base; /* first: the port is the tracer */
    struct ql_trace_config cfg;
    struct ql_clock *clock;
    struct ql_logger *log;
    struct ql__otlp_sender sender;
    struct ql__ring ring;
    struct ql_trace_span *batch; /* the exporter's: cfg.batch_size spans */
    uint64_t seed;
    _Atomic uint64_t counter; /* ids: a Weyl sequence, mixed */
    /* the exporter's thread; lock and cond guard stop, flushes and the wake-up */
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* the exporter sleeps here (CLOCK_MONOTONIC) */
    pthread_cond_t done; /* flushers wait here */
    int stop;
    uint64_t flush_asked, flush_done;
    atomic_int kick;  /* a batch is ready: the exporter should not wait for its timer */
    int failing;      /* the exporter: exports failed this many times in a row */
    int64_t retry_ns; /* the exporter: no export before this (monotonic), while failing */
    _Atomic uint64_t exported, dropped_full, dropped_failed, dropped_rejected, export_errors;
};

/*
 * The tracer with a sender of the caller's (tests give a fake; ql_otlp_create gives the
 * libcurl one).  The tracer owns sender from here on, on failure too.
 */
int ql__otlp_create_with(const struct ql_trace_config *cfg, struct ql_clock *clock,
                         struct ql_logger *log, const struct ql__otlp_sender *sender,
                         struct ql_otlp **out);

/* Export everything queued now and wait until that is done (tests; shutdown). */
void ql__otlp_flush(struct ql_otlp *o);

#endif
