/*
 * trace.h - spans: the tracing port, the span record, the W3C trace context and sampling.
 *
 * A span is one timed piece of work of a trace: a request (a server span), a database
 * transaction or statement and a webhook post (client spans), a job (a consumer span).  The
 * code that does the work fills a struct ql_trace_span on its stack and, at the end, hands
 * it to the tracer port, which copies it and exports it later, from a thread of its own
 * (adapters/otlp).  Handing over never waits: a tracer that cannot keep a span drops it and
 * counts it.  With no tracer (tracing not configured) or a trace that is not sampled, a
 * span is "off" and every call on it returns at once, so tracing costs nothing.
 *
 * The context's trace fields (struct ql_ctx: trace_id, span_id, parent_span_id,
 * trace_flags) are the W3C trace context of the current work: a request continues a valid
 * `traceparent` header or starts a trace, and a job continues the trace context stored with
 * it by whoever enqueued it.
 *
 * Ids are lower-case hex, NUL-terminated: trace ids 32 digits, span ids 16.  Span times are
 * the clock port's monotonic nanoseconds; the exporter turns them into Unix time.
 */
#ifndef QL_TRACE_H
#define QL_TRACE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx/ctx.h"

struct ql_buf;
struct ql_env;

/* Span kinds and status codes, numbered as OTLP numbers them. */
enum ql_span_kind {
    QL_SPAN_INTERNAL = 1,
    QL_SPAN_SERVER = 2,
    QL_SPAN_CLIENT = 3,
    QL_SPAN_PRODUCER = 4,
    QL_SPAN_CONSUMER = 5,
};
enum ql_span_status { QL_STATUS_UNSET = 0, QL_STATUS_OK = 1, QL_STATUS_ERROR = 2 };
enum ql_attr_type { QL_ATTR_STR = 1, QL_ATTR_INT = 2, QL_ATTR_BOOL = 3 };

#define QL_TRACE_SAMPLED 0x01 /* the W3C trace flag: the caller may have recorded */
#define QL_TRACEPARENT_LEN 55 /* "00-" 32 "-" 16 "-" 2 */
#define QL_SPAN_ATTRS 16
#define QL_SPAN_TEXT 640

struct ql_span_attr {
    const char *key; /* static storage (a string literal): the exporter reads it later */
    int64_t i;       /* QL_ATTR_INT, QL_ATTR_BOOL */
    uint16_t off;    /* QL_ATTR_STR: the value's bytes in text */
    uint16_t len;
    uint8_t type;
};

/*
 * One span.  Everything it says is inside it (strings are copied into text, keys are
 * static), so a tracer may copy it with memcpy and read it on another thread.  A string
 * that does not fit is cut short; an attribute that finds no room is counted in dropped.
 */
struct ql_trace_span {
    int on; /* 0: not recorded; every call on the span returns at once */
    uint8_t kind, status;
    uint16_t name_len; /* the name is text[0..name_len) */
    uint16_t msg_off, msg_len;
    uint16_t used; /* bytes of text in use */
    uint16_t dropped;
    int nattrs;
    char trace_id[33];
    char span_id[17];
    char parent_id[17]; /* "": a root span */
    int64_t start_ns, end_ns;
    struct ql_span_attr attrs[QL_SPAN_ATTRS];
    char text[QL_SPAN_TEXT];
};

/* ---- sampling --------------------------------------------------------------------------- */

enum ql_sampler_root { QL_SAMPLE_ALWAYS_ON, QL_SAMPLE_ALWAYS_OFF, QL_SAMPLE_RATIO };

/* OTEL_TRACES_SAMPLER and its argument, parsed. */
struct ql_sampler {
    int root;         /* what decides for a trace that starts here: enum ql_sampler_root */
    int parent_based; /* a trace continued from a caller follows the caller's sampled flag */
    double ratio;     /* QL_SAMPLE_RATIO: the share of traces kept, 0 to 1 */
    uint64_t bound;   /* ratio as a bound on 63 bits of the trace id */
};

/*
 * Parse name ("always_on", "always_off", "traceidratio", "parentbased_always_on",
 * "parentbased_always_off", "parentbased_traceidratio"; NULL: parentbased_always_on) and
 * arg (the ratio for the ratio samplers, 0 to 1; NULL: 1).  0, or QL_EVALIDATION with why
 * (cap bytes) naming the problem.
 */
int ql_sampler_parse(const char *name, const char *arg, struct ql_sampler *out, char *why,
                     size_t cap);

/*
 * Whether to record a trace: trace_id is its id, parent_flags the caller's W3C flags or -1
 * when the trace starts here.  The ratio samplers decide from the trace id alone (its last
 * 63 bits against the bound), so every process decides the same for one trace.
 */
int ql_sampler_decide(const struct ql_sampler *s, const char *trace_id, int parent_flags);

/* ---- the port ----------------------------------------------------------------------------- */

/* What a tracer did with the spans it was given, for /metrics. */
struct ql_trace_stats {
    uint64_t exported;         /* accepted by the collector */
    uint64_t dropped_full;     /* the queue was full: the collector is slow or down */
    uint64_t dropped_failed;   /* their export failed (no answer, or not 2xx) */
    uint64_t dropped_rejected; /* the collector answered but rejected them */
    uint64_t export_errors;    /* exports that failed */
    uint64_t queued;           /* waiting in the queue now */
    uint64_t capacity;         /* the queue's size */
};

struct ql_tracer;

struct ql_tracer_ops {
    /*
     * Take a finished span: copy it and export it later.  Never blocks and never fails
     * loudly: a span that cannot be kept is dropped and counted.  Safe from any thread.
     */
    void (*emit)(struct ql_tracer *self, const struct ql_trace_span *span);
    /* 64 random bits for ids: unique, not secret.  Safe from any thread. */
    uint64_t (*rand)(struct ql_tracer *self);
    /* The counters so far.  Safe from any thread. */
    void (*stats)(struct ql_tracer *self, struct ql_trace_stats *out);
    /* Count a span that was not made because the tracer sheds (below).  Any thread. */
    void (*shed)(struct ql_tracer *self);
};

struct ql_tracer {
    const struct ql_tracer_ops *ops;
    struct ql_sampler sampler; /* set by the adapter from its configuration */
    /*
     * Set by the adapter while it cannot keep spans (its queue is full: the collector is
     * slow or down), cleared when it can again.  Spans are then not even made, only
     * counted as dropped (ql_tracer_admit), so a collector that is down costs next to
     * nothing.  A hint, read without ordering.
     */
    atomic_int shedding;
};

/* Whether to make a span for t now: 1, or 0 once it is counted as dropped (t sheds). */
int ql_tracer_admit(struct ql_tracer *t);

/* nbytes random bytes as 2 * nbytes hex digits and a NUL into out; never all zeros. */
void ql_trace_new_id(struct ql_tracer *t, char *out, int nbytes);

/* ---- the W3C trace context ----------------------------------------------------------------- */

struct ql_traceparent {
    char trace_id[33];
    char span_id[17];
    uint8_t flags;
};

/*
 * Parse a `traceparent` value of n bytes: version 00 exactly as the W3C recommendation
 * writes it, or a later version (not ff) with at least those fields.  Ids must be lower-case
 * hex and not all zeros.  0, or QL_EVALIDATION.
 */
int ql_traceparent_parse(const char *s, size_t n, struct ql_traceparent *out);

/*
 * The trace context to hand on from cx ("00-<trace>-<span>-<flags>") into out (at least
 * QL_TRACEPARENT_LEN + 1 bytes): span_id is the parent the receiver should name (NULL:
 * cx's own span).  Returns 0, or -1 (out empty) when cx has no trace or no span.
 */
int ql_traceparent_format(const struct ql_ctx *cx, const char *span_id, char *out);

/*
 * The trace context a job enqueued by cx should carry: an arena copy of
 * ql_traceparent_format, or NULL when cx has none (or out of memory: a job without a trace
 * context is still a good job).
 */
const char *ql_trace_context(struct ql_ctx *cx);

/*
 * The trace context a change of the log written for src should carry, as an arena copy in
 * cx (src may be another context, of a request whose write a group commit makes): only while
 * tracing is on (src has a tracer), so the log's rows grow by nothing when it is off.  NULL
 * otherwise.
 */
const char *ql_trace_context_of(struct ql_ctx *cx, const struct ql_ctx *src);

/*
 * Set cx's trace for work that continues parent (NULL: starts a trace) and is recorded
 * by t (NULL: tracing off): its trace id, a new span id, the parent's span id and the
 * sampling decision, and cx->ports.tracer.  Without a tracer cx only passes the caller's
 * context on, as a W3C participant that records nothing does: its span is the caller's.
 */
void ql_trace_begin(struct ql_ctx *cx, struct ql_tracer *t, const struct ql_traceparent *parent);

/* 1 when cx's spans are recorded: a tracer, a trace, and sampled. */
static inline int ql_trace_on(const struct ql_ctx *cx)
{
    return cx->ports.tracer != NULL && (cx->trace_flags & QL_TRACE_SAMPLED) && cx->trace_id[0];
}

/* ---- spans --------------------------------------------------------------------------------- */

/*
 * Begin a span of cx's trace, a child of cx's own span, starting now.  Off (sp->on == 0)
 * when cx is not recorded.  End it with ql_span_end on the same context.
 */
void ql_span_begin(struct ql_ctx *cx, struct ql_trace_span *sp, int kind, const char *name);

/*
 * Begin a span with the ids given (parent_id NULL or "": a root), named by n bytes of name,
 * that started at start_ns: for work whose span is its context's own (a request, a job).
 */
void ql_span_init(struct ql_trace_span *sp, const char *trace_id, const char *span_id,
                  const char *parent_id, int kind, const char *name, size_t n, int64_t start_ns);

/* Attributes; key must have static storage.  Strings are copied (cut short when full). */
void ql_span_str(struct ql_trace_span *sp, const char *key, const char *v, size_t n);
void ql_span_cstr(struct ql_trace_span *sp, const char *key, const char *v); /* NULL: none */
void ql_span_int(struct ql_trace_span *sp, const char *key, int64_t v);
void ql_span_bool(struct ql_trace_span *sp, const char *key, int v);
/* url without its user information, query and fragment (they may hold secrets). */
void ql_span_url(struct ql_trace_span *sp, const char *key, const char *url);

/* Mark the span failed, with a short message (an error's name, never personal data). */
void ql_span_error(struct ql_trace_span *sp, const char *msg);

/* End the span now (cx's clock) and hand it to cx's tracer. */
void ql_span_end(struct ql_ctx *cx, struct ql_trace_span *sp);

/* Hand over a span whose end_ns is set to t (NULL, or sp off: nothing). */
void ql_span_emit(struct ql_tracer *t, const struct ql_trace_span *sp);

/* ---- configuration and metrics -------------------------------------------------------------- */

#define QL_TRACE_HEADERS 8
#define QL_TRACE_RESOURCE 16

/* The OTEL_* variables Quill reads (docs/configuration.md). */
struct ql_trace_config {
    int enabled;         /* an endpoint is set, and tracing is not turned off */
    char endpoint[1024]; /* the full URL spans are posted to (…/v1/traces) */
    char service[256];   /* OTEL_SERVICE_NAME */
    char version[64];    /* service.version: the build's (set by main) */
    int timeout_ms;      /* one export, at most (OTEL_EXPORTER_OTLP_TIMEOUT, _BSP_EXPORT_TIMEOUT) */
    int queue_size;      /* OTEL_BSP_MAX_QUEUE_SIZE */
    int batch_size;      /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE */
    int schedule_delay_ms; /* OTEL_BSP_SCHEDULE_DELAY */
    struct ql_sampler sampler;
    int nheaders; /* OTEL_EXPORTER_OTLP_HEADERS: "Name: value" lines */
    char headers[QL_TRACE_HEADERS][512];
    int nresource; /* OTEL_RESOURCE_ATTRIBUTES */
    char resource_key[QL_TRACE_RESOURCE][64];
    char resource_value[QL_TRACE_RESOURCE][256];
};

/*
 * Read the OTEL_* variables into c; service is the default of OTEL_SERVICE_NAME (the
 * binary's name).  Problems go to e, each naming its variable.
 */
void ql_trace_config_read(struct ql_env *e, const char *service, struct ql_trace_config *c);

/* The tracer's counters as Prometheus text (quill_trace_*) into b; nothing when t is NULL. */
void ql_trace_metrics(struct ql_tracer *t, struct ql_buf *b);

#endif
